"""Sentiment-regression metrics of CMU-MOSI / CMU-MOSEI (Yang et al. 2023, tables 2–3), as
Tsai et al. 2019 (MulT) and MMSA compute them.

Inputs: ``preds`` (N,) or (N, 1) predicted sentiment, ``target`` (N,) or (N, 1) annotated
sentiment in [-3, 3].

Acc-2 has two definitions in the literature, and papers that mix them are not comparable:

- ``zero_labels="exclude"`` (MulT, MMSA's "Non0_acc_2"): samples labelled exactly 0 are left
  out; positive = ``> 0`` for both labels and predictions (a prediction of 0 is negative).
- ``zero_labels="non_negative"`` (MMSA's "Has0_acc_2"): every sample; the classes are
  negative (``< 0``) and non-negative (``>= 0``).

The F1 of each is scikit-learn's support-weighted F1 of the two classes
(``f1_score(..., average="weighted")``), as MulT and MMSA report it. Acc-5 and Acc-7 clip both
predictions and labels to [-2, 2] and [-3, 3] and compare them rounded to the nearest integer
(half to even, as ``numpy.round``). MAE and Pearson's r are torchmetrics'; the concordance
correlation coefficient is Lin's (1989), with population moments.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics.functional import mean_absolute_error as _tm_mae
from torchmetrics.functional import pearson_corrcoef
from torchmetrics.functional.classification import multiclass_f1_score

from emofuse.metrics.samples import SampleMetric

ZeroLabels = Literal["exclude", "non_negative"]


def check_sentiment(preds: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Validate and flatten (N,) or (N, 1) float predictions and targets to (N,) float64.

    Raises:
        ValueError: naming the argument, the expected layout and what came in.
    """
    out = []
    for name, t in (("preds", preds), ("target", target)):
        if (
            not isinstance(t, Tensor)
            or not t.is_floating_point()
            or not (t.dim() == 1 or (t.dim() == 2 and t.shape[1] == 1))
        ):
            got = f"{t.dtype} {tuple(t.shape)}" if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name}: expected (N,) or (N, 1) float sentiment scores, got {got}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name}: expected finite values, got NaN or inf")
        out.append(t.reshape(-1).to(torch.float64))
    if out[0].shape != out[1].shape:
        raise ValueError(
            f"target: expected {out[0].shape[0]} values (one per prediction), got {out[1].shape[0]}"
        )
    return out[0], out[1]


def _binary(preds: Tensor, target: Tensor, zero_labels: ZeroLabels) -> tuple[Tensor, Tensor]:
    if zero_labels == "exclude":
        keep = target != 0
        return preds[keep] > 0, target[keep] > 0
    if zero_labels == "non_negative":
        return preds >= 0, target >= 0
    raise ValueError(f"zero_labels: expected 'exclude' or 'non_negative', got {zero_labels!r}")


def sentiment_acc2(preds: Tensor, target: Tensor, *, zero_labels: ZeroLabels) -> Tensor:
    """Binary sentiment accuracy Acc-2 (see the module docstring for the two definitions);
    NaN when ``zero_labels="exclude"`` leaves no sample."""
    p, t = check_sentiment(preds, target)
    pb, tb = _binary(p, t, zero_labels)
    if tb.numel() == 0:
        return torch.tensor(torch.nan, dtype=torch.float64)
    return (pb == tb).double().mean()


def sentiment_f1(preds: Tensor, target: Tensor, *, zero_labels: ZeroLabels) -> Tensor:
    """Support-weighted F1 of the two Acc-2 classes (MulT's and MMSA's F1); NaN when
    ``zero_labels="exclude"`` leaves no sample."""
    p, t = check_sentiment(preds, target)
    pb, tb = _binary(p, t, zero_labels)
    if tb.numel() == 0:
        return torch.tensor(torch.nan, dtype=torch.float64)
    return multiclass_f1_score(pb.long(), tb.long(), num_classes=2, average="weighted").double()


def _rounded_accuracy(preds: Tensor, target: Tensor, bound: float) -> Tensor:
    p, t = check_sentiment(preds, target)
    p, t = p.clamp(-bound, bound), t.clamp(-bound, bound)
    return (torch.round(p) == torch.round(t)).double().mean()


