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
Dai et al.'s ``data/`` folder     ``DaiIEMOCAP`` / ``DaiMOSEI`` (Dai et al. 2021's   the model's
(``IEMOCAP_RAW_PROCESSED/`` or    raw release) train / valid / test, through the     paper's
``MOSEI_RAW_PROCESSED/``)         model's pipeline                                   (iemocap /
                                                                                     cmu_mosei)
================================  =================================================  ============

Raw recordings go through ``for_model(model)``; its feature statistics (when the model
normalises features) are fitted on the training split, and the pipeline is saved beside the
best model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from torch import nn
from torch.utils.data import Dataset

from emofuse.data import MELD, MMSA, RAVDESS, SyntheticEmotion
from emofuse.labels import MELD_7, RAVDESS_8
from emofuse.metrics import PROTOCOLS
from emofuse.models.base import EmotionModel

LAYOUTS = (
    "synthetic or synthetic:N (N training samples)",
    "an MMSA feature pickle (MOSI/MOSEI/SIMS .pkl)",
    "a RAVDESS folder of Actor_XX/ folders (with --fold K)",
    "a MELD folder with train_sent_emo.csv, dev_sent_emo.csv, test_sent_emo.csv",
    "Dai et al. 2021's data/ folder with IEMOCAP_RAW_PROCESSED/ or MOSEI_RAW_PROCESSED/",
)
# the paper whose protocol scores each model family (emofuse.metrics.protocols)
PAPERS = {
    "mer_sem_mbt": "xia2022",
    "emotion_query_transformer": "le2023",
    "colearning_transformer": "takashima2022",
    "av_attention_fusion": "mocanu2023",
    "mcr": "yang2023",
}


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
    data: str, model: nn.Module, *, fold: int | None = None, seed: int = 0
) -> DataSplits:
    """The splits of ``data`` (see the module table) in ``model``'s input layout.

    Raises:
        ValueError: a layout that is none of those recognised (the message lists them), a
            ``--fold`` for a corpus without folds, or a corpus the model cannot read.
        FileNotFoundError: a path that does not exist.
    """
    if data == "synthetic" or data.startswith("synthetic:"):
        size = _synthetic_size(data)
        emotion_model = cast(EmotionModel, model)  # SyntheticEmotion reads its input specs
        return DataSplits(
            SyntheticEmotion(emotion_model, size, seed=seed + 1),
            SyntheticEmotion(emotion_model, max(1, size // 4), seed=seed + 2),
            SyntheticEmotion(emotion_model, max(1, size // 4), seed=seed + 3),
            None,
            None,
            f"synthetic: {size} training samples",
        )
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"--data: {data} does not exist; expected {_layouts()}")
    if path.is_file() and path.suffix in (".pkl", ".pickle"):
        _no_fold(fold, "MMSA")
        return _mmsa(path, model)
    if path.is_dir() and any(p.is_dir() and p.name.startswith("Actor_") for p in path.iterdir()):
        return _ravdess(path, model, 0 if fold is None else fold)
    if path.is_dir() and (path / "train_sent_emo.csv").is_file():
        _no_fold(fold, "MELD")
        return _meld(path, model)
    for folder, corpus in (("IEMOCAP_RAW_PROCESSED", "iemocap"), ("MOSEI_RAW_PROCESSED", "mosei")):
        if path.is_dir() and (path / folder / "meta.pkl").is_file():
            _no_fold(fold, f"Dai et al.'s {corpus}")
            return _dai(path, model, corpus)
    raise ValueError(f"--data: {data} is none of the layouts emofuse reads: {_layouts()}")


def _layouts() -> str:
    return "; ".join(LAYOUTS)


def _synthetic_size(data: str) -> int:
    _, _, size = data.partition(":")
    try:
        value = int(size) if size else 512
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"--data: expected synthetic or synthetic:N with N >= 1, got {data!r}")
    return value


def _no_fold(fold: int | None, corpus: str) -> None:
    if fold is not None:
        raise ValueError(f"--fold: {corpus} has fixed splits, got --fold {fold}")


def _task(model: nn.Module) -> str:
    return str(getattr(getattr(model, "config", None), "task", ""))


def protocol_for(model: nn.Module, dataset: str) -> str | None:
    """The protocol (``"paper/dataset"``) of the model's paper on ``dataset``, if the paper
    reports that dataset for the model's task."""
    name = getattr(model, "registered_name", None) or ""
    paper = next((p for family, p in PAPERS.items() if name.startswith(family)), None)
    chosen = PROTOCOLS.get((paper or "", dataset))
    return chosen.key if chosen is not None and chosen.task == _task(model) else None


def _mmsa(path: Path, model: nn.Module) -> DataSplits:
    label = "regression" if _task(model) == "regression" else "classification"
    train, val, test = (MMSA(path, s, label=label) for s in ("train", "valid", "test"))  # type: ignore[arg-type]  # literal splits
    _check_feature_sizes(model, train, path)
    name = path.as_posix().lower()
    dataset = "mosei" if "mosei" in name else "mosi" if "mosi" in name else None
    protocol = protocol_for(model, dataset) if dataset else None
    return DataSplits(train, val, test, protocol, None, f"MMSA {path} ({label})")


def _check_feature_sizes(model: nn.Module, data: MMSA, path: Path) -> None:
    """A model with fixed feature widths and lengths (``input_dims``, ``seq_lens``: mcr) must
    match the file's, or the first batch would fail far from the cause."""
    config = getattr(model, "config", None)
    dims, lens = getattr(config, "input_dims", None), getattr(config, "seq_lens", None)
    order = ("text", "video", "audio")  # the fields' order
    found_dims = tuple(int(getattr(data, m).shape[-1]) for m in order)
    found_lens = tuple(int(getattr(data, m).shape[1]) for m in order)
    fix = f"--set input_dims={','.join(map(str, found_dims))} " + (
        f"--set seq_lens={','.join(map(str, found_lens))}"
    )
    if dims is not None and tuple(dims) != found_dims:
        raise ValueError(
            f"input_dims: the model takes feature widths {tuple(dims)} (text, video, audio); "
            f"{path} holds {found_dims}: build it for the file ({fix})"
        )
    if lens is not None and any(f > n for f, n in zip(found_lens, lens, strict=True)):
        raise ValueError(
            f"seq_lens: the model takes at most {tuple(lens)} steps (text, video, audio); "
            f"{path} holds {found_lens}: build it for the file ({fix})"
        )


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


def _check_labels(model: nn.Module, names: tuple[str, ...], corpus: str) -> None:
    """A single-label corpus needs a multiclass model over its emotions, in its order; else
    the first batch would fail (or, worse, train) with the wrong classes."""
    config = getattr(model, "config", None)
    if config is None:
        return
    fix = f"--set task=multiclass --set label_names={','.join(names)}"
    if config.task != "multiclass":
        raise ValueError(
            f"task: {corpus}'s emotions are single-label, the model was built for "
            f"{config.task!r}; build it with {fix}"
        )
    label_names = getattr(config, "label_names", None)
    if (tuple(label_names) if label_names else None) != names and not (
        label_names is None and config.num_classes == len(names)
    ):
        raise ValueError(
            f"label_names: {corpus}'s labels are {list(names)}, the model's "
            f"{list(label_names) if label_names else f'{config.num_classes} unnamed classes'}; "
            f"build it with {fix}"
        )


def _ravdess(path: Path, model: nn.Module, fold: int) -> DataSplits:
    _check_labels(model, RAVDESS_8, "RAVDESS")
    modalities = getattr(getattr(model, "config", None), "modalities", ("audio", "video"))
    recordings = ("audio",) if "video" not in modalities else ("audio_video",)
    (train, val, test), pipeline = _raw_splits(
        lambda s: RAVDESS(path, recordings=recordings, fold=fold, split=s),  # type: ignore[arg-type]  # literal splits
        ("train", "validation", "test"),
        model,
    )
    protocol = protocol_for(model, "ravdess")
    return DataSplits(train, val, test, protocol, pipeline, f"RAVDESS {path}, fold {fold}")


def _meld(path: Path, model: nn.Module) -> DataSplits:
    _check_labels(model, MELD_7, "MELD")
    (train, val, test), pipeline = _raw_splits(
        lambda s: MELD(path, s),  # type: ignore[arg-type]  # literal splits
        ("train", "dev", "test"),
        model,
    )
    return DataSplits(train, val, test, None, pipeline, f"MELD {path} (transcripts)")


def _dai(path: Path, model: nn.Module, corpus: str) -> DataSplits:
    import emofuse.data

    name = "DaiIEMOCAP" if corpus == "iemocap" else "DaiMOSEI"
    cls = getattr(emofuse.data, name, None)
    if cls is None:
        raise ValueError(
            f"--data: {path} is Dai et al.'s {corpus} layout, read by emofuse.data.{name}, "
            "which this version of emofuse lacks"
        )
    pipeline = _pipeline(model)
    if pipeline.normalizers:
        train_raw = cls(path, "train")
        pipeline.fit(train_raw.raw(i) for i in range(len(train_raw)))
    train, val, test = (cls(path, s, pipeline=pipeline) for s in ("train", "valid", "test"))
    protocol = protocol_for(model, "iemocap" if corpus == "iemocap" else "cmu_mosei")
    return DataSplits(train, val, test, protocol, pipeline, f"Dai et al. {corpus} {path}")


__all__ = ["LAYOUTS", "PAPERS", "DataSplits", "protocol_for", "resolve_data"]
