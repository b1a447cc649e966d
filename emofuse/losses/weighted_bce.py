"""Multi-label binary cross-entropy with positive-class weights (Le et al. 2023, eqs. 8–9;
Takashima et al. 2022, eqs. 17–19 without weights).

:func:`bce_pos_weight` derives the weights ``w_i = n_i / p_i``, negatives over positives of class
``i`` in the training split. ``torch.nn.BCEWithLogitsLoss(pos_weight=...)`` computes eq. 8 with
them exactly (averaged over the batch and the classes); :func:`multilabel_bce` is the same loss
as a function that also takes an empty batch (zero loss, zero gradient) where torch's mean gives
NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def _name_list(label_names: Sequence[str] | None, num_classes: int) -> list[str] | None:
    if label_names is None:
        return None
    if isinstance(label_names, str) or not all(isinstance(n, str) for n in label_names):
        raise ValueError(
            f"label_names: expected a sequence of {num_classes} class names, got {label_names!r}"
        )
    if len(label_names) != num_classes:
        raise ValueError(
            f"label_names: expected one name per class ({num_classes}), got {len(label_names)}: "
            f"{list(label_names)}"
        )
    return list(label_names)


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
    (plain BCE for that class) and a ``UserWarning`` naming it; so every class of an all-zero
    label matrix, or of an empty one (N = 0), gets weight 1. A class that is positive in every
    sample gets weight 0, as the formula says.

    Args:
        labels: (N, C) multi-hot labels (any dtype, 0/1).
        positives: (C,) positive counts per class; total: N, the number of samples.
        label_names: the C class names, used in the warning.
    Returns:
        (C,) float32 weights, on the device of ``labels`` / ``positives``. On the ``meta`` device
        values cannot be read, so they are neither checked nor warned about.
    Raises:
        ValueError: when neither or both of ``labels`` and ``positives`` are given, ``labels`` is
            not (N, C) of 0/1, ``positives`` is not (C,) counts in [0, total], ``total`` is
            missing or negative, or ``label_names`` does not hold one name per class.

    >>> bce_pos_weight(torch.tensor([[1, 0], [0, 0], [1, 1], [0, 0]]))
    tensor([1., 3.])
    """
    if (labels is None) == (positives is None):
        raise ValueError("labels: give either labels (N, C) or positives (C,) with total")
    if labels is not None:
        if labels.dim() != 2:
            raise ValueError(f"labels: expected (N, C) multi-hot labels, got {tuple(labels.shape)}")
        on_meta = labels.device.type == "meta"
        if not on_meta and ((labels != 0) & (labels != 1)).any():
            # class indices or soft targets would give counts that are not eq. 9's
            raise ValueError(
                f"labels: expected (N, C) multi-hot 0/1 labels, got values "
                f"{labels.unique().tolist()[:8]}"
            )
        pos = labels.to(torch.float64).sum(0)
        total = labels.shape[0]
    else:
        if total is None or isinstance(total, bool) or int(total) != total or total < 0:
            raise ValueError(f"total: expected the number of samples (int >= 0), got {total!r}")
        pos = torch.as_tensor(positives, dtype=torch.float64)
        on_meta = pos.device.type == "meta"
        if pos.dim() != 1 or (not on_meta and ((pos < 0).any() or (pos > total).any())):
            raise ValueError(
                f"positives: expected (C,) counts between 0 and total={total}, got "
                f"{pos.tolist() if not on_meta else tuple(pos.shape)}"
            )
    names = _name_list(label_names, pos.shape[0])
    empty = pos == 0
    if not on_meta and empty.any():
        missing = [
            names[i] if names is not None else str(i) for i in empty.nonzero().flatten().tolist()
        ]
        warnings.warn(
            f"bce_pos_weight: classes {missing} have no positive sample; their weight is set to 1",
            stacklevel=2,
        )
    weight = torch.where(empty, 1.0, (total - pos) / pos.clamp(min=1))
    return weight.to(torch.float32)


def multilabel_bce(logits: Tensor, targets: Tensor, pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy over K emotions from logits, averaged over batch and classes.

    Without ``pos_weight`` this is Takashima et al.'s eqs. 17–19 (their sum up to a constant
    factor); with ``pos_weight = bce_pos_weight(train_labels)`` it is Le et al.'s weighted eq. 8.
    Equal to ``F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)``
    on a non-empty batch.

    Args:
        logits: (B, K) pre-sigmoid scores.
        targets: (B, K) in {0, 1} (or soft labels in [0, 1]).
        pos_weight: (K,) weight of each class's positive term, or ``None`` for 1.
    Returns:
        a scalar; 0 with a zero, finite gradient for an empty batch (B = 0).
    Raises:
        ValueError: when ``targets`` does not have the shape of ``logits`` or ``pos_weight``
            is not (K,).
    """
    if targets.shape != logits.shape:
        raise ValueError(
            f"targets: expected the shape of logits {tuple(logits.shape)} (B, K), "
            f"got {tuple(targets.shape)}"
        )
    if pos_weight is not None and pos_weight.shape != logits.shape[-1:]:
        raise ValueError(
            f"pos_weight: expected ({logits.shape[-1]},), one weight per class, "
            f"got {tuple(pos_weight.shape)}"
        )
    # sum / count rather than "mean": the mean of no element is NaN, this is 0
    loss = F.binary_cross_entropy_with_logits(
        logits, targets.to(logits.dtype), pos_weight=pos_weight, reduction="sum"
    )
    return loss / max(logits.numel(), 1)


__all__ = ["bce_pos_weight", "multilabel_bce"]
