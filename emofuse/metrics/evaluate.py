"""Scoring a model on a data loader: predictions, a paper's protocol, robustness conditions.

The loader yields dicts: the model's keyword inputs (``audio``, ``audio_mask``, ...) plus
``label`` (multi-hot (B, K), class indices (B,), or sentiment (B,)) and ``id`` (one sample id
per row: integers or strings). In a distributed run give every process a
``DistributedSampler(dataset, shuffle=False)``; the padding it adds repeats samples, and the ids
let every sample be counted exactly once. Every process returns the same table; each needs at
least one batch (a ``DistributedSampler`` gives every process a sample whenever N >= world size).

Robustness (MultiBench, Liang et al. 2021; the MER2023 robustness track, Lian et al. 2023): the
same protocol with one modality missing or with Gaussian noise added to it, all in one pass over
the loader.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from emofuse.metrics.protocols import MetricTable, Protocol
from emofuse.metrics.protocols import protocol as get_protocol
from emofuse.metrics.samples import SampleMetric, ids_to_tensor
from emofuse.metrics.thresholds import Thresholds
from emofuse.outputs import EmotionOutput

TASKS = ("multilabel", "multiclass", "regression")


@dataclass(frozen=True)
class Predictions:
    """Every distinct sample's score and label, in arrival order (process-rank order when
    distributed), duplicates dropped.

    Attributes:
        ids: (N,) int64 sample ids (strings hashed, see :func:`~emofuse.metrics.ids_to_tensor`).
        scores: multilabel (N, K) sigmoid probabilities; multiclass (N, C) softmax
            probabilities; regression (N,) predictions.
        labels: as the loader gave them, concatenated.
        task: the model's task.
    """

    ids: Tensor
    scores: Tensor
    labels: Tensor
    task: str


@dataclass(frozen=True)
class MissingModality:
    """Remove one modality: an optional input is left out (the model runs without it, as
    Takashima et al.'s model does); a required one is replaced by zeros of the same shape with
    its mask kept (MultiBench's missing-modality test)."""

    modality: str

    @property
    def name(self) -> str:
        return f"{self.modality} missing"


@dataclass(frozen=True)
class ModalityNoise:
    """Add Gaussian noise of standard deviation ``std`` (in the input's units) to the valid
    steps of one float modality; padded steps are left as they are. The noise of each sample is
    drawn from a generator seeded by ``seed`` and the sample id, so it does not depend on the
    batch or the process the sample lands in."""

    modality: str
    std: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.std >= 0:
            raise ValueError(f"std: expected a noise standard deviation >= 0, got {self.std}")

    @property
    def name(self) -> str:
        return f"{self.modality} noise σ={self.std:g}"


Condition = MissingModality | ModalityNoise


class RobustnessTable(dict[str, MetricTable]):
    """One :class:`MetricTable` per condition (``"clean"`` first); :meth:`to_markdown` prints
    one row per condition."""

    def to_markdown(self, digits: int | None = None) -> str:
        tables = list(self.values())
        keys = list(tables[0])
        d = tables[0].digits if digits is None else digits
        lines = [
            "| condition | " + " | ".join(keys) + " |",
            "|---|" + "|".join("---:" for _ in keys) + "|",
        ]
        for name, table in self.items():
            cells = [table.to_markdown(d).splitlines()[2].strip("| ")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


class _Collector(SampleMetric):
    """Keeps (score, label, id) per sample; ``compute`` gathers them from every process
    (torchmetrics' sync) and drops repeated ids."""

    def evaluate(self, scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return scores, labels

    def compute(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.samples()  # the ids too, which ``evaluate`` does not see


def scores_from_output(output: EmotionOutput | Tensor, task: str) -> Tensor:
    """The scores the metrics take: sigmoid (multilabel), softmax (multiclass) or the single
    regression output (B,).

    Raises:
        ValueError: an unknown task, or regression logits that are not (B, 1).
    """
    logits = output.logits if isinstance(output, EmotionOutput) else output
    logits = logits.float()
    if task == "multilabel":
        return torch.sigmoid(logits)
    if task == "multiclass":
        return torch.softmax(logits, dim=-1)
    if task == "regression":
        if logits.dim() != 2 or logits.shape[1] != 1:
            raise ValueError(f"logits: expected (B, 1) for regression, got {tuple(logits.shape)}")
        return logits[:, 0]
    raise ValueError(f"task: expected one of {TASKS}, got {task!r}")


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _split_batch(batch: Any) -> tuple[dict[str, Any], Tensor, Any]:
    if not isinstance(batch, Mapping) or "label" not in batch or "id" not in batch:
        got = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
        raise ValueError(
            "loader: expected batches as dicts of the model's keyword inputs plus 'label' and "
            f"'id', got {got}"
        )
    label = batch["label"]
    if not isinstance(label, Tensor):
        raise ValueError(f"label: expected a tensor per batch, got {type(label).__name__}")
    inputs = {k: v for k, v in batch.items() if k not in ("label", "id")}
    return inputs, label, batch["id"]


def _apply(
    condition: Condition, model: nn.Module, inputs: dict[str, Any], ids: Tensor
) -> dict[str, Any]:
    name = condition.modality
    if name not in inputs:
        raise ValueError(
            f"conditions: {condition.name!r} needs the batch to hold {name!r}; it holds "
            f"{sorted(inputs)}"
        )
    out = dict(inputs)
    if isinstance(condition, MissingModality):
        if _required(model, name):
            out[name] = torch.zeros_like(inputs[name])
        else:
            out.pop(name)
            out.pop(f"{name}_mask", None)
        return out
    x = inputs[name]
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError(
            f"conditions: {condition.name!r} needs a float modality; {name!r} is "
            f"{x.dtype if isinstance(x, Tensor) else type(x).__name__}"
        )
    noise = torch.stack(
        [
            torch.randn(
                x.shape[1:],
                generator=torch.Generator().manual_seed(_noise_seed(condition.seed, int(i))),
            )
            for i in ids.tolist()
        ]
    ).to(device=x.device, dtype=x.dtype)
    noisy = x + condition.std * noise
    mask = inputs.get(f"{name}_mask")
    if isinstance(mask, Tensor):
        valid = mask.reshape(*mask.shape, *([1] * (x.dim() - mask.dim())))
        noisy = torch.where(valid, noisy, x)
    out[name] = noisy
    return out


def _noise_seed(seed: int, sample_id: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{sample_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def _required(model: nn.Module, name: str) -> bool:
    specs = getattr(model, "input_specs", None)
    config = getattr(model, "config", None)
    if specs is None or config is None:
        return True
    return any(s.name == name and s.required for s in specs(config))


def _collect(
    model: nn.Module,
    loader: Iterable[Any],
    task: str,
    conditions: Sequence[Condition | None],
) -> list[Predictions]:
    device = _device(model)
    collectors = [_Collector().to(device) for _ in conditions]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for batch in loader:
                inputs, labels, ids = _split_batch(batch)
                inputs = {
                    k: v.to(device) if isinstance(v, Tensor) else v for k, v in inputs.items()
                }
                first = next((v for v in inputs.values() if isinstance(v, Tensor)), labels)
                id_tensor = ids_to_tensor(ids, first.shape[0])
                for condition, collector in zip(conditions, collectors, strict=True):
                    fed = (
                        inputs if condition is None else _apply(condition, model, inputs, id_tensor)
                    )
                    scores = scores_from_output(model(**fed), task)
                    collector.update(scores, labels.to(device), id_tensor)
    finally:
        model.train(was_training)
    out = []
    for collector in collectors:
        if isinstance(collector.scores, list) and not collector.scores:
            raise ValueError("loader: yielded no batches")
        scores, labels, ids = collector.compute()
        out.append(Predictions(ids=ids, scores=scores, labels=labels, task=task))
    return out


def _task(model: nn.Module) -> str:
    task = getattr(getattr(model, "config", None), "task", None)
    if task not in TASKS:
        raise ValueError(
            f"model: expected a model whose config.task is one of {TASKS}, got {task!r}"
        )
    return task


def predict(model: nn.Module, loader: Iterable[Any]) -> Predictions:
    """Run ``model`` (in eval mode, without gradients) over ``loader`` and gather every
    distinct sample's score and label from all processes.

    Use it on the validation split to tune thresholds:
    ``tune_thresholds(val.scores, val.labels)``.

    Raises:
        ValueError: batches without ``label`` or ``id``, bad ids, an empty loader.
    """
    return _collect(model, loader, _task(model), [None])[0]


def _resolve(proto: Protocol | str) -> Protocol:
    return proto if isinstance(proto, Protocol) else get_protocol(proto)


def _label_names(
    model: nn.Module, proto: Protocol, label_names: Sequence[str] | None
) -> Sequence[str] | None:
    if label_names is not None or proto.label_names is None:
        return label_names  # a regression protocol rejects explicit names
    config = getattr(model, "config", None)
    return getattr(config, "label_names", None)


def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    protocol: Protocol | str,
    thresholds: Thresholds | None = None,
    label_names: Sequence[str] | None = None,
) -> MetricTable:
    """Score ``model`` on ``loader`` with a paper's protocol.

    Args:
        model: an emofuse model (or any module with ``.config.task`` returning ``EmotionOutput``).
        loader: batches as the module docstring says.
        protocol: a :class:`~emofuse.metrics.Protocol` or ``"name/dataset"``.
        thresholds: multi-label protocols only (required there): from
            :func:`~emofuse.metrics.tune_thresholds` on the validation split.
        label_names: the class of each output column; default ``model.config.label_names``,
            else the dataset's order.
    Returns:
        the protocol's :class:`~emofuse.metrics.MetricTable` (the same in every process).
    Raises:
        ValueError: a model task the protocol does not score, missing or superfluous
            thresholds, bad batches.
    """
    proto = _resolve(protocol)
    _check_task(model, proto)
    preds = predict(model, loader)
    return proto.compute(
        preds.scores,
        preds.labels,
        thresholds=thresholds,
        label_names=_label_names(model, proto, label_names),
    )


def evaluate_robustness(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    protocol: Protocol | str,
    conditions: Sequence[Condition],
    thresholds: Thresholds | None = None,
    label_names: Sequence[str] | None = None,
) -> RobustnessTable:
    """The protocol's table on clean inputs and under each condition, in one pass.

    Args:
        conditions: :class:`MissingModality` and :class:`ModalityNoise` instances (names must
            differ).
        model: as :func:`evaluate`.
        loader: as :func:`evaluate`.
        protocol: as :func:`evaluate`.
        thresholds: as :func:`evaluate`.
        label_names: as :func:`evaluate`.
    Returns:
        a :class:`RobustnessTable` ``{"clean": ..., condition.name: ...}``.
    Raises:
        ValueError: as :func:`evaluate`; no conditions, repeated ones, or a condition on a
            modality the batches lack (noise needs a float modality).
    """
    proto = _resolve(protocol)
    _check_task(model, proto)
    if not conditions:
        raise ValueError("conditions: expected at least one MissingModality or ModalityNoise")
    names = [c.name for c in conditions]
    if len(set(names)) != len(names) or "clean" in names:
        raise ValueError(f"conditions: expected distinct conditions, got {names}")
    preds = _collect(model, loader, proto.task, [None, *conditions])
    names_out = _label_names(model, proto, label_names)
    result = RobustnessTable()
    for name, p in zip(["clean", *names], preds, strict=True):
        result[name] = proto.compute(
            p.scores, p.labels, thresholds=thresholds, label_names=names_out
        )
    return result


def _check_task(model: nn.Module, proto: Protocol) -> None:
    task = _task(model)
    if task != proto.task:
        raise ValueError(
            f"protocol: {proto.key} scores {proto.task} models; this model's task is {task!r}"
        )


__all__ = [
    "Condition",
    "MissingModality",
    "ModalityNoise",
    "Predictions",
    "RobustnessTable",
    "evaluate",
    "evaluate_robustness",
    "predict",
    "scores_from_output",
]
