"""CREMA-D: file-name labels, filters, actor-disjoint folds."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_media import tone, write_wav

from emofuse.data import CremaD, crema_d_folds, parse_crema_d_name
from emofuse.labels import CREMA_D_6


def _corpus(root: Path, actors=(1001, 1002, 1011)) -> None:
    for actor in actors:
        for emotion, level in [("ANG", "HI"), ("NEU", "XX"), ("SAD", "LO"), ("HAP", "MD")]:
            write_wav(
                root / "AudioWAV" / f"{actor}_DFA_{emotion}_{level}.wav",
                tone(16000, 0.05, 1),
                16000,
            )


def test_labels_and_fields(tmp_path: Path) -> None:
    _corpus(tmp_path)
    data = CremaD(tmp_path)
    assert len(data) == 12
    sample = data[0]
    assert sample["id"] == "1001_DFA_ANG_HI" and CREMA_D_6[sample["label"]] == "anger"
    assert sample["actor"] == 1001 and sample["level"] == "high" and sample["sentence"] == "DFA"
    assert sample["audio"].shape == (1, 800) and sample["sample_rate"] == 16000
    assert len(CremaD(tmp_path / "AudioWAV", emotions=["sad"])) == 3
    assert {c.actor for c in CremaD(tmp_path, actors=[1002]).clips} == {1002}


def test_broken_names_listed(tmp_path: Path) -> None:
    _corpus(tmp_path, actors=(1001,))
    write_wav(tmp_path / "AudioWAV" / "1001_DFA_JOY_XX.wav", tone(8000, 0.05, 1), 8000)
    write_wav(tmp_path / "AudioWAV" / "take2.wav", tone(8000, 0.05, 1), 8000)
    with pytest.raises(ValueError, match="2 file") as info:
        CremaD(tmp_path)
    assert "1001_DFA_JOY_XX.wav: not a CREMA-D file name: invalid emotion JOY" in str(info.value)
    assert "take2.wav" in str(info.value)
    with pytest.raises(ValueError, match="invalid actor 0999"):
        parse_crema_d_name("0999_DFA_ANG_XX.wav")


def test_folds(tmp_path: Path) -> None:
    folds = crema_d_folds()
    assert len(folds) == 10
    assert sorted(a for f in folds for a in f["test"]) == list(range(1001, 1092))
    for fold in folds:
        parts = [set(fold[s]) for s in ("train", "validation", "test")]
        assert sum(map(len, parts)) == 91 and set.union(*parts) == set(range(1001, 1092))
    _corpus(tmp_path)
    test = CremaD(tmp_path, fold=0, split="test")
    assert {c.actor for c in test.clips} == {1001, 1011}
    assert {c.actor for c in CremaD(tmp_path, fold=0, split="validation").clips} == {1002}
    assert {c.actor for c in CremaD(tmp_path, fold=2, split="train").clips} == {1001, 1002, 1011}
    with pytest.raises(FileNotFoundError, match="expected the CREMA-D release layout"):
        CremaD(tmp_path / "nowhere")
