"""The papers' evaluation protocols: exactly the figures each paper's tables report, in order.

``protocol("xia2022", dataset="iemocap").compute(probs, labels, thresholds=...)`` returns a
:class:`MetricTable` whose keys follow the paper's table columns, per class in the paper's
column order (which is not always the label order of the data), then the averages. Class names
are those of :mod:`emofuse.labels`; the model's outputs are matched to them by name.

=================  ===========  ==============================================================
protocol           dataset      figures (source)
=================  ===========  ==============================================================
``xia2022``        iemocap      per emotion Acc, F1; Avg Acc, Avg F1 (tables 2–3, fractions)
``xia2022``        cmu_mosei    per emotion WA, F1; Avg WA, Avg F1 (tables 2–3, fractions)
``le2023``         iemocap      per emotion Acc, F1; Avg Acc, F1 (table 3, %)
``le2023``         cmu_mosei    per emotion WAcc, F1; Avg WAcc, F1 (table 4, %)
``takashima2022``  cmu_mosei    per emotion wF1, mF1; Average wF1, mF1 (table 2, %)
``mocanu2023``     ravdess      per emotion accuracy; Average = accuracy (table 1, %)
``mocanu2023``     crema_d      per emotion accuracy; Average = mean of them (table 2, %)
``yang2023``       mosi, mosei  Acc7, Acc2, F1, MAE, Corr (tables 2–3; % except MAE, Corr)
``yang2023``       iemocap      per emotion Acc, F1 (table 4, %; 4 emotions)
=================  ===========  ==============================================================

Readings taken where a paper leaves a choice (each checked against the paper's own numbers):

- Xia and Le: F1 is the positive-class F1 (their eq. 12 / eq. 10); Acc is the binary accuracy
  (TP + TN)/(P + N) (Xia's eq. 10 prints TP/(P + N), a typo); WA as Dai et al. (eq. 11).
- Takashima: "wF1"/"mF1" of one emotion are the support-weighted and macro F1 over that
  emotion's two outcomes (present/absent), and "Average" is their mean over emotions. Only this
  reading gives the table's numbers: for fear (8 % positive) an all-absent classifier scores
  wF1 ≈ 88 and mF1 ≈ 48, the table's 88.0 / 50.5; the positive-class F1 would be near 0.
- Mocanu: the per-emotion columns are per-class accuracy (recall). RAVDESS's "Average" is the
  overall accuracy (the neutral class has half the clips; with that weighting the per-class
  columns give the Average of all five rows of table 1 within 0.01, their plain mean does not),
  CREMA-D's is the plain mean of the six columns (all five rows of table 2 within 0.015).
- Yang: Acc2 and F1 follow MulT's evaluation that the paper compares against: zero labels left
  out, F1 support-weighted over the two classes; Acc7 clips to [-3, 3] and rounds. On IEMOCAP
  the F1 is MulT's support-weighted two-class F1 of each emotion.

Thresholds: Dai et al., whose protocol Xia and Le use, tune one threshold per emotion on the
validation split for IEMOCAP (:func:`~emofuse.metrics.tune_thresholds`) and use 0.5 on
CMU-MOSEI; Le et al. do not state their thresholds (they reuse Dai et al.'s data and split, so
Dai's validation-tuned thresholds are the natural reading); Takashima and Yang do not say (0.5,
i.e. ``Thresholds.constant(0.5, num_labels=K)``, matches a two-way arg-max). Every multi-label
protocol takes the thresholds explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from emofuse import labels as label_sets
from emofuse.metrics.multiclass import check_multiclass, multiclass_accuracy, per_class_accuracy
from emofuse.metrics.multilabel import (
    multilabel_accuracy,
    multilabel_f1,
    multilabel_two_class_f1,
    multilabel_weighted_accuracy,
)
from emofuse.metrics.sentiment import (
    mean_absolute_error,
    pearson_r,
    sentiment_acc2,
    sentiment_acc7,
    sentiment_f1,
)
from emofuse.metrics.thresholds import Thresholds


class MetricTable(dict[str, float]):
    """A protocol's figures, in the paper's order: a ``dict`` of floats, printable as markdown.

    Attributes:
        protocol: ``"name/dataset"`` of the protocol that produced it ("" if none).
        num_samples: the number of distinct samples scored.
        digits: decimals shown by :meth:`to_markdown`.
    """

    def __init__(
        self,
        values: Mapping[str, float] | Sequence[tuple[str, float]] = (),
        *,
        protocol: str = "",
        num_samples: int | None = None,
        digits: int = 3,
    ) -> None:
        super().__init__(values)
        self.protocol = protocol
        self.num_samples = num_samples
        self.digits = digits

    def to_markdown(self, digits: int | None = None) -> str:
        """A one-row markdown table, columns in order."""
        d = self.digits if digits is None else digits
        keys = list(self)
        head = "| " + " | ".join(keys) + " |"
        rule = "|" + "|".join("---:" for _ in keys) + "|"
        row = "| " + " | ".join(_fmt(self[k], d) for k in keys) + " |"
        return "\n".join((head, rule, row))


def _fmt(value: float, digits: int) -> str:
    return "nan" if math.isnan(value) else f"{value:.{digits}f}"


# A column: name and a function (scores, labels, thresholds) -> (K,) values per class.
Column = tuple[str, Callable[[Tensor, Tensor, Any], Tensor]]


@dataclass(frozen=True)
class Protocol:
    """How one paper scores one dataset; :meth:`compute` returns the table's figures.

    Attributes:
        name: the paper key, e.g. ``"xia2022"``; dataset: e.g. ``"iemocap"``.
        paper: the citation and the tables reproduced.
        task: the model task it scores: ``"multilabel"``, ``"multiclass"`` or
            ``"regression"``.
        label_names: the dataset's class order (:mod:`emofuse.labels`), the default order of
            the scores' columns; ``None`` for regression.
        keys: the figure names, in the table's order.
        scale: 100 where the paper prints percentages.
    """

    name: str
    dataset: str
    paper: str
    task: str
    label_names: tuple[str, ...] | None
    keys: tuple[str, ...]
    scale: float
    digits: int
    _compute: Callable[..., dict[str, float]]

    @property
    def key(self) -> str:
        return f"{self.name}/{self.dataset}"

    def compute(
        self,
        scores: Tensor,
        labels: Tensor,
        *,
        thresholds: Thresholds | None = None,
        label_names: Sequence[str] | None = None,
    ) -> MetricTable:
        """The table's figures from all test predictions.

        Args:
            scores: multi-label (N, K) sigmoid probabilities; multiclass (N, C) logits or
                probabilities; regression (N,) predictions.
            labels: (N, K) multi-hot, (N,) class indices, or (N,) sentiment scores.
            thresholds: multi-label only, and required there: a :class:`Thresholds` from
                :func:`~emofuse.metrics.tune_thresholds` on the validation split, or
                ``Thresholds.constant(0.5, num_labels=K)``.
            label_names: the class of each score column, when it differs from
                :attr:`label_names`; matched by name.
        Raises:
            ValueError: missing or superfluous thresholds, classes the table needs that the
                scores lack, or bad scores/labels.
        """
        if self.task == "multilabel":
            if thresholds is None:
                raise ValueError(
                    f"thresholds: protocol {self.key} scores multi-label decisions and needs "
                    "a Thresholds: tune_thresholds(val_probs, val_labels) on the validation "
                    "split, or Thresholds.constant(0.5, num_labels=K)"
                )
        elif thresholds is not None:
            raise ValueError(
                f"thresholds: protocol {self.key} scores a {self.task} task and takes no "
                f"thresholds, got {type(thresholds).__name__}"
            )
        names = self._names(scores, label_names, thresholds)
        values = self._compute(scores, labels, thresholds, names)
        table = {k: float(values[k]) * (self.scale if _scaled(k) else 1.0) for k in self.keys}
        return MetricTable(
            table, protocol=self.key, num_samples=int(scores.shape[0]), digits=self.digits
        )

    def _names(
        self, scores: Tensor, label_names: Sequence[str] | None, thresholds: Thresholds | None
    ) -> tuple[str, ...] | None:
        if self.label_names is None:
            if label_names is not None:
                raise ValueError(
                    f"label_names: protocol {self.key} scores a {self.task} task without "
                    f"classes, got {list(label_names)}"
                )
            return None
        names = tuple(label_names) if label_names is not None else self.label_names
        k = scores.shape[1] if isinstance(scores, Tensor) and scores.dim() == 2 else None
        if k is not None and len(names) != k:
            raise ValueError(
                f"label_names: expected {k} names (one per score column), got {list(names)}"
            )
        if thresholds is not None and thresholds.label_names not in (None, names):
            raise ValueError(
                f"thresholds: tuned for classes {list(thresholds.label_names)}, but the scores "
                f"are {list(names)}"
            )
        return names


def _scaled(key: str) -> bool:
    return key not in ("MAE", "Corr")


def _index(names: Sequence[str], wanted: Sequence[str], key: str) -> list[int]:
    lower = [n.lower() for n in names]
    missing = [w for w in wanted if w not in lower]
    if missing:
        raise ValueError(
            f"label_names: protocol {key} reports {list(wanted)}; the scores' classes "
            f"{list(names)} lack {missing}"
        )
    return [lower.index(w) for w in wanted]


def _per_class(
    key: str, order: Sequence[str], columns: Sequence[Column], average: str | None
) -> tuple[tuple[str, ...], Callable[..., dict[str, float]]]:
    keys = [f"{c}/{name}" for c in order for name, _ in columns]
    if average is not None:
        keys += [f"{average}/{name}" for name, _ in columns]

    def compute(
        scores: Tensor, labels: Tensor, thresholds: Any, names: Sequence[str]
    ) -> dict[str, float]:
        idx = _index(names, order, key)
        out: dict[str, float] = {}
        per_column = {name: fn(scores, labels, thresholds)[idx] for name, fn in columns}
        for i, c in enumerate(order):
            for name, _ in columns:
                out[f"{c}/{name}"] = per_column[name][i].item()
        if average is not None:
            for name, _ in columns:
                out[f"{average}/{name}"] = per_column[name].mean().item()
        return out

    return tuple(keys), compute


def _acc(p: Tensor, y: Tensor, t: Thresholds) -> Tensor:
    return multilabel_accuracy(p, y, t)


def _wa(p: Tensor, y: Tensor, t: Thresholds) -> Tensor:
    return multilabel_weighted_accuracy(p, y, t)


def _f1(p: Tensor, y: Tensor, t: Thresholds) -> Tensor:
    return multilabel_f1(p, y, t)


def _wf1(p: Tensor, y: Tensor, t: Thresholds) -> Tensor:
    return multilabel_two_class_f1(p, y, t, average="weighted")


def _mf1(p: Tensor, y: Tensor, t: Thresholds) -> Tensor:
    return multilabel_two_class_f1(p, y, t, average="macro")


def _class_acc(p: Tensor, y: Tensor, t: None) -> Tensor:
    return per_class_accuracy(p, y)


def _mocanu(
    key: str, order: Sequence[str], average: str
) -> tuple[tuple[str, ...], Callable[..., dict[str, float]]]:
    keys, per_class = _per_class(key, order, [("Acc", _class_acc)], None)

    def compute(
        scores: Tensor, labels: Tensor, thresholds: None, names: Sequence[str]
    ) -> dict[str, float]:
        check_multiclass(scores, labels)
        out = per_class(scores, labels, None, names)
        if average == "accuracy":
            out["Average"] = multiclass_accuracy(scores, labels).item()
        else:  # the mean of the table's per-class columns
            out["Average"] = float(torch.tensor([out[k] for k in keys]).nanmean())
        return out

    return (*keys, "Average"), compute


def _yang_sentiment(
    scores: Tensor, labels: Tensor, thresholds: None, names: None
) -> dict[str, float]:
    return {
        "Acc7": sentiment_acc7(scores, labels).item(),
        "Acc2": sentiment_acc2(scores, labels, zero_labels="exclude").item(),
        "F1": sentiment_f1(scores, labels, zero_labels="exclude").item(),
        "MAE": mean_absolute_error(scores, labels).item(),
        "Corr": pearson_r(scores, labels).item(),
    }


XIA = "Xia, Zhao, Jiang 2022, Front. Neurosci. 16:1000060"
LE = "Le et al. 2023, IEEE Access 11, doi:10.1109/ACCESS.2023.3244390"
TAKASHIMA = "Takashima et al. 2022, Interspeech"
MOCANU = "Mocanu, Tapu, Zaharia 2023, Image and Vision Computing 133:104676"
YANG = "Yang et al. 2023, Knowledge-Based Systems"


def _build() -> dict[tuple[str, str], Protocol]:
    iemocap6, mosei6 = label_sets.IEMOCAP_6, label_sets.CMU_MOSEI_6
    specs: list[tuple[str, str, str, str, tuple[str, ...] | None, float, int, Any]] = [
        (
            "xia2022",
            "iemocap",
            f"{XIA}, tables 2–3",
            "multilabel",
            iemocap6,
            1.0,
            3,
            _per_class(
                "xia2022/iemocap",
                ("happiness", "anger", "sadness", "excited", "frustrated", "neutral"),
                [("Acc", _acc), ("F1", _f1)],
                "avg",
            ),
        ),
        (
            "xia2022",
            "cmu_mosei",
            f"{XIA}, tables 2–3",
            "multilabel",
            mosei6,
            1.0,
            3,
            _per_class(
                "xia2022/cmu_mosei",
                ("happiness", "sadness", "anger", "surprise", "fear", "disgust"),
                [("WA", _wa), ("F1", _f1)],
                "avg",
            ),
        ),
        (
            "le2023",
            "iemocap",
            f"{LE}, tables 3 and 5",
            "multilabel",
            iemocap6,
            100.0,
            1,
            _per_class("le2023/iemocap", iemocap6, [("Acc", _acc), ("F1", _f1)], "avg"),
        ),
        (
            "le2023",
            "cmu_mosei",
            f"{LE}, tables 4 and 5",
            "multilabel",
            mosei6,
            100.0,
            1,
            _per_class("le2023/cmu_mosei", mosei6, [("WAcc", _wa), ("F1", _f1)], "avg"),
        ),
        (
            "takashima2022",
            "cmu_mosei",
            f"{TAKASHIMA}, table 2",
            "multilabel",
            mosei6,
            100.0,
            1,
            _per_class(
                "takashima2022/cmu_mosei",
                ("happiness", "sadness", "anger", "surprise", "disgust", "fear"),
                [("wF1", _wf1), ("mF1", _mf1)],
                "avg",
            ),
        ),
        (
            "mocanu2023",
            "ravdess",
            f"{MOCANU}, tables 1, 3, 5",
            "multiclass",
            label_sets.RAVDESS_8,
            100.0,
            2,
            _mocanu(
                "mocanu2023/ravdess",
                ("surprised", "angry", "fearful", "neutral", "calm", "happy", "sad", "disgust"),
                "accuracy",
            ),
        ),
        (
            "mocanu2023",
            "crema_d",
            f"{MOCANU}, tables 2, 3, 5",
            "multiclass",
            label_sets.CREMA_D_6,
            100.0,
            2,
            _mocanu(
                "mocanu2023/crema_d",
                ("anger", "fear", "neutral", "happy", "sad", "disgust"),
                "mean",
            ),
        ),
        (
            "yang2023",
            "iemocap",
            f"{YANG}, table 4",
            "multilabel",
            label_sets.IEMOCAP_4,
            100.0,
            1,
            _per_class(
                "yang2023/iemocap",
                ("happiness", "sadness", "anger", "neutral"),
                [("Acc", _acc), ("F1", _wf1)],
                None,
            ),
        ),
    ]
    sentiment_keys = ("Acc7", "Acc2", "F1", "MAE", "Corr")
    for dataset, table in (("mosi", 2), ("mosei", 3)):
        specs.append(
            (
                "yang2023",
                dataset,
                f"{YANG}, table {table}",
                "regression",
                None,
                100.0,
                3,
                (sentiment_keys, _yang_sentiment),
            )
        )
    out = {}
    for name, dataset, paper, task, names, scale, digits, (keys, fn) in specs:
        out[(name, dataset)] = Protocol(
            name=name,
            dataset=dataset,
            paper=paper,
            task=task,
            label_names=names,
            keys=keys,
            scale=scale,
            digits=digits,
            _compute=fn,
        )
    return out


PROTOCOLS: dict[tuple[str, str], Protocol] = _build()


def list_protocols() -> list[str]:
    """``"name/dataset"`` of every protocol, sorted."""
    return sorted(p.key for p in PROTOCOLS.values())


def protocol(name: str, dataset: str | None = None) -> Protocol:
    """The evaluation protocol of paper ``name`` on ``dataset`` (see the module table).

    ``dataset`` may be left out when the paper reports one dataset (``"takashima2022"``);
    ``"name/dataset"`` is accepted too.

    Raises:
        ValueError: an unknown paper or dataset, or a paper with several datasets and none
            chosen.
    """
    if dataset is None and "/" in name:
        name, dataset = name.split("/", 1)
    papers = sorted({n for n, _ in PROTOCOLS})
    if name not in papers:
        raise ValueError(f"name: expected one of {papers}, got {name!r}")
    datasets = sorted(d for n, d in PROTOCOLS if n == name)
    if dataset is None:
        if len(datasets) > 1:
            raise ValueError(f"dataset: {name} reports {datasets}; choose one, got none")
        dataset = datasets[0]
    if dataset not in datasets:
        raise ValueError(f"dataset: {name} reports {datasets}, got {dataset!r}")
    return PROTOCOLS[(name, dataset)]


__all__ = ["PROTOCOLS", "MetricTable", "Protocol", "list_protocols", "protocol"]
