"""Per-class decision thresholds for multi-label emotion recognition, tuned on validation only.

Dai et al. (2021, NAACL; their released ``eval_iemocap``), whose IEMOCAP protocol Xia et al.
2022 and Le et al. 2023 follow, choose one threshold per emotion on the validation split: the
value of the grid 0.05, 0.10, …, 0.95 that maximises that emotion's binary F1 (the lowest such
value on ties), then apply it unchanged to the test split.

The API keeps tuning apart from scoring: :func:`tune_thresholds` is the only function that looks
for thresholds, every multi-label metric takes a finished :class:`Thresholds` and never tunes,
and a metric refuses thresholds that were tuned on the very predictions it is asked to score.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

Criterion = Literal["f1", "weighted_accuracy", "accuracy"]
CRITERIA: tuple[str, ...] = ("f1", "weighted_accuracy", "accuracy")

#: Dai et al.'s grid, ``np.arange(0.05, 1, 0.05)``: 0.05, 0.10, …, 0.95 (19 values).
DEFAULT_GRID: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))


@dataclass(frozen=True)
class Thresholds:
    """One decision threshold per class on the sigmoid probability: class k is predicted
    present when ``prob[:, k] > values[k]`` (strictly, as Dai et al.'s code does).

    Build it with :func:`tune_thresholds` (validation split) or :meth:`constant` (a fixed value,
    e.g. 0.5 where a paper does not tune). ``fingerprint`` identifies the predictions the
    thresholds were tuned on; metrics refuse to score those same predictions with them.

    Attributes:
        values: (K,) thresholds in [0, 1], in the model's output order.
        label_names: class names in the same order, when known.
        criterion: what was maximised per class (``None`` for constant thresholds).
        grid: the candidate values searched (empty for constant thresholds).
        fingerprint: SHA-256 of the tuning predictions and labels, or ``None``.
    """

    values: tuple[float, ...]
    label_names: tuple[str, ...] | None = None
    criterion: str | None = None
    grid: tuple[float, ...] = ()
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        values = tuple(float(v) for v in self.values)
        if not values or any(not 0.0 <= v <= 1.0 for v in values):
            raise ValueError(f"values: expected one threshold in [0, 1] per class, got {values}")
        if self.label_names is not None and len(self.label_names) != len(values):
            raise ValueError(
                f"label_names: expected {len(values)} names (one per threshold), "
                f"got {len(self.label_names)}"
            )
        object.__setattr__(self, "values", values)

    @classmethod
    def constant(
        cls, value: float = 0.5, *, num_labels: int, label_names: Sequence[str] | None = None
    ) -> Thresholds:
        """The same threshold for every class (no tuning), e.g. 0.5 on the probability.

        Raises:
            ValueError: ``num_labels < 1``.
        """
        if num_labels < 1:
            raise ValueError(f"num_labels: expected >= 1, got {num_labels}")
        names = tuple(label_names) if label_names is not None else None
        return cls(values=(float(value),) * num_labels, label_names=names)

    @property
    def num_labels(self) -> int:
        return len(self.values)

    def as_tensor(self, device: torch.device | str | None = None) -> Tensor:
        """(K,) float64 thresholds."""
        return torch.tensor(self.values, dtype=torch.float64, device=device)

    def check_not_tuned_on(self, probs: Tensor, labels: Tensor) -> None:
        """Raise when these thresholds were tuned on exactly ``probs`` and ``labels``.

        Raises:
            ValueError: the thresholds were tuned on the predictions being scored.
        """
        if self.fingerprint is not None and self.fingerprint == fingerprint(probs, labels):
            raise ValueError(
                "thresholds: these thresholds were tuned on the very predictions being scored; "
                "tune them on the validation split (tune_thresholds(val_probs, val_labels)) and "
                "score the test split with them"
            )


def fingerprint(probs: Tensor, labels: Tensor) -> str:
    """SHA-256 of (probabilities, labels), used to recognise the tuning predictions."""
    h = hashlib.sha256()
    h.update(str(tuple(probs.shape)).encode())
    h.update(probs.detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
    h.update(labels.detach().to("cpu", torch.uint8).contiguous().numpy().tobytes())
    return h.hexdigest()


def check_multilabel(probs: Tensor, labels: Tensor, name: str = "probs") -> tuple[Tensor, Tensor]:
    """Validate (N, K) probabilities in [0, 1] and (N, K) 0/1 labels; returns them as
    (float64, bool).

    Raises:
        ValueError: naming the argument, the expected layout and what came in.
    """
    if not isinstance(probs, Tensor) or probs.dim() != 2 or not probs.is_floating_point():
        got = f"{probs.dtype} {tuple(probs.shape)}" if isinstance(probs, Tensor) else type(probs)
        raise ValueError(f"{name}: expected (N, K) float sigmoid probabilities, got {got}")
    if not isinstance(labels, Tensor) or labels.shape != probs.shape:
        got = str(tuple(labels.shape)) if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(f"labels: expected (N, K) = {tuple(probs.shape)} multi-hot 0/1, got {got}")
    if ((labels != 0) & (labels != 1)).any():
        raise ValueError(
            f"labels: expected multi-hot 0/1 labels, got values {labels.unique().tolist()[:8]}"
        )
    if not torch.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError(
            f"{name}: expected probabilities in [0, 1] (apply torch.sigmoid to logits), got "
            f"values in [{probs.min().item():.4g}, {probs.max().item():.4g}]"
        )
    return probs.to(torch.float64), labels.to(torch.bool)


def binarize(probs: Tensor, thresholds: Thresholds) -> Tensor:
    """(N, K) bool decisions ``probs > thresholds`` (per class).

    Raises:
        ValueError: ``thresholds`` is not a :class:`Thresholds`, or has the wrong length.
    """
    if not isinstance(thresholds, Thresholds):
        raise ValueError(
            "thresholds: expected a Thresholds (tune_thresholds(val_probs, val_labels) on the "
            "validation split, or Thresholds.constant(0.5, num_labels=K)), got "
            f"{type(thresholds).__name__}"
        )
    if thresholds.num_labels != probs.shape[1]:
        raise ValueError(
            f"thresholds: expected {probs.shape[1]} thresholds (one per class of probs), "
            f"got {thresholds.num_labels}"
        )
    return probs > thresholds.as_tensor(probs.device)


def tune_thresholds(
    val_probs: Tensor,
    val_labels: Tensor,
    *,
    grid: Sequence[float] = DEFAULT_GRID,
    criterion: Criterion = "f1",
    label_names: Sequence[str] | None = None,
) -> Thresholds:
    """Choose one threshold per class on the validation split (Dai et al. 2021's procedure).

    For each class k, every grid value t gives decisions ``val_probs[:, k] > t``; the chosen
    threshold maximises ``criterion`` for that class, the lowest t on ties. Apply the result
    unchanged to the test split by passing it to the test metric or to
    :func:`emofuse.metrics.evaluate`.

    Args:
        val_probs: (N, K) sigmoid probabilities on the validation split.
        val_labels: (N, K) multi-hot 0/1 validation labels.
        grid: candidate thresholds in [0, 1]; default :data:`DEFAULT_GRID` = 0.05, 0.10, …,
            0.95, Dai et al.'s ``np.arange(0.05, 1, 0.05)``.
        criterion: ``"f1"`` (binary F1 of the class, Dai et al.), ``"weighted_accuracy"``
            ((TPR + TNR) / 2) or ``"accuracy"``.
        label_names: (K,) class names, kept with the thresholds.
    Returns:
        a frozen :class:`Thresholds` carrying the fingerprint of the validation predictions.
    Raises:
        ValueError: bad shapes, labels that are not 0/1, probabilities outside [0, 1], an empty
            grid or one with values outside [0, 1], an unknown criterion.
    """
    probs, labels = check_multilabel(val_probs, val_labels, "val_probs")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion: expected one of {CRITERIA}, got {criterion!r}")
    values = torch.tensor(sorted({float(g) for g in grid}), dtype=torch.float64)
    if values.numel() == 0 or (values < 0).any() or (values > 1).any():
        raise ValueError(f"grid: expected candidate thresholds in [0, 1], got {list(grid)}")
    if probs.shape[0] == 0:
        raise ValueError("val_probs: expected at least one validation sample, got N = 0")
    # (G, N, K) decisions for every candidate at once
    pred = probs.unsqueeze(0) > values.to(probs.device)[:, None, None]
    truth = labels.unsqueeze(0)
    tp = (pred & truth).sum(1).double()
    fp = (pred & ~truth).sum(1).double()
    fn = (~pred & truth).sum(1).double()
    tn = (~pred & ~truth).sum(1).double()
    if criterion == "f1":
        score = _safe_div(2 * tp, 2 * tp + fp + fn)
    elif criterion == "accuracy":
        score = (tp + tn) / (tp + fp + fn + tn)
    else:
        score = balanced_rate(tp, fp, tn, fn)
    best = torch.argmax(score, dim=0)  # first maximum = lowest threshold on ties
    chosen = values.to(best.device)[best]
    return Thresholds(
        values=tuple(chosen.tolist()),
        label_names=tuple(label_names) if label_names is not None else None,
        criterion=criterion,
        grid=tuple(values.tolist()),
        fingerprint=fingerprint(val_probs, val_labels),
    )


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    """num / den, 0 where den == 0 (scikit-learn's ``zero_division=0``)."""
    return torch.where(den > 0, num / torch.where(den > 0, den, 1), 0.0)


def balanced_rate(tp: Tensor, fp: Tensor, tn: Tensor, fn: Tensor) -> Tensor:
    """(TPR + TNR) / 2, leaving out a rate whose class has no sample (as scikit-learn's
    ``balanced_accuracy_score``); NaN when the class has no sample of either kind."""
    pos, neg = tp + fn, tn + fp
    tpr = tp / torch.where(pos > 0, pos, 1)
    tnr = tn / torch.where(neg > 0, neg, 1)
    both = (tpr + tnr) / 2
    out = torch.where(pos > 0, torch.where(neg > 0, both, tpr), tnr)
    return torch.where((pos > 0) | (neg > 0), out, torch.nan)


__all__ = [
    "CRITERIA",
    "DEFAULT_GRID",
    "Thresholds",
    "balanced_rate",
    "binarize",
    "check_multilabel",
    "fingerprint",
    "tune_thresholds",
]
