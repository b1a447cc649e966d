from __future__ import annotations

import pytest
import torch
from torch import nn

from emofuse.layers import record, record_attentions, run_on_valid_steps


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


class _Scorer(nn.Module):
    """Records a per-step map, as a frame CNN's attention would."""

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        record(self, f * 3)
        return f.sum(-1)


@pytest.mark.parametrize("masked", [True, False])
def test_maps_recorded_inside_get_the_step_axes_back(masked: bool) -> None:
    x = torch.randn(2, 3, 4)
    mask = torch.tensor([[True, True, False], [True, False, False]]) if masked else None
    scorer = _Scorer()
    with record_attentions(scorer) as maps:
        feats = run_on_valid_steps(scorer, x, mask)
    valid = mask if masked else torch.ones(2, 3, dtype=torch.bool)
    assert feats.shape == (2, 3) and maps["_Scorer"].shape == (2, 3, 4)
    torch.testing.assert_close(maps["_Scorer"][valid], 3 * x[valid])
    assert (maps["_Scorer"][~valid] == 0).all() and (feats[~valid] == 0).all()
    assert run_on_valid_steps(scorer, x, mask).shape == (2, 3)  # nothing records outside
