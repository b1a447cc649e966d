from __future__ import annotations

import torch

from emofuse.layers import run_on_valid_steps


def test_runs_once_on_valid_steps_only_and_zeros_padding() -> None:
    calls: list[int] = []

    def fn(frames: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        calls.append(frames.shape[0])
        return frames.sum(dim=(1, 2))[:, None] + text

    x = torch.randn(3, 4, 2, 5)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    text = torch.tensor([[10.0], [20.0], [30.0]])
    out = run_on_valid_steps(fn, x, mask, text)
    assert calls == [6] and out.shape == (3, 4, 1)
    torch.testing.assert_close(out[1, 1, 0], x[1, 1].sum() + 20.0)
    assert (out[1, 2:] == 0).all() and (out[2] == 0).all()
    full = run_on_valid_steps(fn, x, None, text)
    assert calls[-1] == 12
    torch.testing.assert_close(full[mask], out[mask])


def test_gradients_flow_to_valid_steps_only() -> None:
    x = torch.randn(2, 3, 4, requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    run_on_valid_steps(lambda f: f * 2, x, mask).sum().backward()
    assert (x.grad[~mask] == 0).all() and (x.grad[mask] == 2).all()


def test_run_on_valid_steps_scatters_each_tensor_of_a_tuple() -> None:
    x = torch.randn(2, 3, 4)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    feats, maps = run_on_valid_steps(lambda f: (f.sum(-1), f * 3), x, mask)
    assert feats.shape == (2, 3) and maps.shape == (2, 3, 4)
    torch.testing.assert_close(maps[mask], 3 * x[mask])
    assert (feats[~mask] == 0).all() and (maps[~mask] == 0).all()
    full_feats, _ = run_on_valid_steps(lambda f: (f.sum(-1), f), x, None)
    torch.testing.assert_close(full_feats, x.sum(-1))
