"""MMSA feature pickles (MOSI / MOSEI / CH-SIMS), aligned and unaligned, read safely."""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from corpus_media import MMSA_AUDIO as D_AUDIO
from corpus_media import MMSA_TEXT as D_TEXT
from corpus_media import MMSA_VISION as D_VISION
from corpus_media import mmsa_split as _split
from corpus_media import write_mmsa as _write

import emofuse
from emofuse.data import MMSA, UnsafePickleError, collate


def test_unaligned_release(tmp_path: Path) -> None:
    path = _write(tmp_path / "unaligned_50.pkl")
    raw = pickle.loads(path.read_bytes())["valid"]
    data = MMSA(path, "validation")
    assert len(data) == 5
    sample = data[1]
    assert sample["id"] == "03bSnISJMiM$_$1" and sample["raw_text"] == "clip 1, said “so”"
    assert sample["audio"].shape == (raw["audio_lengths"][1], D_AUDIO)
    assert sample["video"].shape == (raw["vision_lengths"][1], D_VISION)
    assert sample["text"].shape == (int(raw["text_bert"][1, 1].sum()), D_TEXT)
    torch.testing.assert_close(
        sample["video"], torch.from_numpy(raw["vision"][1, : raw["vision_lengths"][1]])
    )
    assert sample["label"].dtype == torch.float32
    assert float(sample["label"]) == pytest.approx(float(raw["regression_labels"][1]))
    assert data[0]["audio"][0, 0] == 0  # -inf replaced, as MMSA does
    labels = MMSA(path, "test", label="classification").labels
    assert labels.dtype == torch.int64
    ids = MMSA(path, "valid", text="text_bert")[2]["text"]
    assert ids.dtype == torch.int64 and ids.tolist() == raw["text_bert"][2, 0, : len(ids)].tolist()
    assert len(ids) == int(raw["text_bert"][2, 1].sum())


def test_aligned_release_and_mcr_reads_a_batch(tmp_path: Path) -> None:
    data = MMSA(_write(tmp_path / "aligned_50.pkl", aligned=True), "train")
    assert data[0]["audio"].shape[0] == 6  # no lengths: the full aligned length
    model = emofuse.build("mcr_tiny").eval()
    batch = partial(collate, lengths={"text": 6, "video": 9, "audio": 7})(
        [data[i] for i in range(5)]
    )
    labels = batch.pop("label")
    for key in ("id", "raw_text"):
        batch.pop(key)
    assert model(**batch).logits.shape == (5, 1) and labels.shape == (5,)


def test_tsai_labels_key(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    part = _split(3, rng, aligned=True)
    part["labels"] = part.pop("regression_labels").reshape(3, 1, 1)
    path = tmp_path / "mosi_data.pkl"
    path.write_bytes(pickle.dumps({"train": part, "valid": part, "test": part}))
    assert MMSA(path).labels.shape == (3,)


class _Payload:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.target}",))


def test_a_malicious_pickle_does_not_run(tmp_path: Path) -> None:
    path = _write(tmp_path / "unaligned_50.pkl")
    data = pickle.loads(path.read_bytes())
    data["train"]["audio"] = _Payload(tmp_path / "pwned")
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(UnsafePickleError, match="unaligned_50.pkl: refused to load global"):
        MMSA(path)
    assert not (tmp_path / "pwned").exists()


def test_truncated_tampered_and_incomplete_files(tmp_path: Path) -> None:
    path = _write(tmp_path / "unaligned_50.pkl")
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    assert len(MMSA(path, sha256=digest)) == 5
    path.write_bytes(blob[: len(blob) - 100])
    with pytest.raises(ValueError, match=r"unaligned_50.pkl: not a readable pickle"):
        MMSA(path)
    with pytest.raises(ValueError, match=r"unaligned_50.pkl: SHA-256 .* differs"):
        MMSA(path, sha256=digest)
    data = pickle.loads(blob)
    del data["test"]["vision"]
    data["valid"]["audio_lengths"][0] = 99
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(ValueError, match=r"\['test'\]: missing key\(s\) \['vision'\]; found"):
        MMSA(path, "test")
    with pytest.raises(ValueError, match=r"audio lengths expected N=5 values in \[1, 7\]"):
        MMSA(path, "valid")
    path.write_bytes(pickle.dumps({"train": {}}))
    with pytest.raises(ValueError, match="expected a dict with the split 'test'"):
        MMSA(path, "test")
    with pytest.raises(FileNotFoundError):
        MMSA(tmp_path / "missing.pkl")
