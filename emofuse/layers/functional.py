"""Masked reductions shared by the layers and blocks. Masks are boolean, True = valid."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from emofuse.layers.recording import is_recording, unpacking_steps


def masked_softmax(scores: Tensor, mask: Tensor | None, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` ignoring masked entries; an all-masked slice gives zeros, not NaN.

    ``mask`` broadcasts against ``scores``.
    """
    if mask is None:
        return scores.softmax(dim)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return scores.softmax(dim) * mask


def masked_mean(x: Tensor, mask: Tensor | None, dim: int = 1) -> Tensor:
    """Mean of ``x`` over ``dim`` counting only valid steps; an all-padding row gives zeros.

    Inputs:
        x: (B, T, ...); mask: (B, T) bool, True = valid (``dim`` must be 1 for a mask).
    """
    if mask is None:
        return x.mean(dim)
    weights = mask.to(x.dtype).reshape(*mask.shape, *([1] * (x.dim() - mask.dim())))
    total = (x * weights).sum(dim)
    count = weights.sum(dim).clamp(min=1.0)
    return total / count


def run_on_valid_steps(
    fn: Callable[..., Tensor], x: Tensor, mask: Tensor | None, *per_sample: Tensor
) -> Tensor:
    """Apply ``fn`` to the valid steps of ``x`` only, all of them in one call.

    Frame CNNs use this so that padded frames cost nothing: the valid steps of every sample are
    packed into one batch, ``fn`` runs once, and the results are scattered back with zeros at
    the padded steps.

    Args:
        fn: maps (N, ...) to (N, ...out), e.g. a CNN over frames.
        x: (B, T, ...) steps.
        mask: (B, T) bool, True = valid; ``None`` runs on every step.
        per_sample: tensors (B, ...) repeated to each valid step of their sample and passed
            to ``fn`` after the packed steps (e.g. a clip's text vector for every frame).
    Returns:
        (B, T, ...out), zeros at padded steps. Maps that ``fn``'s modules record
        (:func:`emofuse.layers.record_attentions`) get the same (B, T) step axes back.
    """
    b, t = x.shape[:2]
    if mask is None:
        extras = [e.repeat_interleave(t, dim=0) for e in per_sample]
        if not is_recording():
            return fn(x.flatten(0, 1), *extras).unflatten(0, (b, t))
        with unpacking_steps(lambda packed: packed.unflatten(0, (b, t))):
            return fn(x.flatten(0, 1), *extras).unflatten(0, (b, t))
    # Integer indices, found once: boolean indexing would search the mask again in the
    # scatter and in its backward, where torch.compile cannot trace a data-dependent shape.
    index = mask.flatten().nonzero().squeeze(1)
    sample = torch.div(index, t, rounding_mode="floor")

    def scatter(packed: Tensor) -> Tensor:
        full = packed.new_zeros(b * t, *packed.shape[1:]).index_copy(0, index, packed)
        return full.unflatten(0, (b, t))

    packed = x.flatten(0, 1).index_select(0, index)
    extras = [e.index_select(0, sample) for e in per_sample]
    if not is_recording():
        return scatter(fn(packed, *extras))
    with unpacking_steps(scatter):
        return scatter(fn(packed, *extras))


__all__ = ["masked_mean", "masked_softmax", "run_on_valid_steps"]
