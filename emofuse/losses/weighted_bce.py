"""Positive-class weights for the weighted binary cross-entropy of Le et al. 2023 (eqs. 8–9).

The loss itself is ``torch.nn.BCEWithLogitsLoss(pos_weight=...)``, which computes eq. 8 exactly
(averaged over the batch and the classes); this module only derives the weights
``w_i = n_i / p_i``, negatives over positives of class ``i`` in the training split.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor


def bce_pos_weight(
    labels: Tensor | None = None,
    *,
    positives: Tensor | Sequence[float] | None = None,
    total: int | None = None,
    label_names: Sequence[str] | None = None,
) -> Tensor:
    """``pos_weight`` for ``BCEWithLogitsLoss``: negatives / positives per class (eq. 9).

    Give either the multi-hot training labels, or the per-class positive counts with the
    number of samples. A class with no positive sample has no defined ratio: it gets weight 1
    (plain BCE for that class) and a ``UserWarning`` naming it. A class that is positive in
    every sample gets weight 0, as the formula says.

    Args:
        labels: (N, C) multi-hot labels (any dtype, 0/1).
        positives: (C,) positive counts per class; total: N, the number of samples.
        label_names: class names used in the warning.
    Returns:
        (C,) float32 weights.

    >>> bce_pos_weight(torch.tensor([[1, 0], [0, 0], [1, 1], [0, 0]]))
    tensor([1., 3.])
    """
    if (labels is None) == (positives is None):
        raise ValueError("labels: give either labels (N, C) or positives (C,) with total")
    if labels is not None:
        if labels.dim() != 2:
            raise ValueError(f"labels: expected (N, C) multi-hot labels, got {tuple(labels.shape)}")
        if ((labels != 0) & (labels != 1)).any():
            # class indices or soft targets would give counts that are not eq. 9's
            raise ValueError(
                f"labels: expected (N, C) multi-hot 0/1 labels, got values "
                f"{labels.unique().tolist()[:8]}"
            )
        pos = labels.to(torch.float64).sum(0)
        total = labels.shape[0]
    else:
        if total is None:
            raise ValueError("total: the number of samples is needed with positives")
        pos = torch.as_tensor(positives, dtype=torch.float64)
        if pos.dim() != 1 or (pos < 0).any() or (pos > total).any():
            raise ValueError(
                f"positives: expected (C,) counts between 0 and total={total}, got {pos.tolist()}"
            )
    empty = pos == 0
    if empty.any():
        names = [
            label_names[i] if label_names is not None else str(i)
            for i in empty.nonzero().flatten().tolist()
        ]
        warnings.warn(
            f"bce_pos_weight: classes {names} have no positive sample; their weight is set to 1",
            stacklevel=2,
        )
    weight = torch.where(empty, 1.0, (total - pos) / pos.clamp(min=1))
    return weight.to(torch.float32)


__all__ = ["bce_pos_weight"]
