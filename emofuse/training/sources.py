"""``--data``: a corpus as users hold it, resolved to the :mod:`emofuse.data` adapter and the
model's input pipeline (:func:`emofuse.transforms.for_model`).

================================  =================================================  ============
``--data``                        adapter and splits                                 protocol
================================  =================================================  ============
``synthetic`` / ``synthetic:N``   :class:`~emofuse.data.SyntheticEmotion`, N training
                                  samples (default 512), N/4 validation and test     none
a ``.pkl`` file                   :class:`~emofuse.data.MMSA` train / valid / test   ``yang2023``
                                                                                     (mosi/mosei)
a folder of ``Actor_XX/``         :class:`~emofuse.data.RAVDESS`, Mocanu et al.'s    ``mocanu2023
                                  actor fold ``--fold K`` (train / validation /      /ravdess``
                                  test), through the model's input pipeline
a folder with ``*_sent_emo.csv``  :class:`~emofuse.data.MELD` train / dev / test     none
                                  (transcripts), through the model's pipeline
================================  =================================================  ============

Raw recordings go through ``for_model(model)``; its feature statistics (when the model
normalises features) are fitted on the training split, and the pipeline is saved beside the
best model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from emofuse.data import MELD, MMSA, RAVDESS, SyntheticEmotion

LAYOUTS = (
    "synthetic or synthetic:N (N training samples)",
    "an MMSA feature pickle (MOSI/MOSEI/SIMS .pkl)",
    "a RAVDESS folder of Actor_XX/ folders (with --fold K)",
    "a MELD folder with train_sent_emo.csv, dev_sent_emo.csv, test_sent_emo.csv",
)


@dataclass
class DataSplits:
    """The splits of a resolved ``--data`` and how to score them.

    Attributes:
        train, validation, test: datasets of model-ready samples (``validation`` or ``test``
            may be ``None`` when the corpus has none).
        protocol: the paper protocol (``"name/dataset"``) of :mod:`emofuse.metrics` for this
            corpus and model, or ``None``.
        pipeline: the input pipeline the samples went through (``None`` for features).
        description: one line for the log.
    """

    train: Dataset[Any]
    validation: Dataset[Any] | None
    test: Dataset[Any] | None
    protocol: str | None
    pipeline: Any
    description: str


def resolve_data(
    spec: str, model: nn.Module, *, fold: int | None = None, seed: int = 0
) -> DataSplits:
    """The splits of ``spec`` (see the module table) in ``model``'s input layout.

    Raises:
        ValueError: a layout that is none of those recognised (the message lists them), a
            ``--fold`` for a corpus without folds, or a corpus the model cannot read.
        FileNotFoundError: a path that does not exist.
    """
    if spec == "synthetic" or spec.startswith("synthetic:"):
        size = _synthetic_size(spec)
        return DataSplits(
            SyntheticEmotion(model, size, seed=seed + 1),  # type: ignore[arg-type]  # EmotionModel
            SyntheticEmotion(model, max(1, size // 4), seed=seed + 2),  # type: ignore[arg-type]
            SyntheticEmotion(model, max(1, size // 4), seed=seed + 3),  # type: ignore[arg-type]
            None,
            None,
            f"synthetic: {size} training samples",
        )
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"--data: {spec} does not exist; expected {_layouts()}")
    if path.is_file() and path.suffix in (".pkl", ".pickle"):
        _no_fold(fold, "MMSA")
        return _mmsa(path, model)
    if path.is_dir() and any(p.is_dir() and p.name.startswith("Actor_") for p in path.iterdir()):
        return _ravdess(path, model, 0 if fold is None else fold)
    if path.is_dir() and (path / "train_sent_emo.csv").is_file():
        _no_fold(fold, "MELD")
        return _meld(path, model)
    raise ValueError(f"--data: {spec} is none of the layouts emofuse reads: {_layouts()}")


def _layouts() -> str:
    return "; ".join(LAYOUTS)


def _synthetic_size(spec: str) -> int:
    _, _, size = spec.partition(":")
    try:
        value = int(size) if size else 512
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"--data: expected synthetic or synthetic:N with N >= 1, got {spec!r}")
    return value


def _no_fold(fold: int | None, corpus: str) -> None:
    if fold is not None:
        raise ValueError(f"--fold: {corpus} has fixed splits, got --fold {fold}")


def _task(model: nn.Module) -> str:
    return str(getattr(getattr(model, "config", None), "task", ""))


def _mmsa(path: Path, model: nn.Module) -> DataSplits:
    label = "regression" if _task(model) == "regression" else "classification"
    train, val, test = (MMSA(path, s, label=label) for s in ("train", "valid", "test"))  # type: ignore[arg-type]  # literal splits
    name = path.as_posix().lower()
    dataset = "mosei" if "mosei" in name else "mosi" if "mosi" in name else None
    protocol = f"yang2023/{dataset}" if dataset and label == "regression" else None
    return DataSplits(train, val, test, protocol, None, f"MMSA {path} ({label})")


def _pipeline(model: nn.Module) -> Any:
    from emofuse.transforms import for_model

    return for_model(model)  # type: ignore[arg-type]  # an EmotionModel


class _Through(Dataset[dict[str, Any]]):
    """A raw corpus's samples turned into model inputs by an input pipeline."""

    def __init__(self, raw: Any, pipeline: Any) -> None:
        self.raw, self.pipeline = raw, pipeline

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.raw[index]
        return {**self.pipeline(**_clip(sample)), "label": sample["label"], "id": sample["id"]}


def _clip(sample: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("audio", "video", "text", "sample_rate", "fps")
    return {k: sample[k] for k in keys if sample.get(k) is not None}


def _fit_statistics(pipeline: Any, raw: Any) -> None:
    if pipeline.normalizers:
        pipeline.fit(_clip(raw[i]) for i in range(len(raw)))


def _raw_splits(
    make: Callable[[str], Any], splits: tuple[str, str, str], model: nn.Module
) -> tuple[list[Dataset[Any]], Any]:
    pipeline = _pipeline(model)
    raws = [make(s) for s in splits]
    _fit_statistics(pipeline, raws[0])
    return [_Through(r, pipeline) for r in raws], pipeline


def _ravdess(path: Path, model: nn.Module, fold: int) -> DataSplits:
    modalities = getattr(getattr(model, "config", None), "modalities", ("audio", "video"))
    recordings = ("audio",) if "video" not in modalities else ("audio_video",)
    (train, val, test), pipeline = _raw_splits(
        lambda s: RAVDESS(path, recordings=recordings, fold=fold, split=s),  # type: ignore[arg-type]  # literal splits
        ("train", "validation", "test"),
        model,
    )
    protocol = "mocanu2023/ravdess" if _task(model) == "multiclass" else None
    return DataSplits(train, val, test, protocol, pipeline, f"RAVDESS {path}, fold {fold}")


def _meld(path: Path, model: nn.Module) -> DataSplits:
    (train, val, test), pipeline = _raw_splits(
        lambda s: MELD(path, s),  # type: ignore[arg-type]  # literal splits
        ("train", "dev", "test"),
        model,
    )
    return DataSplits(train, val, test, None, pipeline, f"MELD {path} (transcripts)")


__all__ = ["LAYOUTS", "DataSplits", "resolve_data"]