def sentiment_acc5(preds: Tensor, target: Tensor) -> Tensor:
    """Acc-5: both clipped to [-2, 2], rounded to integers (half to even), then compared."""
    return _rounded_accuracy(preds, target, 2.0)


def sentiment_acc7(preds: Tensor, target: Tensor) -> Tensor:
    """Acc-7: both clipped to [-3, 3], rounded to integers (half to even), then compared."""
    return _rounded_accuracy(preds, target, 3.0)


def mean_absolute_error(preds: Tensor, target: Tensor) -> Tensor:
    """MAE = mean |pred − target| (torchmetrics)."""
    p, t = check_sentiment(preds, target)
    return _tm_mae(p, t).double()


def pearson_r(preds: Tensor, target: Tensor) -> Tensor:
    """Pearson's correlation coefficient ("Corr" in Yang et al. 2023; torchmetrics)."""
    p, t = check_sentiment(preds, target)
    return pearson_corrcoef(p, t).double()


def concordance_cc(preds: Tensor, target: Tensor) -> Tensor:
    """Lin's concordance correlation coefficient (Lin 1989, Biometrics 45:255, eq. 2a):

    CCC = 2·s_xy / (s_x² + s_y² + (x̄ − ȳ)²), with population (1/N) variances and covariance.

    torchmetrics' ``concordance_corrcoef`` uses 1/(N − 1) moments beside the squared mean
    difference, which is not Lin's estimator and differs by O(1/N). NaN when both inputs are
    constant and equal.
    """
    p, t = check_sentiment(preds, target)
    mp, mt = p.mean(), t.mean()
    cov = ((p - mp) * (t - mt)).mean()
    den = p.var(correction=0) + t.var(correction=0) + (mp - mt) ** 2
    return torch.where(den > 0, 2 * cov / torch.where(den > 0, den, 1), torch.nan)


class _SentimentMetric(SampleMetric):
    def check(self, scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return check_sentiment(scores, labels)


class SentimentAcc2(_SentimentMetric):
    """:func:`sentiment_acc2` over all batches (and processes)."""

    higher_is_better = True

    def __init__(self, *, zero_labels: ZeroLabels, **kwargs: Any) -> None:
        _binary(torch.zeros(0), torch.zeros(0), zero_labels)  # validates zero_labels
        super().__init__(**kwargs)
        self.zero_labels = zero_labels

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return sentiment_acc2(scores, labels, zero_labels=self.zero_labels)


class SentimentF1(SentimentAcc2):
    """:func:`sentiment_f1` over all batches (and processes)."""

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return sentiment_f1(scores, labels, zero_labels=self.zero_labels)


class SentimentAcc5(_SentimentMetric):
    """:func:`sentiment_acc5` over all batches (and processes)."""

    higher_is_better = True

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return sentiment_acc5(scores, labels)


class SentimentAcc7(_SentimentMetric):
    """:func:`sentiment_acc7` over all batches (and processes)."""

    higher_is_better = True

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return sentiment_acc7(scores, labels)


class MeanAbsoluteError(_SentimentMetric):
    """:func:`mean_absolute_error` over all batches (and processes)."""

    higher_is_better = False

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return mean_absolute_error(scores, labels)


class PearsonR(_SentimentMetric):
    """:func:`pearson_r` over all batches (and processes)."""

    higher_is_better = True

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return pearson_r(scores, labels)


class ConcordanceCC(_SentimentMetric):
    """:func:`concordance_cc` over all batches (and processes)."""

    higher_is_better = True

    def evaluate(self, scores: Tensor, labels: Tensor) -> Tensor:
        return concordance_cc(scores, labels)


__all__ = [
    "ConcordanceCC",
    "MeanAbsoluteError",
    "PearsonR",
    "SentimentAcc2",
    "SentimentAcc5",
    "SentimentAcc7",
    "SentimentF1",
    "check_sentiment",
    "concordance_cc",
    "mean_absolute_error",
    "pearson_r",
    "sentiment_acc2",
    "sentiment_acc5",
    "sentiment_acc7",
    "sentiment_f1",
]
