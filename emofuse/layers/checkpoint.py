"""Activation checkpointing of a module call (Chen et al. 2016, "Training deep nets with
sublinear memory cost"): keep only the call's inputs during the forward pass and recompute its
activations during the backward pass."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


@contextlib.contextmanager
def _recompute_as_forward(
    module: nn.Module, modes: Sequence[tuple[nn.Module, bool]]
) -> Iterator[None]:
    """Recompute with each batch norm in the mode it had in the forward pass (a one-sample
    batch may have run on running statistics, see
    :func:`emofuse.layers.batch_norm_running_stats`), and without updating its statistics."""
    current = [(norm, norm.training) for norm, _ in modes]
    for norm, training in modes:
        norm.train(training)
    try:
        with _keep_norm_statistics(module):
            yield
    finally:
        for norm, training in current:
            norm.train(training)


@contextlib.contextmanager
def _keep_norm_statistics(module: nn.Module) -> Iterator[None]:
    """Restore the running statistics of ``module``'s batch norms on exit: recomputing a
    segment must not update them a second time."""
    saved = [
        (buffer, buffer.clone())
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats
        for buffer in (m.running_mean, m.running_var, m.num_batches_tracked)
        if buffer is not None
    ]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def checkpoint_module(module: nn.Module, *args: Any, enabled: bool = True) -> Any:
    """``module(*args)``, through ``torch.utils.checkpoint.checkpoint(use_reentrant=False)`` when
    ``enabled`` and autograd is recording: the activations inside ``module`` are not kept but
    recomputed in the backward pass. Outputs and gradients are those of ``module(*args)``
    (dropout draws the same numbers again; batch norms recompute in the mode they ran in and
    update their running statistics once).

    Backbones call it per stage with ``enabled=self.gradient_checkpointing and self.training``.
    """
    if not (enabled and torch.is_grad_enabled()):
        return module(*args)
    modes = [
        (m, m.training) for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    return checkpoint(
        module,
        *args,
        use_reentrant=False,
        context_fn=lambda: (contextlib.nullcontext(), _recompute_as_forward(module, modes)),
    )


__all__ = ["checkpoint_module"]
