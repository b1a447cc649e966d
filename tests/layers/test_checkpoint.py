"""Activation checkpointing of a module call: same outputs, gradients and batch-norm statistics,
with the activations recomputed in the backward pass."""

from __future__ import annotations

import torch
from torch import nn

from emofuse.layers import batch_norm_running_stats, checkpoint_module


def _net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5)
    )


def _step(net: nn.Sequential, x: torch.Tensor, enabled: bool) -> tuple[torch.Tensor, list]:
    torch.manual_seed(1)  # the same dropout draws
    out = checkpoint_module(net, x, enabled=enabled)
    out.square().sum().backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()]


def test_checkpointed_call_equals_the_plain_call_and_recomputes() -> None:
    plain, checkpointed = _net(), _net()
    checkpointed.load_state_dict(plain.state_dict())
    calls = []
    checkpointed[0].register_forward_hook(lambda *_: calls.append(1))
    x = torch.randn(2, 3, 5, 5)
    want, want_grads = _step(plain, x, enabled=False)
    got, got_grads = _step(checkpointed, x, enabled=True)
    assert len(calls) == 2  # the forward pass and its recomputation in the backward pass
    torch.testing.assert_close(got, want)
    for g, w in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, w)
    # running statistics updated once, as without checkpointing
    for name, buffer in plain[1].named_buffers():
        torch.testing.assert_close(checkpointed[1].get_buffer(name), buffer)
    assert int(checkpointed[1].num_batches_tracked) == 1


def test_no_checkpoint_without_autograd_or_when_disabled() -> None:
    net, x = _net().eval(), torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        out = checkpoint_module(net, x)
    assert out.grad_fn is None
    torch.testing.assert_close(checkpoint_module(net, x, enabled=False), net(x))


def test_recomputation_keeps_the_batch_norm_mode_of_the_forward_pass() -> None:
    """A one-sample call runs on the running statistics (batch_norm_running_stats); the
    recomputation in the backward pass, after that block has ended, must do the same."""
    plain = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.ReLU())
    checkpointed = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.ReLU())
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 1, 1)
    grads = []
    for net, enabled in ((plain, False), (checkpointed, True)):
        with batch_norm_running_stats(net):
            out = checkpoint_module(net, x, enabled=enabled)
        out.square().sum().backward()  # the recomputation runs here, in training mode
        assert net[1].training
        grads.append([p.grad for p in net.parameters()])
    for g, w in zip(*grads, strict=True):
        torch.testing.assert_close(g, w)
    assert int(checkpointed[1].num_batches_tracked) == 0
