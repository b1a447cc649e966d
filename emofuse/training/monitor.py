"""The validation figures a run can monitor for early stopping and best-checkpoint selection.

Each is one function of :mod:`emofuse.metrics` on all validation predictions (gathered from
every process by :func:`emofuse.metrics.predict`), under the name the field uses:

==================  ============  ====  ===========================================================
name                tasks         mode  figure
==================  ============  ====  ===========================================================
``loss``            all           min   the recipe's training loss on the validation split
``accuracy``        multiclass    max   accuracy (WA of speech emotion recognition)
                    multilabel    max   mean over classes of the binary accuracy at 0.5 (Avg Acc)
``WA``              multiclass    max   accuracy, as ``accuracy``
                    multilabel    max   mean over classes of Dai et al.'s weighted accuracy at 0.5
``UA``              multiclass    max   unweighted accuracy: the mean of the per-class recalls
``macro_f1``        multiclass    max   macro F1 over classes
                    multilabel    max   mean over classes of the positive-class F1 at 0.5 (Avg F1)
``weighted_f1``     multiclass    max   support-weighted F1 (MELD's figure)
                    multilabel    max   mean over classes of the support-weighted two-outcome F1
                                        (Takashima et al.'s wF1)
``MAE``             regression    min   mean absolute error
``Corr``            regression    max   Pearson correlation
``Acc2``            regression    max   binary accuracy, zero labels excluded (MulT's reading)
``Acc7``            regression    max   7-class accuracy after rounding to [-3, 3]
==================  ============  ====  ===========================================================

Multi-label decisions use a constant 0.5 threshold here (a run has no tuned thresholds while it
trains); tune them on the validation split afterwards for the papers' protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from emofuse import metrics as M

MODES = ("max", "min")


@dataclass(frozen=True)
class Monitor:
    """A monitorable figure: ``name``, whether larger is better (``mode``), and its function
    per task ``(scores, labels) -> float``."""

    name: str
    mode: str
    functions: dict[str, Callable[[Tensor, Tensor], float]]


def _at_half(fn: Callable[..., Tensor], **kwargs: str) -> Callable[[Tensor, Tensor], float]:
    """``fn`` at a constant 0.5 threshold, averaged over classes."""

    def compute(scores: Tensor, labels: Tensor) -> float:
        thresholds = M.Thresholds.constant(0.5, num_labels=scores.shape[1])
        return float(fn(scores, labels, thresholds, **kwargs).mean())

    return compute


def _plain(fn: Callable[..., Tensor], **kwargs: str) -> Callable[[Tensor, Tensor], float]:
    return lambda scores, labels: float(fn(scores, labels, **kwargs))


MONITORS: dict[str, Monitor] = {
    m.name: m
    for m in (
        Monitor("loss", "min", {}),
        Monitor(
            "accuracy",
            "max",
            {
                "multiclass": _plain(M.multiclass_accuracy),
                "multilabel": _at_half(M.multilabel_accuracy, average="macro"),
            },
        ),
        Monitor(
            "WA",
            "max",
            {
                "multiclass": _plain(M.multiclass_accuracy),
                "multilabel": _at_half(M.multilabel_weighted_accuracy, average="macro"),
            },
        ),
        Monitor("UA", "max", {"multiclass": _plain(M.unweighted_accuracy)}),
        Monitor(
            "macro_f1",
            "max",
            {
                "multiclass": _plain(M.multiclass_f1, average="macro"),
                "multilabel": _at_half(M.multilabel_f1, average="macro"),
            },
        ),
        Monitor(
            "weighted_f1",
            "max",
            {
                "multiclass": _plain(M.multiclass_f1, average="weighted"),
                "multilabel": _at_half(M.multilabel_two_class_f1, average="weighted"),
            },
        ),
        Monitor("MAE", "min", {"regression": _plain(M.mean_absolute_error)}),
        Monitor("Corr", "max", {"regression": _plain(M.pearson_r)}),
        Monitor("Acc2", "max", {"regression": _plain(M.sentiment_acc2, zero_labels="exclude")}),
        Monitor("Acc7", "max", {"regression": _plain(M.sentiment_acc7)}),
    )
}


def monitors_for(task: str) -> list[str]:
    """The names that can be monitored for a model of ``task``."""
    return [n for n, m in MONITORS.items() if n == "loss" or task in m.functions]


def check_monitor(name: str, task: str) -> Monitor:
    """The :class:`Monitor` called ``name``, checked for ``task``.

    Raises:
        ValueError: an unknown name or one that does not score ``task`` (the message lists
            those that do).
    """
    monitor = MONITORS.get(name)
    if monitor is None or (name != "loss" and task not in monitor.functions):
        raise ValueError(
            f"monitor: expected one of {monitors_for(task)} for a {task} model, got {name!r}"
        )
    return monitor


__all__ = ["MONITORS", "Monitor", "check_monitor", "monitors_for"]
