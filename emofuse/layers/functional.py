"""Masked reductions shared by the layers and blocks. Masks are boolean, True = valid."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from emofuse.layers.recording import is_recording, unpacking_steps


def masked_softmax(scores: Tensor, mask: Tensor | None, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` ignoring masked entries; an all-masked slice gives zeros, not NaN.

    ``mask`` broadcasts against ``scores``.
    """
    if mask is None:
        return scores.softmax(dim)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.where(mask, scores.softmax(dim), 0.0)


def zero_padding(x: Tensor, mask: Tensor | None) -> Tensor:
    """``x`` with its padded steps set to zero by selection, so that NaN or inf there reaches
    no sum, matmul or gradient (a product with a zero mask would keep NaN: ``0 · NaN = NaN``).

    Inputs:
        x: (B, T, ...); mask: (B, T) bool, True = valid, or None (returns ``x``).
    Returns:
        (B, T, ...), zeros at padded steps.
    """
    if mask is None:
        return x
    return torch.where(mask.reshape(*mask.shape, *([1] * (x.dim() - mask.dim()))), x, 0.0)


def masked_mean(x: Tensor, mask: Tensor | None, dim: int = 1) -> Tensor:
    """Mean of ``x`` over ``dim`` counting only valid steps; an all-padding row gives zeros.
    Padded steps never reach the result, even when they hold NaN or inf.

    Inputs:
        x: (B, T, ...); mask: (B, T) bool, True = valid (``dim`` must be 1 for a mask).
    """
    if mask is None:
        return x.mean(dim)
    total = zero_padding(x, mask).sum(dim)
    count = mask.sum(dim).clamp(min=1).to(x.dtype)
    return total / count.reshape(*count.shape, *([1] * (total.dim() - count.dim())))


def run_on_valid_steps(
    fn: Callable[..., Tensor],
    x: Tensor,
    mask: Tensor | None,
    *per_sample: Tensor,
    module: nn.Module | None = None,
    pack: bool | None = None,
) -> Tensor:
    """Apply ``fn`` to the valid steps of ``x`` only, all of them in one call.

    Frame CNNs use this so that padded frames cost nothing: the valid steps of every sample are
    packed into one batch, ``fn`` runs once, and the results are scattered back with zeros at
    the padded steps. Padded steps are never computed, so NaN or inf there reaches nothing.

    Packing gives ``fn`` a batch whose size depends on the mask's values, which
    ``torch.compile`` traces (as an unbacked size) but ``torch.export`` and ONNX cannot turn
    into a graph with dynamic shapes. The dense path (``pack=False``) runs ``fn`` on every
    step, the padded ones set to zero first, and selects the valid outputs with the mask: the
    same result as packing wherever ``fn`` treats each step on its own, which a module does in
    evaluation mode (in training mode BatchNorm's batch statistics would count the padded
    steps, so the dense path is refused there).

    A training call that packs a single step runs the BatchNorm layers of ``module`` on their
    running statistics and leaves those unchanged (see :func:`batch_norm_running_stats`):
    batch statistics cannot be estimated from one sample, and a 1×1 map would make BatchNorm
    raise. Any other batch, and every BatchNorm that keeps no running statistics, trains as
    usual. That choice depends on the mask's values, which a compiled graph cannot branch on:
    under ``torch.compile`` a training batch with fewer than two valid steps in all fails a
    runtime check instead (``RuntimeError``).

    Args:
        fn: maps (N, ...) to (N, ...out), e.g. a CNN over frames.
        x: (B, T, ...) steps.
        mask: (B, T) bool, True = valid; ``None`` runs on every step.
        per_sample: tensors (B, ...) repeated to each valid step of their sample and passed
            to ``fn`` after the packed steps (e.g. a clip's text vector for every frame).
        module: the module whose BatchNorm layers ``fn`` runs; default: ``fn`` itself when it
            is a module, the module of a bound method, or either inside a
            ``functools.partial``.
        pack: True packs the valid steps, False takes the dense path; ``None`` (the default)
            packs except while ``torch.export`` traces a module without training BatchNorm
            layers (``torch.compiler.is_exporting()``).
    Returns:
        (B, T, ...out), zeros at padded steps. Maps that ``fn``'s modules record
        (:func:`emofuse.layers.record_attentions`) get the same (B, T) step axes back.

    Raises:
        ValueError: ``pack=False`` while ``module`` has BatchNorm layers in training mode.
    """
    b, t = x.shape[:2]
    module = _module_of(fn) if module is None else module
    batch_statistics = len(_training_batch_norms(module)) > 0  # dynamo cannot trace bool(list)
    if pack is None:
        pack = mask is not None and (batch_statistics or not torch.compiler.is_exporting())
    elif not pack and batch_statistics and mask is not None:
        raise ValueError(
            f"pack: expected pack=True (or None) for a {type(module).__name__} in training "
            "mode; the dense path (pack=False) would count padded steps in the batch "
            "statistics of its BatchNorm layers (call .eval() first)"
        )
    if mask is None or not pack:
        # each sample's extras at each of its steps (repeat_interleave does not reach ONNX)
        extras = [e[:, None].expand(b, t, *e.shape[1:]).flatten(0, 1) for e in per_sample]

        def unflatten(steps: Tensor) -> Tensor:
            return zero_padding(steps.unflatten(0, (b, t)), mask)

        with batch_norm_running_stats(module, enabled=batch_statistics and b * t == 1):
            flat = zero_padding(x, mask).flatten(0, 1)
            if not is_recording():
                return unflatten(fn(flat, *extras))
            with unpacking_steps(unflatten):
                return unflatten(fn(flat, *extras))
    # Integer indices, found once: boolean indexing would search the mask again in the
    # scatter and in its backward, where torch.compile cannot trace a data-dependent shape.
    index = mask.flatten().nonzero().squeeze(1)
    sample = torch.div(index, t, rounding_mode="floor")

    def scatter(packed: Tensor) -> Tensor:
        full = packed.new_zeros(b * t, *packed.shape[1:]).index_copy(0, index, packed)
        return full.unflatten(0, (b, t))

    packed = x.flatten(0, 1).index_select(0, index)
    extras = [e.index_select(0, sample) for e in per_sample]
    single = False
    if batch_statistics and torch.compiler.is_compiling():
        # A graph cannot branch on the count of valid steps (nor can BatchNorm check it for
        # an empty batch): fewer than two fail a runtime check instead of the eager fallback.
        torch._check(index.shape[0] >= 2)
    elif batch_statistics:
        single = index.shape[0] == 1
    with batch_norm_running_stats(module, enabled=single):
        if not is_recording():
            return scatter(fn(packed, *extras))
        with unpacking_steps(scatter):
            return scatter(fn(packed, *extras))


