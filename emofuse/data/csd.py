"""CMU-MultimodalSDK computational sequences (``.csd``, HDF5), aligned to the labelled segments
as the SDK's ``mmdataset.align`` does, into MMSA-like samples (``mcr`` and any feature-sequence
model). Needs ``h5py`` (``pip install emofuse[csd]``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from emofuse.data.manifests import cmu_sdk_folds

# the SDK's tolerance when comparing interval ends (``mmsdk.mmdatasdk.dataset.epsilon``)
EPSILON = 10e-6
LAYOUT = (
    "expected a CMU-MultimodalSDK computational sequence: one root group <root name> holding "
    "'data/<video id>/features' (n, d) and 'data/<video id>/intervals' (n, 2) [start, end] "
    "seconds, and 'metadata/<key>' (1,) JSON strings"
)
_SPLITS = {
    "train": "train",
    "valid": "valid",
    "validation": "valid",
    "dev": "valid",
    "test": "test",
}


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as error:
        raise ImportError(
            "reading .csd files needs h5py: pip install 'emofuse[csd]' (or pip install h5py)"
        ) from error
    return h5py


@dataclass(frozen=True)
class ComputationalSequence:
    """One ``.csd`` file, opened lazily (features are read per video when asked for).

    Attributes:
        path: the file; root_name: its root group (e.g. ``"COVAREP"``, ``"All Labels"``);
        metadata: ``metadata/<key>`` parsed from JSON (plain strings where not JSON);
        videos: the ids under ``data``.
    """

    path: Path
    root_name: str
    metadata: dict[str, Any]
    videos: tuple[str, ...]

    def read(self, video: str) -> tuple[np.ndarray, np.ndarray]:
        """(intervals (n, 2) float64 seconds, features (n, d)) of one video, checked.

        Raises:
            KeyError: no such video.
            ValueError: arrays of the wrong shape, or a file that cannot be read (named).
        """
        if video not in self.videos:
            raise KeyError(f"{self.path}: no video {video!r} under data/")
        h5py = _h5py()
        try:
            with h5py.File(self.path, "r") as file:
                group = file[self.root_name]["data"][video]
                intervals = np.asarray(group["intervals"][()], dtype=np.float64)
                features = np.asarray(group["features"][()])
        except (OSError, KeyError) as error:
            raise ValueError(
                f"{self.path} [{video!r}]: cannot be read ({error}); {LAYOUT}"
            ) from error
        if intervals.ndim == 1 and intervals.shape == (2,):  # a single interval, as the SDK reads
            intervals, features = intervals[None], features[None]
        if (
            intervals.ndim != 2
            or intervals.shape[1] != 2
            or features.ndim < 2
            or (features.shape[0] != intervals.shape[0])
        ):
            raise ValueError(
                f"{self.path} [{video!r}]: intervals {intervals.shape} and features "
                f"{features.shape} do not fit; {LAYOUT}"
            )
        return intervals, features


def read_csd(path: str | os.PathLike[str]) -> ComputationalSequence:
    """Open a computational sequence (its layout is checked; features are read on demand).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not HDF5 (or truncated), or not the SDK's layout (the file and the expected
            layout named).
        ImportError: h5py is not installed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .csd file")
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as file:
            roots = list(file.keys())
            if len(roots) != 1 or not isinstance(file[roots[0]], h5py.Group):
                raise ValueError(f"{path}: root groups {roots}; {LAYOUT}")
            root = file[roots[0]]
            if "data" not in root or "metadata" not in root:
                raise ValueError(f"{path}: {roots[0]!r} holds {sorted(root)}; {LAYOUT}")
            videos = tuple(root["data"].keys())
            metadata = {key: _metadata_value(root["metadata"][key]) for key in root["metadata"]}
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error}); {LAYOUT}") from error
    return ComputationalSequence(path, roots[0], metadata, videos)


def _metadata_value(dataset: Any) -> Any:
    value = dataset[()]
    value = value[0] if getattr(value, "shape", ()) == (1,) else value
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        return json.loads(text)
    except ValueError:
        return text


def intersect(reference: np.ndarray, intervals: np.ndarray, epsilon: float = EPSILON) -> np.ndarray:
    """Rows of ``intervals`` (n, 2) that overlap the ``reference`` [start, end] by more than
    ``epsilon`` (the SDK's ``__intersect_and_copy``), as a boolean (n,) selection."""
    start, end = float(reference[0]), float(reference[1])
    overlaps = (intervals[:, 0] < end + epsilon) & (intervals[:, 1] > start - epsilon)
    clipped = np.minimum(intervals[:, 1], end) - np.maximum(intervals[:, 0], start)
    return overlaps & (np.abs(clipped) > epsilon)


