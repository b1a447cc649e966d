"""Batch augmentations of a recipe: SpecAugment masks on audio features and mixup.

Both draw from the global torch random state (seeded by the run, saved in its checkpoints), so
a resumed run draws what the uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from einops import rearrange
from torch import Tensor
from torchaudio.functional import mask_along_axis_iid


def spec_augment(
    features: Tensor,
    *,
    time_masks: int,
    time_mask_width: int,
    freq_masks: int,
    freq_mask_width: int,
) -> Tensor:
    """SpecAugment's time and frequency masks (Park et al. 2019, sec. 2) on a batch of
    feature sequences, each mask set to 0, drawn per sample (torchaudio's
    ``mask_along_axis_iid``: width uniform in [0, max width), start uniform).

    Inputs:
        features: (B, T, F) float, e.g. log-mel frames.
    Returns:
        (B, T, F), a new tensor.
    Raises:
        ValueError: ``features`` not (B, T, F) float.
    """
    if features.dim() != 3 or not features.is_floating_point():
        raise ValueError(
            f"audio: SpecAugment takes (B, T, F) float features, got {tuple(features.shape)} "
            f"{features.dtype}; set time_masks=0 and freq_masks=0 for this model's audio layout"
        )
    x = rearrange(features, "b t f -> b 1 f t")
    for _ in range(freq_masks):
        x = mask_along_axis_iid(x, freq_mask_width, 0.0, axis=2)
    for _ in range(time_masks):
        x = mask_along_axis_iid(x, time_mask_width, 0.0, axis=3)
    return rearrange(x, "b 1 f t -> b t f")


def mixup(
    inputs: Mapping[str, Any], targets: Tensor, alpha: float
) -> tuple[dict[str, Any], Tensor]:
    """Mixup (Zhang et al. 2018): each sample mixed with another of the batch,
    ``λ x_i + (1 − λ) x_j`` and ``λ y_i + (1 − λ) y_j``, one λ ~ Beta(α, α) per batch.

    Masks select: a step valid in both samples is mixed, one valid in one of them keeps that
    sample's value, the new mask is their union; padded values are never read.

    Args:
        inputs: keyword inputs: float modalities (B, T, ...) with optional ``<m>_mask`` (B, T).
        targets: (B, K) float targets (one-hot or multi-hot) or (B,) regression values.
        alpha: the Beta distribution's parameter (> 0).
    Returns:
        (mixed inputs, mixed targets).
    Raises:
        ValueError: a token-id (integer) input, which cannot be mixed.
    """
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    first = next(v for v in inputs.values() if isinstance(v, Tensor))
    perm = torch.randperm(first.shape[0]).to(first.device)
    out: dict[str, Any] = dict(inputs)
    for name, x in inputs.items():
        if name.endswith("_mask") or not isinstance(x, Tensor):
            continue
        if not x.is_floating_point():
            raise ValueError(
                f"{name}: mixup mixes float inputs; {name!r} holds {x.dtype} token ids "
                "(set mixup_alpha=0 for this model)"
            )
        mask = inputs.get(f"{name}_mask")
        mixed = lam * x + (1 - lam) * x[perm]
        if isinstance(mask, Tensor):
            m_i, m_j = mask, mask[perm]
            shape = (*mask.shape, *([1] * (x.dim() - mask.dim())))
            both, only_i = (m_i & m_j).view(shape), (m_i & ~m_j).view(shape)
            mixed = torch.where(both, mixed, torch.where(only_i, x, x[perm]))
            out[f"{name}_mask"] = m_i | m_j
        out[name] = mixed
    return out, lam * targets + (1 - lam) * targets[perm]


__all__ = ["mixup", "spec_augment"]
