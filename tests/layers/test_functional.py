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


def _dense_and_packed(module: nn.Module, x: torch.Tensor, mask: torch.Tensor, text: torch.Tensor):
    """Outputs, recorded maps and input gradients of both paths, padded steps poisoned."""
    results = []
    for pack in (True, False):
        frames = torch.where(mask[..., None, None, None], x, float("nan")).requires_grad_()
        with record_attentions(module) as maps:
            out = run_on_valid_steps(
                lambda f, t: module(f) + t, frames, mask, text, module=module, pack=pack
            )
        (grad,) = torch.autograd.grad(out.square().sum(), [frames])
        results.append(
            (out.detach(), dict(maps), torch.where(mask[..., None, None, None], grad, 0))
        )
    return results


class _RecordingCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cnn = _frame_cnn()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        out = self.cnn(frames)
        record(self, out.softmax(-1))
        return out


def test_dense_path_equals_the_packed_path_in_evaluation_mode() -> None:
    """pack=False (what torch.export traces) runs every frame and selects with the mask: the
    same outputs, recorded maps and gradients as packing, NaN in padded frames reaching none."""
    module = _RecordingCNN()
    with torch.no_grad():
        module.cnn(torch.randn(8, 3, 4, 4))  # running statistics of their own
    module.eval()
    x = torch.randn(3, 4, 3, 4, 4)
    mask = torch.tensor([[1, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0]], dtype=torch.bool)
    text = torch.randn(3, 1)
    (packed, packed_maps, packed_grad), (dense, dense_maps, dense_grad) = _dense_and_packed(
        module, x, mask, text
    )
    assert dense.isfinite().all() and dense_grad.isfinite().all()
    assert (dense[~mask] == 0).all()
    torch.testing.assert_close(dense, packed)
    torch.testing.assert_close(dense_grad, packed_grad)
    assert dense_maps.keys() == packed_maps.keys() == {"_RecordingCNN"}
    torch.testing.assert_close(dense_maps["_RecordingCNN"], packed_maps["_RecordingCNN"])


def test_dense_path_refuses_batch_norm_in_training() -> None:
    x, mask = torch.randn(2, 3, 3, 4, 4), torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    with pytest.raises(ValueError, match=r"pack: expected pack=True .* Sequential in training"):
        run_on_valid_steps(_frame_cnn(), x, mask, pack=False)
    # without BatchNorm, or without padding, nothing would differ
    run_on_valid_steps(nn.Flatten(), x, mask, pack=False)
    run_on_valid_steps(_frame_cnn(), x, None, pack=False)


def test_compiled_training_refuses_fewer_than_two_packed_frames() -> None:
    """A compiled graph cannot take the eager fallback for one frame (running statistics):
    it fails a runtime check instead; two frames or more train as in eager."""
    cnn = _frame_cnn()
    torch._dynamo.reset()
    step = torch.compile(
        lambda x, mask: run_on_valid_steps(cnn, x, mask), fullgraph=True, backend="aot_eager"
    )
    x = torch.randn(2, 3, 3, 4, 4)
    two = torch.tensor([[True, False, False], [False, True, False]])
    torch.testing.assert_close(step(x, two), run_on_valid_steps(cnn, x, two))
    with pytest.raises(RuntimeError):
        step(x, torch.tensor([[True, False, False], [False, False, False]]))


def test_compiled_training_finds_the_batch_norms_of_a_bound_method() -> None:
    """A bound method as ``fn`` (TimmFrameEncoder.encode_frames) names its module under
    torch.compile as in eager: the packed BatchNorm path and its checks apply, and the compiled
    outputs equal eager. (With getattr(fn, "__self__") dynamo saw a stand-in, found no
    BatchNorm, and colearning's compiled training step drifted from eager by up to 0.3.)"""

    class Frames(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cnn = _frame_cnn()

        def encode(self, frames: torch.Tensor) -> torch.Tensor:
            return self.cnn(frames)

    module = Frames()
    torch._dynamo.reset()
    step = torch.compile(
        lambda x, mask: run_on_valid_steps(module.encode, x, mask),
        fullgraph=True,
        backend="eager",
    )
    x = torch.randn(2, 4, 3, 4, 4)
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    torch.testing.assert_close(step(x, mask), run_on_valid_steps(module.encode, x, mask))
    with pytest.raises(RuntimeError):  # the compiled check for fewer than two frames
        step(x, torch.tensor([[True, False, False, False], [False, False, False, False]]))
