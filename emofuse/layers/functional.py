"""Masked reductions shared by the layers and blocks. Masks are boolean, True = valid."""

from __future__ import annotations

import torch
from torch import Tensor


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


__all__ = ["masked_mean", "masked_softmax"]
