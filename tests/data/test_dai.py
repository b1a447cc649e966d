"""Dai et al. 2021's raw release of IEMOCAP and CMU-MOSEI, on fixtures in its layout."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from corpus_media import tone, write_wav
from torchvision.io import encode_jpeg

import emofuse
from emofuse.data import DaiIEMOCAP, DaiMOSEI, UnsafePickleError, collate, dai2021_split
from emofuse.transforms import for_model

# two utterances of one IEMOCAP dialogue: the session's actor (F) and the other speaker (M)
IEMOCAP_META = {
    "Ses01F_impro01_F000": {"label": "neu", "text": "Excuse me.", "frames": 40},
    "Ses01F_impro01_M002": {"label": "fru", "text": "Do you have your forms?", "frames": 31},
    "Ses02M_script01_1_F007": {"label": "exc", "text": "Oh wow, that's great!", "frames": 24},
}
MOSEI_META = {
    "-3g5yACwYnA_10": ([0, 0, 1, 1, 1, 0], "Key is part of the people that we use"),
    "--qXJuDtHPw_5": ([0, 0, 0, 1, 0, 0], "I see that a writer is somebody"),
}


def _jpeg(path: Path, side: int, value: int) -> None:
    """A 3-channel JPEG (``cv2.imwrite`` of a 224×224 crop in the release; smaller here)."""
    image = torch.full((3, side, side), value, dtype=torch.uint8)
    image[0] = torch.arange(side, dtype=torch.uint8)[None] * 2  # some structure
    path.write_bytes(encode_jpeg(image).numpy().tobytes())


def write_dai_iemocap(root: Path, meta_extra: dict | None = None) -> Path:
    main = root / "IEMOCAP_RAW_PROCESSED"
    meta = {}
    for i, (uid, entry) in enumerate(IEMOCAP_META.items()):
        folder = main / "_".join(uid.split("_")[:2]) / uid
        folder.mkdir(parents=True)
        seconds = entry["frames"] / 29.97
        stereo = tone(16_000, seconds, 2)
        write_wav(folder / "audio.wav", stereo, 16_000)  # scipy's wavfile.write, int16
        write_wav(folder / "audio_L.wav", stereo[:1], 16_000)
        write_wav(folder / "audio_R.wav", stereo[1:], 16_000)
        for side, value in (("L", 50), ("R", 200)):
            for k in range(entry["frames"]):
                _jpeg(folder / f"image_{side}_{k}.jpg", 32, value)
        meta[uid] = {
            "start_time": 10.0 * i,
            "end_time": 10.0 * i + seconds,
            "label": entry["label"],
            "text": entry["text"],
            "sr": 16_000,
            "fps": 29.97,
        }
    meta.update(meta_extra or {})
    (main / "meta.pkl").write_bytes(pickle.dumps(meta))  # protocol of the notebook's Python 3
    return root


def write_dai_mosei(root: Path) -> Path:
    main = root / "MOSEI_RAW_PROCESSED"
    meta = {}
    for k, (uid, (labels, text)) in enumerate(MOSEI_META.items()):
        folder = main / uid
        folder.mkdir(parents=True)
        write_wav(folder / "audio.wav", tone(16_000, 1.6 + k, 1), 16_000)
        for i in range(4 + 2 * k):  # 2 fps
            _jpeg(folder / f"image_{i}.jpg", 40, 120)
        # pandas' itertuples hands the notebook numpy integers
        meta[uid] = {"text": text, "label": [np.int64(v) for v in labels]}
    (main / "meta.pkl").write_bytes(pickle.dumps(meta))
    return root


@pytest.fixture
def iemocap(tmp_path: Path) -> Path:
    return write_dai_iemocap(tmp_path)


def test_iemocap_raw_reads_the_speakers_side(iemocap: Path) -> None:
    data = DaiIEMOCAP(iemocap, ids=list(IEMOCAP_META))
    assert len(data) == 3
    first, second = data.raw(0), data.raw(1)
    assert first["id"] == "Ses01F_impro01_F000" and first["text"] == "Excuse me."
    assert first["label"].tolist() == [0, 0, 0, 0, 1, 0]  # neutral, IEMOCAP_6 order
    assert second["label"].tolist() == [0, 0, 1, 0, 0, 0]  # frustrated
    # F000 in a session of actor F: the left half and channel; M002: the right
    assert first["video"].shape == (40, 32, 32, 3) and first["video"].dtype == torch.uint8
    assert abs(int(first["video"][0, :, :, 1].float().mean()) - 50) < 5
    assert abs(int(second["video"][0, :, :, 1].float().mean()) - 200) < 5
    assert second["video"].shape[0] == 31 and first["fps"] == pytest.approx(29.97)
    left = tone(16_000, 40 / 29.97, 2)[0] / 32768
    np.testing.assert_allclose(first["audio"].samples[0].numpy(), left, atol=1e-4)
    assert first["audio"].sample_rate == 16_000
    # decoding at most 10 frames per second keeps every third frame
    assert DaiIEMOCAP(iemocap, ids=list(IEMOCAP_META), max_fps=10).raw(0)["video"].shape[0] == 14


@pytest.mark.parametrize("name", ["mer_sem_mbt_tiny", "emotion_query_transformer_tiny"])
def test_samples_through_the_models_pipeline_train_the_model(iemocap: Path, name: str) -> None:
    model = emofuse.build(name)
    data = DaiIEMOCAP(iemocap, ids=list(IEMOCAP_META), pipeline=for_model(model))
    sample = data[2]
    assert sample["id"] == "Ses02M_script01_1_F007" and sample["text"].dtype == torch.long
    batch = collate([data[i] for i in range(len(data))])
    out = model(**{k: v for k, v in batch.items() if k not in ("label", "id")})
    loss = torch.nn.functional.binary_cross_entropy_with_logits(out.logits, batch["label"])
    loss.backward()
    assert batch["label"].shape == (3, 6) and loss.isfinite()


def test_mosei_release(tmp_path: Path) -> None:
    write_dai_mosei(tmp_path)
    data = DaiMOSEI(tmp_path, ids=list(MOSEI_META), pipeline="emotion_query_transformer_tiny")
    raw = data.raw(0)
    assert raw["fps"] == 2.0 and raw["video"].shape == (4, 40, 40, 3)
    assert raw["label"].tolist() == [0, 0, 1, 1, 1, 0] and raw["label"].dtype == torch.float32
    sample = data[1]
    assert sample["video"].shape[0] == 3  # 6 frames at 2 fps → one per second
    assert sample["label"].tolist() == [0, 0, 0, 1, 0, 0]


def test_the_shipped_split_is_read_and_missing_folders_are_named(tmp_path: Path) -> None:
    valid = dai2021_split("iemocap", "valid")
    extra = {uid: {"label": "neu", "text": "hm", "fps": 30.0} for uid in valid}
    write_dai_iemocap(tmp_path, meta_extra=extra)
    with pytest.raises(FileNotFoundError, match=r"737 utterance folder\(s\) missing.*Dai et al"):
        DaiIEMOCAP(tmp_path, "valid")


def test_missing_and_broken_files_name_the_file_and_the_layout(iemocap: Path) -> None:
    ids = list(IEMOCAP_META)
    with pytest.raises(FileNotFoundError, match="MOSEI_RAW_PROCESSED/meta.pkl: no meta.pkl"):
        DaiMOSEI(iemocap, ids=ids)
    with pytest.raises(ValueError, match=r"1 id\(s\) of the split missing.*'Ses09F_x_F000'"):
        DaiIEMOCAP(iemocap, ids=[*ids, "Ses09F_x_F000"])

    folder = iemocap / "IEMOCAP_RAW_PROCESSED" / "Ses01F_impro01" / "Ses01F_impro01_F000"
    wav = folder / "audio_L.wav"
    wav.write_bytes(wav.read_bytes()[:-400])
    data = DaiIEMOCAP(iemocap, ids=ids)
    with pytest.raises(ValueError, match="audio_L.wav is truncated"):
        data.raw(0)
    (folder / "audio_R.wav").unlink()  # the other side is not read
    jpeg = folder / "image_L_3.jpg"
    wav.write_bytes((folder / "audio.wav").read_bytes())
    jpeg.write_bytes(jpeg.read_bytes()[:50])
    with pytest.raises(ValueError, match=r"image_L_3.jpg: could not decode.*IEMOCAP_RAW_PROCESSED"):
        data.raw(0)
    os.remove(folder / "audio_L.wav")
    with pytest.raises(FileNotFoundError, match=r"audio_L.wav: no audio file; expected Dai"):
        data.raw(0)


def test_meta_pkl_is_read_without_running_code_and_checked(iemocap: Path) -> None:
    meta_path = iemocap / "IEMOCAP_RAW_PROCESSED" / "meta.pkl"
    good = meta_path.read_bytes()
    target = iemocap / "pwned"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {target}",))

    meta_path.write_bytes(pickle.dumps({"Ses01F_impro01_F000": Payload()}))
    with pytest.raises(UnsafePickleError):
        DaiIEMOCAP(iemocap, ids=["Ses01F_impro01_F000"])
    assert not target.exists()
    meta_path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="meta.pkl"):
        DaiIEMOCAP(iemocap, ids=["Ses01F_impro01_F000"])
    meta = pickle.loads(good)
    meta["Ses01F_impro01_F000"]["label"] = "xxx"
    meta_path.write_bytes(pickle.dumps(meta))
    with pytest.raises(ValueError, match="label 'xxx' is not one of the six classes"):
        DaiIEMOCAP(iemocap, ids=["Ses01F_impro01_F000"])
