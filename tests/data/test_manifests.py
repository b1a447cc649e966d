"""Shipped split and fold manifests: counts, checksums, licences beside them."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from emofuse.data import cmu_sdk_folds, dai2021_split, manifests, ravdess_folds, read_manifest


def test_dai2021_splits_as_released() -> None:
    sizes = {s: len(dai2021_split("iemocap", s)) for s in ("train", "valid", "test")}
    assert sizes == {"train": 5162, "valid": 737, "test": 1481}
    sizes = {s: len(dai2021_split("mosei", s)) for s in ("train", "validation", "test")}
    assert sizes == {"train": 14524, "validation": 1765, "test": 4188}
    assert dai2021_split("iemocap", "train")[0] == "Ses04F_script01_1_F024"
    splits = [set(dai2021_split("iemocap", s)) for s in ("train", "valid", "test")]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    with pytest.raises(ValueError, match="corpus: expected"):
        dai2021_split("meld", "train")  # type: ignore[arg-type]


def test_cmu_sdk_standard_folds() -> None:
    assert {k: len(v) for k, v in cmu_sdk_folds("mosi").items()} == {
        "train": 52,
        "valid": 10,
        "test": 31,
    }
    mosei = cmu_sdk_folds("cmu_mosei")
    assert {k: len(v) for k, v in mosei.items()} == {"train": 2249, "valid": 300, "test": 678}
    assert not set(mosei["train"]) & set(mosei["test"])


def test_every_shipped_file_has_its_checksum_and_licence() -> None:
    folder = resources.files("emofuse.data").joinpath("manifests")
    sums = manifests.checksums()
    assert len(sums) == 9
    for name in sums:
        read_manifest(name)
    for source in ("dai2021", "cmu_sdk"):
        assert folder.joinpath(source, "ATTRIBUTION.md").is_file()
    assert "CC BY 4.0" in folder.joinpath("dai2021", "ATTRIBUTION.md").read_text()
    assert "Permission is hereby granted" in folder.joinpath("cmu_sdk", "LICENSE.txt").read_text()
    assert len(ravdess_folds()) == 10


def test_a_changed_manifest_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "manifests"
    shutil.copytree(Path(str(resources.files("emofuse.data").joinpath("manifests"))), copy)
    monkeypatch.setattr(manifests, "_folder", lambda: copy)
    assert len(dai2021_split("iemocap", "valid")) == 737
    path = copy / "dai2021" / "IEMOCAP_split" / "valid_split.txt"
    path.write_text(path.read_text() + "Ses01F_impro01_F000\n")
    with pytest.raises(ValueError, match="valid_split.txt: SHA-256 .* differs"):
        dai2021_split("iemocap", "valid")
    with pytest.raises(FileNotFoundError, match="manifest: expected one of"):
        read_manifest("folds.json")
