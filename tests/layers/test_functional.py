from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from emofuse.layers import batch_norm_running_stats, record, record_attentions, run_on_valid_steps


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


def _frame_cnn() -> nn.Sequential:
    """Frames (N, 3, 4, 4) → (N, 4): a 1×1 map reaches the last BatchNorm."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.BatchNorm2d(4),
        nn.Flatten(),
    )


def _norm_state(module: nn.Module) -> list[torch.Tensor]:
    return [b.clone() for b in module.buffers()]


def test_one_packed_frame_in_training_uses_the_running_statistics() -> None:
    """BatchNorm cannot estimate batch statistics from one frame (PyTorch raises on a 1×1 map):
    that call normalises with the running statistics, leaves them unchanged and keeps every
    module in training mode; gradients flow."""
    cnn = _frame_cnn()
    with torch.no_grad():  # running statistics that differ from a fresh BatchNorm's
        cnn(torch.randn(8, 3, 4, 4))
    x = torch.randn(2, 3, 3, 4, 4, requires_grad=True)
    mask = torch.tensor([[False, True, False], [False, False, False]])
    before = _norm_state(cnn)
    out = run_on_valid_steps(cnn, x, mask)
    assert all(m.training for m in cnn.modules())
    for got, want in zip(_norm_state(cnn), before, strict=True):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(out[0, 1], cnn.eval()(x[0, 1:2].detach())[0])
    cnn.train()
    out.square().sum().backward()
    assert x.grad[0, 1].abs().sum() > 0 and all(p.grad.isfinite().all() for p in cnn.parameters())


def test_one_frame_without_a_mask_and_through_a_bound_method_or_partial() -> None:
    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cnn = _frame_cnn()

        def embed(self, frames: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
            return self.cnn(frames) * scale

    wrapper = Wrapper()
    x = torch.randn(1, 1, 3, 4, 4)
    for fn in (wrapper.cnn, wrapper.embed, functools.partial(wrapper.embed, scale=2.0)):
        assert run_on_valid_steps(fn, x, None).isfinite().all()
    closure = lambda frames: wrapper.cnn(frames)  # noqa: E731  (a closure names no module)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        run_on_valid_steps(closure, x, None)
    assert run_on_valid_steps(closure, x, None, module=wrapper).isfinite().all()


def test_two_packed_frames_train_on_batch_statistics() -> None:
    cnn = _frame_cnn()
    before = _norm_state(cnn)
    x = torch.randn(2, 2, 3, 4, 4)
    run_on_valid_steps(cnn, x, torch.tensor([[True, False], [True, False]]))
    assert not torch.equal(_norm_state(cnn)[0], before[0])  # running mean updated


def test_batch_norm_running_stats_leaves_norms_without_statistics_alone() -> None:
    net = nn.Sequential(nn.BatchNorm1d(3), nn.BatchNorm1d(3, track_running_stats=False))
    with batch_norm_running_stats(net):
        assert not net[0].training and net[1].training and net.training
    assert net[0].training
    with batch_norm_running_stats(net, enabled=False):
        assert net[0].training
    with batch_norm_running_stats(net.eval()):
        assert not net[0].training
    assert not net[0].training  # an evaluating module stays in evaluation
