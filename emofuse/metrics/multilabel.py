"""Multi-label emotion metrics (Xia et al. 2022, Le et al. 2023, Takashima et al. 2022, and
Yang et al. 2023 on IEMOCAP): per-class binary accuracy, weighted accuracy and F1.

Inputs everywhere: ``probs`` (N, K) sigmoid probabilities, ``labels`` (N, K) multi-hot 0/1,
``thresholds`` a :class:`~emofuse.metrics.Thresholds` (one per class; decisions are
``probs > threshold``). Each figure is a function and a :class:`~emofuse.metrics.SampleMetric`
(``update(probs, labels, ids=None)`` per batch, ``compute()`` once, synchronised across
processes). Accuracy and F1 are torchmetrics' own; weighted accuracy and the two-class F1 of a
binary decision are what torchmetrics lacks.

Classes without a positive sample: binary accuracy is defined; binary F1 is 0 when nothing is
predicted either (scikit-learn's ``zero_division=0``); weighted accuracy keeps only the
true-negative rate (scikit-learn's ``balanced_accuracy_score``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics.functional.classification import (
    multiclass_f1_score,
    multilabel_f1_score,
    multilabel_stat_scores,
)
from torchmetrics.functional.classification import (
    multilabel_accuracy as _tm_multilabel_accuracy,
)

from emofuse.metrics.samples import SampleMetric
from emofuse.metrics.thresholds import Thresholds, balanced_rate, binarize, check_multilabel

LabelAverage = Literal["none", "macro"]
F1Average = Literal["none", "micro", "macro", "weighted"]
TwoClassAverage = Literal["weighted", "macro"]


def _decisions(probs: Tensor, labels: Tensor, thresholds: Thresholds) -> tuple[Tensor, Tensor]:
    p, y = check_multilabel(probs, labels)
    pred = binarize(p, thresholds)
    thresholds.check_not_tuned_on(probs, labels)
    return pred.long(), y.long()


def _check_average(average: str, allowed: tuple[str, ...]) -> None:
    if average not in allowed:
        raise ValueError(f"average: expected one of {allowed}, got {average!r}")


def multilabel_stat_counts(probs: Tensor, labels: Tensor, thresholds: Thresholds) -> Tensor:
    """(K, 5) counts per class: TP, FP, TN, FN, support (torchmetrics' stat scores)."""
    pred, y = _decisions(probs, labels, thresholds)
    return multilabel_stat_scores(pred, y, num_labels=pred.shape[1], average=None)


def multilabel_accuracy(
    probs: Tensor, labels: Tensor, thresholds: Thresholds, *, average: LabelAverage = "none"
) -> Tensor:
    """Binary accuracy of each class, Acc_k = (TP + TN) / (P + N) (Xia et al. 2022 eq. 10;
    the paper prints TP / (P + N), a typo for the accuracy Dai et al.'s code computes).

    Returns:
        (K,) per class, or the mean over classes (Avg. Acc, eq. 7) with ``average="macro"``.
    Raises:
        ValueError: bad shapes or values (see :func:`~emofuse.metrics.check_multilabel`),
            wrong thresholds, an unknown ``average``.
    """
    _check_average(average, ("none", "macro"))
    pred, y = _decisions(probs, labels, thresholds)
    avg: Literal["macro"] | None = None if average == "none" else "macro"
    return _tm_multilabel_accuracy(pred, y, num_labels=pred.shape[1], average=avg).double()


def multilabel_weighted_accuracy(
    probs: Tensor, labels: Tensor, thresholds: Thresholds, *, average: LabelAverage = "none"
) -> Tensor:
    """Binary weighted accuracy of each class, WA = (TP·N/P + TN) / (2N).

    The formula is Dai et al. 2021's (NAACL, "Multimodal End-to-End Sparse Model for Emotion
    Recognition", after Tong et al. 2017), used by Xia et al. 2022 (eq. 11) and Le et al. 2023
    (eq. 11, "WAcc"); P and N count the positive and negative samples of the class. It equals
    the balanced accuracy (TP/P + TN/N) / 2. For a class with no positive (P = 0) or no
    negative (N = 0) sample the undefined rate is left out, as scikit-learn's
    ``balanced_accuracy_score`` does: WA = TN/N or TP/P.

    Returns:
        (K,) per class, or the mean over classes (Avg. WA, Xia eq. 8) with ``average="macro"``.
    Raises:
        ValueError: as :func:`multilabel_accuracy`.
    """
    _check_average(average, ("none", "macro"))
    counts = multilabel_stat_counts(probs, labels, thresholds).double()
    tp, fp, tn, fn = counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3]
    wa = balanced_rate(tp, fp, tn, fn)
    return wa if average == "none" else wa.mean()