class CSD(Dataset[dict[str, Any]]):
    """CMU-MOSI / CMU-MOSEI computational sequences aligned to their labelled segments: one
    sample per segment (the SDK's ``align`` on the labels), with the standard folds shipped
    in :func:`emofuse.data.cmu_sdk_folds`.

    Layout: the SDK's ``.csd`` files (HDF5; see :data:`LAYOUT`), e.g. for CMU-MOSEI
    ``CMU_MOSEI_TimestampedWordVectors.csd`` (GloVe 300-d), ``CMU_MOSEI_VisualFacet42.csd``
    (35-d), ``CMU_MOSEI_COVAREP.csd`` (74-d) and ``CMU_MOSEI_Labels.csd`` (``All Labels``:
    [sentiment, happy, sad, anger, surprise, disgust, fear] per segment); CMU-MOSI's
    ``CMU_MOSI_Opinion_Labels.csd`` holds the sentiment alone.

    Alignment: for each labelled segment [start, end] (segments shorter than 10 µs dropped, as
    the SDK does), each modality keeps its steps whose interval overlaps the segment by more
    than 10 µs, in time order. A segment where a modality has no step keeps an empty (0, d)
    sequence (its row is all padding after collation). Non-finite features become 0, as MMSA's
    loader does. Videos of the fold missing from a file are listed in ``missing``.

    Args:
        features: ``{"text": path, "audio": path, "video": path}`` (any subset).
        labels: the labels ``.csd``.
        corpus: ``"mosi"`` or ``"mosei"`` (``"cmu_mosi"``, ``"cmu_mosei"``): which folds.
        split: ``"train"``, ``"valid"`` (``"validation"``, ``"dev"``) or ``"test"``.
        label: ``"sentiment"`` (float in [-3, 3], the first label column) or ``"emotions"``
            (CMU-MOSEI: (6,) float 0/1, present when the intensity is > 0, in the SDK order
            :data:`emofuse.labels.CMU_MOSEI_SDK_6`).
        pipeline: a model's input pipeline (:func:`emofuse.transforms.for_model`, e.g. cutting
            to ``mcr``'s ``seq_lens``), applied to each sample's feature sequences.
        transform: applied to each sample (after ``pipeline``).

    Each sample: ``text``, ``audio``, ``video`` (T, d) float32 for the modalities given,
    ``label``, ``id`` (``"<video id>[<segment>]"``, the SDK's aligned key).

    Raises:
        FileNotFoundError: a file is missing. ImportError: h5py is not installed.
        ValueError: a file not in the SDK's layout or truncated (named), an unknown corpus,
            split, modality or label kind, labels of the wrong width.
    """

    def __init__(
        self,
        features: Mapping[str, str | os.PathLike[str]],
        labels: str | os.PathLike[str],
        *,
        corpus: Literal["mosi", "mosei", "cmu_mosi", "cmu_mosei"],
        split: Literal["train", "valid", "validation", "dev", "test"] = "train",
        label: Literal["sentiment", "emotions"] = "sentiment",
        pipeline: Any = None,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        unknown = sorted(set(features) - {"text", "audio", "video"})
        if unknown or not features:
            raise ValueError(
                f"features: expected paths for some of 'text', 'audio', 'video', got "
                f"{sorted(features)}"
            )
        if split not in _SPLITS:
            raise ValueError(f"split: expected one of {list(_SPLITS)}, got {split!r}")
        if label not in ("sentiment", "emotions"):
            raise ValueError(f"label: expected 'sentiment' or 'emotions', got {label!r}")
        self.sequences = {m: read_csd(p) for m, p in features.items()}
        self.labels_csd = read_csd(labels)
        self.label_kind, self.transform = label, transform
        if pipeline is not None and not hasattr(pipeline, "steps"):
            from emofuse.transforms import for_model

            pipeline = for_model(pipeline)
        self.pipeline = pipeline
        fold = cmu_sdk_folds(corpus)[_SPLITS[split]]
        present = set(self.labels_csd.videos).intersection(
            *(s.videos for s in self.sequences.values())
        )
        self.missing = [v for v in fold if v not in present]
        self.segments: list[tuple[str, int, np.ndarray, np.ndarray]] = []
        for video in (v for v in fold if v in present):
            intervals, values = self.labels_csd.read(video)
            for i, (interval, value) in enumerate(zip(intervals, values, strict=True)):
                if abs(interval[1] - interval[0]) < EPSILON:
                    continue
                self.segments.append((video, i, interval, np.asarray(value, dtype=np.float32)))
        if self.segments:
            width = self.segments[0][3].reshape(-1).shape[0]
            if label == "emotions" and width != 7:
                raise ValueError(
                    f"label: 'emotions' needs CMU-MOSEI's 7 label columns [sentiment, happy, "
                    f"sad, anger, surprise, disgust, fear]; {self.labels_csd.path} has {width}"
                )
        self._cache: tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]] | None = None

    def __len__(self) -> int:
        return len(self.segments)

    def _video(self, video: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        if self._cache is None or self._cache[0] != video:  # segments of a video come together
            self._cache = (video, {m: s.read(video) for m, s in self.sequences.items()})
        return self._cache[1]

    def __getitem__(self, index: int) -> Any:
        video, segment, interval, value = self.segments[index]
        sample: dict[str, Any] = {}
        for modality, (intervals, features) in self._video(video).items():
            order = np.argsort(intervals[:, 0], kind="stable")
            keep = order[intersect(interval, intervals[order])]
            rows = features[keep].reshape(len(keep), -1).astype(np.float32)
            rows = np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0)
            sample[modality] = torch.from_numpy(rows)
        if self.pipeline is not None:
            sample = dict(self.pipeline(**sample))
        values = value.reshape(-1)
        if self.label_kind == "sentiment":
            sample["label"] = torch.tensor(float(values[0]))
        else:
            sample["label"] = torch.from_numpy((values[1:7] > 0).astype(np.float32))
        sample["id"] = f"{video}[{segment}]"
        return self.transform(sample) if self.transform is not None else sample


__all__ = ["CSD", "EPSILON", "LAYOUT", "ComputationalSequence", "intersect", "read_csd"]