@contextmanager
def batch_norm_running_stats(module: nn.Module | None, *, enabled: bool = True) -> Iterator[None]:
    """Within the block, the training BatchNorm layers of ``module`` normalise with their
    running statistics, as in evaluation, and do not update them; everything else in
    ``module`` (dropout, ...) stays in training mode and gradients flow as usual.

    For a training batch of one sample, whose batch statistics cannot be estimated (PyTorch
    raises when a channel has a single value, e.g. one frame with a 1×1 map). BatchNorm
    layers built with ``track_running_stats=False`` have no running statistics and are left
    as they are.

    Args:
        module: the module whose BatchNorm layers switch; None does nothing.
        enabled: False does nothing (for a condition known at the call).
    """
    norms = _training_batch_norms(module) if enabled else []
    for norm in norms:
        norm.train(False)
    try:
        yield
    finally:
        for norm in norms:
            norm.train(True)


def _training_batch_norms(module: nn.Module | None) -> list[nn.Module]:
    """The BatchNorm layers of ``module`` that normalise with batch statistics (training mode,
    with running statistics to fall back on)."""
    if module is None or not module.training:
        return []
    return [
        m
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats
    ]


def _module_of(fn: Callable[..., Any]) -> nn.Module | None:
    """The module behind ``fn``: itself, a bound method's owner, or either inside a partial."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    # inspect.ismethod, not getattr(fn, "__self__"): torch.compile traces the former to the
    # method's module and the latter to a stand-in, which would hide its BatchNorm layers
    owner = fn.__self__ if inspect.ismethod(fn) else fn
    return owner if isinstance(owner, nn.Module) else None


__all__ = [
    "batch_norm_running_stats",
    "masked_mean",
    "masked_softmax",
    "run_on_valid_steps",
    "zero_padding",
]