def multilabel_f1(
    probs: Tensor, labels: Tensor, thresholds: Thresholds, *, average: F1Average = "none"
) -> Tensor:
    """Binary F1 of the positive class, F1_k = 2TP / (2TP + FP + FN) (Xia eq. 12, Le eq. 10),
    with torchmetrics' averages over classes (equal to scikit-learn's multi-label ones).

    Args:
        average: ``"none"`` (K,) per class; ``"macro"`` their mean (Avg. F1, Xia eq. 9);
            ``"weighted"`` their mean weighted by each class's positives; ``"micro"`` F1 of
            the pooled counts.
    Raises:
        ValueError: as :func:`multilabel_accuracy`.
    """
    _check_average(average, ("none", "micro", "macro", "weighted"))
    pred, y = _decisions(probs, labels, thresholds)
    avg = None if average == "none" else average
    return multilabel_f1_score(
        pred, y, num_labels=pred.shape[1], average=avg, zero_division=0
    ).double()


def multilabel_two_class_f1(
    probs: Tensor, labels: Tensor, thresholds: Thresholds, *, average: TwoClassAverage
) -> Tensor:
    """F1 of each class's binary decision averaged over its two outcomes (absent, present).

    For class k this is scikit-learn's ``f1_score(labels[:, k], pred[:, k], average=average)``:
    the F1 of "present" and the F1 of "absent", averaged weighted by their support
    (``"weighted"``) or equally (``"macro"``; an outcome that occurs neither in the labels
    nor in the decisions is left out). It is the per-emotion "wF1"/"mF1" of Takashima et al.
    2022 (table 2) and the per-emotion F1 of MulT's IEMOCAP evaluation that Yang et al. 2023
    (table 4) follow.

    Returns:
        (K,) one value per class.
    Raises:
        ValueError: as :func:`multilabel_accuracy`.
    """
    _check_average(average, ("weighted", "macro"))
    pred, y = _decisions(probs, labels, thresholds)
    return torch.stack(
        [
            multiclass_f1_score(pred[:, k], y[:, k], num_classes=2, average=average).double()
            for k in range(pred.shape[1])
        ]
    )


class _MultilabelMetric(SampleMetric):
    """A multi-label function (``_function``, one of ``_averages``) over all batches."""

    higher_is_better = True
    _averages: tuple[str, ...]
    _function: Callable[..., Tensor]

    def __init__(self, thresholds: Thresholds, average: str, **kwargs: Any) -> None:
        _check_average(average, self._averages)
        super().__init__(**kwargs)
        if not isinstance(thresholds, Thresholds):
            binarize(torch.zeros(1, 1), thresholds)  # raises the explanatory ValueError
        self.thresholds = thresholds
        self.average = average

    def check(self, scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        probs, y = check_multilabel(scores, labels)
        binarize(probs[:0], self.thresholds)  # the number of thresholds matches K
        return probs, y.to(torch.uint8)

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return type(self)._function(scores, labels, self.thresholds, average=self.average)


class MultilabelAccuracy(_MultilabelMetric):
    """:func:`multilabel_accuracy` over all batches (and processes)."""

    _averages, _function = ("none", "macro"), staticmethod(multilabel_accuracy)

    def __init__(self, thresholds: Thresholds, *, average: LabelAverage = "none", **kw: Any):
        super().__init__(thresholds, average, **kw)


class MultilabelWeightedAccuracy(_MultilabelMetric):
    """:func:`multilabel_weighted_accuracy` over all batches (and processes)."""

    _averages, _function = ("none", "macro"), staticmethod(multilabel_weighted_accuracy)

    def __init__(self, thresholds: Thresholds, *, average: LabelAverage = "none", **kw: Any):
        super().__init__(thresholds, average, **kw)


class MultilabelF1(_MultilabelMetric):
    """:func:`multilabel_f1` over all batches (and processes)."""

    _averages = ("none", "micro", "macro", "weighted")
    _function = staticmethod(multilabel_f1)

    def __init__(self, thresholds: Thresholds, *, average: F1Average = "none", **kw: Any):
        super().__init__(thresholds, average, **kw)


class MultilabelTwoClassF1(_MultilabelMetric):
    """:func:`multilabel_two_class_f1` over all batches (and processes)."""

    _averages, _function = ("weighted", "macro"), staticmethod(multilabel_two_class_f1)

    def __init__(self, thresholds: Thresholds, *, average: TwoClassAverage, **kw: Any):
        super().__init__(thresholds, average, **kw)


__all__ = [
    "MultilabelAccuracy",
    "MultilabelF1",
    "MultilabelTwoClassF1",
    "MultilabelWeightedAccuracy",
    "multilabel_accuracy",
    "multilabel_f1",
    "multilabel_stat_counts",
    "multilabel_two_class_f1",
    "multilabel_weighted_accuracy",
]
