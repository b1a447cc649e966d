"""The MOSI / MOSEI / CH-SIMS feature pickles circulated by MMSA, read without executing code."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from emofuse.data import safe_pickle

_SPLITS = {
    "train": "train",
    "valid": "valid",
    "validation": "valid",
    "dev": "valid",
    "test": "test",
}


class MMSA(Dataset[dict[str, Any]]):
    """Pre-extracted CMU-MOSI, CMU-MOSEI or CH-SIMS features in MMSA's pickle layout
    (thuiar/MMSA; the form Yang et al. 2023's ``mcr`` trains on), aligned or unaligned.

    Layout: one pickle (e.g. ``MOSI/Processed/unaligned_50.pkl``,
    ``MOSEI/Processed/aligned_50.pkl``, ``SIMS/Processed/unaligned_39.pkl``) holding
    ``{"train", "valid", "test"}``, each a dict::

        "id"                     (N,) str, "videoid$_$clip"
        "raw_text"               (N,) str
        "text"                   (N, L, D_t) float   word features (GloVe or BERT), padded
        "text_bert"              (N, 3, L) ids, attention mask, segment ids (optional)
        "audio"                  (N, T_a, D_a) float  (COVAREP / librosa), padded
        "vision"                 (N, T_v, D_v) float  (Facet / OpenFace), padded
        "audio_lengths", "vision_lengths"   (N,) valid steps (unaligned releases)
        "regression_labels"      (N,) float sentiment in [-3, 3] ([-1, 1] for CH-SIMS)
        "classification_labels"  (N,) int (optional)

    Tsai et al.'s older pickles with ``"labels"`` (N, 1, 1) instead of ``regression_labels``
    read too. Sequences are cut to their valid steps (``*_lengths``; the text's from
    ``text_bert``'s mask; full length when neither is given), so :func:`emofuse.data.collate`
    re-pads them and builds the masks (``lengths=`` for ``fixed_lengths`` models).
    Non-finite feature values (MOSEI's COVAREP holds ``-inf``) become 0, as MMSA's loader does.

    Args:
        path: the pickle file.
        split: ``"train"``, ``"valid"`` (or ``"validation"``, ``"dev"``) or ``"test"``.
        text: ``"text"`` (word features, (L, D_t) float) or ``"text_bert"`` (token ids, (L,)).
        label: ``"regression"`` (float) or ``"classification"`` (int).
        sha256: the file's expected SHA-256 (MMSA publishes them), checked before reading.
        transform: applied to each sample.

    Each sample: ``text``, ``audio`` (T_a, D_a) float32, ``video`` (T_v, D_v) float32 (MMSA's
    ``vision``), ``label``, ``id``, ``raw_text``.

    Raises:
        FileNotFoundError: no such file.
        UnsafePickleError: the pickle names a global that is not data (nothing is executed).
        ValueError: a truncated or tampered file, a different checksum, a missing split or key
            (the error lists the expected layout), arrays whose sample counts or shapes
            disagree, lengths out of range.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        split: Literal["train", "valid", "validation", "dev", "test"] = "train",
        *,
        text: Literal["text", "text_bert"] = "text",
        label: Literal["regression", "classification"] = "regression",
        sha256: str | None = None,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        if split not in _SPLITS:
            raise ValueError(f"split: expected one of {list(_SPLITS)}, got {split!r}")
        if text not in ("text", "text_bert"):
            raise ValueError(f"text: expected 'text' or 'text_bert', got {text!r}")
        if label not in ("regression", "classification"):
            raise ValueError(f"label: expected 'regression' or 'classification', got {label!r}")
        self.path = Path(path)
        self.split, self.text_key, self.label_kind = _SPLITS[split], text, label
        self.transform = transform
        data = safe_pickle.load(self.path, sha256=sha256)
        if not isinstance(data, dict) or self.split not in data:
            found = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ValueError(
                f"{self.path}: expected a dict with the split {self.split!r}; "
                f"found {found}; {_LAYOUT}"
            )
        part = data[self.split]
        where = f"{self.path} [{self.split!r}]"
        label_key = "regression_labels" if label == "regression" else "classification_labels"
        if label == "regression" and label_key not in part and "labels" in part:
            label_key = "labels"
        needed = [text, "audio", "vision", "id", label_key]
        missing = [k for k in needed if k not in part]
        if missing:
            raise ValueError(f"{where}: missing key(s) {missing}; found {sorted(part)}; {_LAYOUT}")
        self.ids = [str(i) for i in part["id"]]
        n = len(self.ids)
        self.raw_text = [str(t) for t in part.get("raw_text", [""] * n)]
        self.audio = _features(where, "audio", part["audio"], n)
        self.video = _features(where, "vision", part["vision"], n)
        if text == "text":
            self.text = _features(where, "text", part["text"], n)
        else:
            bert = np.asarray(part["text_bert"])
            if bert.ndim != 3 or bert.shape[:2] != (n, 3):
                raise ValueError(f"{where}: 'text_bert' expected (N={n}, 3, L), got {bert.shape}")
            self.text = torch.from_numpy(bert[:, 0].astype(np.int64))
        labels = np.asarray(part[label_key]).reshape(-1)
        if labels.shape[0] != n:
            raise ValueError(f"{where}: {label_key!r} has {labels.shape[0]} labels for {n} ids")
        self.labels = (
            torch.from_numpy(labels.astype(np.float32))
            if label == "regression"
            else torch.from_numpy(labels.astype(np.int64))
        )
        text_lengths = None
        if "text_bert" in part:
            text_lengths = np.asarray(part["text_bert"])[:, 1].sum(axis=1).astype(np.int64)
        self.lengths = {
            "text": _lengths(where, "text", text_lengths, n, self.text.shape[1]),
            "audio": _lengths(where, "audio", part.get("audio_lengths"), n, self.audio.shape[1]),
            "video": _lengths(where, "vision", part.get("vision_lengths"), n, self.video.shape[1]),
        }

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Any:
        sample: dict[str, Any] = {
            name: tensor[index, : int(self.lengths[name][index])]
            for name, tensor in (("text", self.text), ("audio", self.audio), ("video", self.video))
        }
        sample.update(label=self.labels[index], id=self.ids[index], raw_text=self.raw_text[index])
        return self.transform(sample) if self.transform is not None else sample


def _features(where: str, key: str, value: Any, n: int) -> torch.Tensor:
    array = np.asarray(value)
    if array.ndim != 3 or array.shape[0] != n or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"{where}: {key!r} expected (N={n}, T, D) numbers, got {array.shape} {array.dtype}"
        )
    array = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return torch.from_numpy(array)


def _lengths(where: str, key: str, value: Any, n: int, steps: int) -> torch.Tensor:
    if value is None:
        return torch.full((n,), steps, dtype=torch.long)
    lengths = torch.as_tensor(np.asarray(value).reshape(-1).astype(np.int64))
    if lengths.shape[0] != n or (lengths < 1).any() or (lengths > steps).any():
        raise ValueError(
            f"{where}: {key} lengths expected N={n} values in [1, {steps}], "
            f"got {lengths.shape[0]} in [{int(lengths.min())}, {int(lengths.max())}]"
        )
    return lengths


_LAYOUT = (
    "expected MMSA's layout: {'train', 'valid', 'test'} -> {'id', 'raw_text', 'text' (N, L, D), "
    "'text_bert' (N, 3, L), 'audio' (N, T_a, D_a), 'vision' (N, T_v, D_v), 'audio_lengths', "
    "'vision_lengths', 'regression_labels', 'classification_labels'}"
)

__all__ = ["MMSA"]
