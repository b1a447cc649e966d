"""CMU-MultimodalSDK computational sequences (.csd, HDF5): fixtures written with h5py in the
SDK's layout (``write_CSD`` of mmsdk/mmdatasdk/computational_sequence/file_ops.py)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import emofuse
from emofuse.data import CSD, cmu_sdk_folds, read_csd
from emofuse.transforms import for_model

TRAIN = cmu_sdk_folds("mosi")["train"][:2]
TEST = cmu_sdk_folds("mosi")["test"][:1]
DIMS = {"text": 12, "video": 5, "audio": 6}  # mcr_tiny's input_dims
RATES = {"text": 2.0, "video": 15.0, "audio": 50.0}  # steps per second


def write_csd(path: Path, root: str, data: dict, metadata: dict | None = None) -> Path:
    """The SDK's file: ``<root>/data/<vid>/{features, intervals}``, ``<root>/metadata/<key>``."""
    with h5py.File(path, "w") as file:
        group = file.create_group(root)
        data_group = group.create_group("data")
        for vid, entry in data.items():
            vid_group = data_group.create_group(vid)
            vid_group.create_dataset("features", data=entry["features"])
            vid_group.create_dataset("intervals", data=entry["intervals"])
        meta_group = group.create_group("metadata")
        for key, value in (metadata or {"root name": root, "dimension names": None}).items():
            meta_group.create_dataset(key, (1,), dtype=h5py.special_dtype(vlen=str))
            meta_group[key][0] = json.dumps(value)
    return path


def steps(seconds: float, rate: float, dim: int, seed: int) -> dict:
    n = int(seconds * rate)
    starts = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n, dim)).astype(np.float32)
    features[0, 0] = -np.inf  # COVAREP-style -inf: becomes 0
    order = rng.permutation(n)  # the SDK sorts rows by start time before aligning
    intervals = np.stack([starts, starts + 1 / rate], axis=1)
    return {"features": features[order], "intervals": intervals[order]}


@pytest.fixture
def csd_files(tmp_path: Path) -> dict[str, Path]:
    videos = [*TRAIN, *TEST, "not_in_a_fold"]
    files = {}
    for k, (modality, dim) in enumerate(DIMS.items()):
        data = {v: steps(6.0, RATES[modality], dim, seed=10 * k + i) for i, v in enumerate(videos)}
        files[modality] = write_csd(tmp_path / f"CMU_MOSI_{modality}.csd", modality.upper(), data)
    labels = {
        v: {
            # segments [0, 2], [2.5, 4.5], and a zero-length one the SDK drops
            "intervals": np.array([[0.0, 2.0], [2.5, 4.5], [5.0, 5.0]]),
            "features": np.array([[1.5], [-2.0], [0.0]], dtype=np.float32),
        }
        for v in videos
    }
    files["labels"] = write_csd(
        tmp_path / "CMU_MOSI_Opinion_Labels.csd", "Opinion Segment Labels", labels
    )
    return files


def _dataset(files: dict[str, Path], **kwargs) -> CSD:
    features = {m: files[m] for m in DIMS}
    return CSD(features, files["labels"], corpus="mosi", **kwargs)


def test_layout_and_metadata_are_read(csd_files: dict[str, Path]) -> None:
    sequence = read_csd(csd_files["audio"])
    assert sequence.root_name == "AUDIO" and sequence.metadata["root name"] == "AUDIO"
    assert set(TRAIN) <= set(sequence.videos)
    intervals, features = sequence.read(TRAIN[0])
    assert intervals.shape == (300, 2) and features.shape == (300, 6)


def test_segments_are_aligned_as_the_sdk_aligns_them(csd_files: dict[str, Path]) -> None:
    data = _dataset(csd_files, split="train")
    assert len(data) == 4  # 2 videos × 2 segments (the zero-length one dropped)
    assert len(data.missing) == 50 and TRAIN[0] not in data.missing  # the fold has 52
    sample = data[1]
    assert sample["id"] == f"{TRAIN[0]}[1]" and sample["label"].item() == pytest.approx(-2.0)
    # [2.5, 4.5] s: the steps that overlap it, in time order
    assert sample["text"].shape == (4, 12)  # 0.5-s words at 2.5 … 4.0 s (2.0 only touches)
    # 20-ms audio steps 125 … 224; 15-fps video steps 37 … 67 (the two straddling the ends)
    assert sample["audio"].shape == (100, 6) and sample["video"].shape == (31, 5)
    raw = read_csd(csd_files["audio"]).read(TRAIN[0])
    order = np.argsort(raw[0][:, 0])
    np.testing.assert_array_equal(sample["audio"].numpy(), raw[1][order][125:225])
    first = data[0]
    assert first["audio"][0, 0] == 0.0  # -inf became 0
    assert all(torch.isfinite(first[m]).all() for m in DIMS)


def test_folds_come_from_the_shipped_manifest(csd_files: dict[str, Path]) -> None:
    test = _dataset(csd_files, split="test")
    assert {s.split("[")[0] for s in (test[i]["id"] for i in range(len(test)))} == set(TEST)
    assert len(test.missing) == len(cmu_sdk_folds("mosi")["test"]) - 1


def test_samples_train_mcr_through_its_pipeline(csd_files: dict[str, Path]) -> None:
    model = emofuse.build("mcr_tiny")
    pipeline = for_model(model)
    data = _dataset(csd_files, split="train", pipeline=pipeline)
    batch = pipeline.collate([data[i] for i in range(len(data))])
    assert batch["audio"].shape == (4, 7, 6)  # cut to mcr_tiny's seq_lens
    out = model(**{k: v for k, v in batch.items() if k not in ("label", "id")})
    torch.nn.functional.l1_loss(out.logits.squeeze(-1), batch["label"]).backward()


def test_broken_files_name_the_file_and_the_layout(
    csd_files: dict[str, Path], tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.csd"
    truncated.write_bytes(csd_files["audio"].read_bytes()[:1000])
    with pytest.raises(
        ValueError, match=r"truncated.csd: not a readable HDF5 file.*data/<video id>"
    ):
        read_csd(truncated)
    with pytest.raises(FileNotFoundError, match="missing.csd: no such .csd file"):
        read_csd(tmp_path / "missing.csd")
    flat = tmp_path / "flat.csd"
    with h5py.File(flat, "w") as file:
        file.create_group("COVAREP").create_dataset("features", data=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"flat.csd: 'COVAREP' holds \['features'\]; expected"):
        read_csd(flat)
    bad = tmp_path / "bad.csd"
    write_csd(bad, "X", {TRAIN[0]: {"features": np.zeros((3, 2)), "intervals": np.zeros((4, 2))}})
    with pytest.raises(ValueError, match=r"intervals \(4, 2\) and features \(3, 2\) do not fit"):
        read_csd(bad).read(TRAIN[0])
    with pytest.raises(ValueError, match="label: 'emotions' needs CMU-MOSEI's 7 label columns"):
        _dataset(csd_files, label="emotions")
