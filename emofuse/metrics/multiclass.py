"""Single-label (multiclass) emotion metrics (Mocanu et al. 2023 on RAVDESS and CREMA-D;
IEMOCAP 4/6-class): accuracy (WA), unweighted accuracy (UA), per-class accuracy, F1 and the
confusion matrix.

Inputs: ``scores`` (N, C) logits or probabilities (the decision is the arg-max) and ``labels``
(N,) class indices in [0, C). Accuracy, F1 and the confusion matrix are torchmetrics'; UA and
per-class accuracy are read off its confusion matrix so that a class with no sample is handled
as scikit-learn does (left out of UA, NaN per class) rather than counted as 0.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics.functional.classification import (
    multiclass_accuracy as _tm_multiclass_accuracy,
)
from torchmetrics.functional.classification import (
    multiclass_confusion_matrix,
    multiclass_f1_score,
)

from emofuse.metrics.samples import SampleMetric


def check_multiclass(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Validate (N, C) float scores and (N,) integer labels in [0, C).

    Raises:
        ValueError: naming the argument, the expected layout and what came in.
    """
    if not isinstance(scores, Tensor) or scores.dim() != 2 or not scores.is_floating_point():
        got = f"{scores.dtype} {tuple(scores.shape)}" if isinstance(scores, Tensor) else scores
        raise ValueError(f"scores: expected (N, C) float logits or probabilities, got {got}")
    n, c = scores.shape
    if (
        not isinstance(labels, Tensor)
        or labels.shape != (n,)
        or labels.is_floating_point()
        or labels.dtype == torch.bool
    ):
        got = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, Tensor) else labels
        raise ValueError(f"labels: expected ({n},) integer class indices, got {got}")
    if n and ((labels < 0).any() or (labels >= c).any()):
        raise ValueError(
            f"labels: expected class indices in [0, {c}), got values in "
            f"[{labels.min().item()}, {labels.max().item()}]"
        )
    if not torch.isfinite(scores).all():
        raise ValueError("scores: expected finite values, got NaN or inf")
    return scores, labels.long()


def confusion_matrix(scores: Tensor, labels: Tensor) -> Tensor:
    """(C, C) counts, rows = true class, columns = predicted class (torchmetrics)."""
    scores, labels = check_multiclass(scores, labels)
    return multiclass_confusion_matrix(scores, labels, num_classes=scores.shape[1])


def multiclass_accuracy(scores: Tensor, labels: Tensor) -> Tensor:
    """Accuracy over all samples (often called WA in speech emotion recognition)."""
    scores, labels = check_multiclass(scores, labels)
    return _tm_multiclass_accuracy(
        scores, labels, num_classes=scores.shape[1], average="micro"
    ).double()


def per_class_accuracy(scores: Tensor, labels: Tensor) -> Tensor:
    """(C,) accuracy of each class = its recall, TP_c / N_c; NaN for a class with no sample
    (scikit-learn's ``recall_score(average=None, zero_division=nan)``). These are the
    per-emotion columns of Mocanu et al. 2023, tables 1–2."""
    cm = confusion_matrix(scores, labels).double()
    support = cm.sum(1)
    return torch.where(support > 0, cm.diagonal() / torch.where(support > 0, support, 1), torch.nan)


def unweighted_accuracy(scores: Tensor, labels: Tensor) -> Tensor:
    """UA: the mean of the per-class accuracies over the classes that have samples (balanced
    accuracy, scikit-learn's ``balanced_accuracy_score``)."""
    per_class = per_class_accuracy(scores, labels)
    return per_class[~per_class.isnan()].mean()


def multiclass_f1(
    scores: Tensor, labels: Tensor, *, average: Literal["macro", "weighted", "none"] = "macro"
) -> Tensor:
    """F1 of each class, or their macro or support-weighted average (torchmetrics).

    ``"macro"`` averages over the classes that occur in the labels or the predictions, as
    scikit-learn's ``f1_score`` does by default; a class predicted but never true (or the
    reverse) counts with F1 = 0.

    Raises:
        ValueError: an unknown ``average``, or scores and labels of the wrong layout.
    """
    if average not in ("macro", "weighted", "none"):
        raise ValueError(f"average: expected 'macro', 'weighted' or 'none', got {average!r}")
    scores, labels = check_multiclass(scores, labels)
    avg = None if average == "none" else average
    return multiclass_f1_score(
        scores, labels, num_classes=scores.shape[1], average=avg, zero_division=0
    ).double()


class _MulticlassMetric(SampleMetric):
    def check(self, scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return check_multiclass(scores, labels)


class MulticlassAccuracy(_MulticlassMetric):
    """:func:`multiclass_accuracy` over all batches (and processes)."""

    higher_is_better = True

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return multiclass_accuracy(scores, labels)


class UnweightedAccuracy(_MulticlassMetric):
    """:func:`unweighted_accuracy` over all batches (and processes)."""

    higher_is_better = True

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return unweighted_accuracy(scores, labels)


class PerClassAccuracy(_MulticlassMetric):
    """:func:`per_class_accuracy` over all batches (and processes)."""

    higher_is_better = True

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return per_class_accuracy(scores, labels)


class MulticlassF1(_MulticlassMetric):
    """:func:`multiclass_f1` over all batches (and processes).

    Raises:
        ValueError: an unknown ``average``.
    """

    higher_is_better = True

    def __init__(
        self, *, average: Literal["macro", "weighted", "none"] = "macro", **kwargs: Any
    ) -> None:
        if average not in ("macro", "weighted", "none"):
            raise ValueError(f"average: expected 'macro', 'weighted' or 'none', got {average!r}")
        super().__init__(**kwargs)
        self.average = average

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return multiclass_f1(scores, labels, average=self.average)


class ConfusionMatrix(_MulticlassMetric):
    """:func:`confusion_matrix` over all batches (and processes)."""

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return confusion_matrix(scores, labels)


__all__ = [
    "ConfusionMatrix",
    "MulticlassAccuracy",
    "MulticlassF1",
    "PerClassAccuracy",
    "UnweightedAccuracy",
    "check_multiclass",
    "confusion_matrix",
    "multiclass_accuracy",
    "multiclass_f1",
    "per_class_accuracy",
    "unweighted_accuracy",
]
