"""RAVDESS: the release layout, file-name labels, filters, folds, unreadable files."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from corpus_media import tone, write_mp4, write_ravdess_speech, write_wav

from emofuse.data import RAVDESS, parse_name, ravdess_folds
from emofuse.labels import RAVDESS_8


def test_labels_and_fields_come_from_the_file_names(tmp_path: Path) -> None:
    names = write_ravdess_speech(tmp_path)
    data = RAVDESS(tmp_path)
    assert len(data) == len(names) == 30
    sample = data[[c.id for c in data.clips].index("03-01-05-02-01-01-02")]
    assert RAVDESS_8[sample["label"]] == "angry" and sample["actor"] == 2
    assert sample["intensity"] == "strong" and sample["vocal_channel"] == "speech"
    assert sample["statement"] == 1 and sample["repetition"] == 1
    assert sample["sample_rate"] == 48000 and sample["audio"].shape == (1, 4800)
    assert sample["audio"].dtype == torch.float32
    expected = tone(48000, 0.1, 1, freq=500.0)
    np.testing.assert_allclose(sample["audio"].numpy() * 32768, expected, atol=1)
    assert Counter(data.labels) == Counter({0: 2, **{k: 4 for k in range(1, 8)}})


def test_filters(tmp_path: Path) -> None:
    write_ravdess_speech(tmp_path)
    write_wav(tmp_path / "Actor_01" / "03-02-03-01-02-02-01.wav", tone(48000, 0.1, 1), 48000)
    assert len(RAVDESS(tmp_path, vocal_channel="song")) == 1
    assert len(RAVDESS(tmp_path, vocal_channel="speech")) == 30
    assert len(RAVDESS(tmp_path, intensity="strong")) == 14
    assert len(RAVDESS(tmp_path, statement=2)) == 1
    assert {c.actor for c in RAVDESS(tmp_path, actors=[2]).clips} == {2}
    assert set(RAVDESS(tmp_path, emotions=["calm", "sad"]).labels) == {1, 3}
    with pytest.raises(ValueError, match="emotions: expected names"):
        RAVDESS(tmp_path, emotions=["happiness"])
    with pytest.raises(ValueError, match="intensity: expected"):
        RAVDESS(tmp_path, intensity="high")  # type: ignore[arg-type]
    # an empty selection names the filters and what the folder holds, not the layout
    with pytest.raises(FileNotFoundError, match=r"no RAVDESS file matches .*actors=\[3\]; the "
                       r"31 files found hold actors \[1, 2\]") as error:  # fmt: skip
        RAVDESS(tmp_path, actors=[3])
    assert "layout" not in str(error.value)
    with pytest.raises(FileNotFoundError, match=r"actors=\[4, 5, 6\] \(fold 1, test\); the"):
        RAVDESS(tmp_path, fold=1, split="test")


def test_48k_stereo_resampled_and_mixed(tmp_path: Path) -> None:
    stereo = tone(48000, 0.5, 2)
    write_wav(tmp_path / "Actor_01" / "03-01-02-01-01-02-01.wav", stereo, 48000)
    (sample,) = list(RAVDESS(tmp_path))
    assert sample["audio"].shape == (2, 24000) and sample["sample_rate"] == 48000
    np.testing.assert_allclose(sample["audio"].numpy() * 32768, stereo, atol=1)
    (mixed,) = list(RAVDESS(tmp_path, sample_rate=16000, mono=True))
    assert mixed["audio"].shape == (1, 8000) and mixed["sample_rate"] == 16000
    # the 440 Hz + 880 Hz mix survives resampling: compare with the mix computed at 16 kHz
    t = np.arange(8000) / 16000
    reference = 0.15 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 880 * t))
    assert np.abs(mixed["audio"][0, 200:-200].numpy() - reference[200:-200]).max() < 0.02


def test_flac_reads_as_the_wav(tmp_path: Path) -> None:
    write_ravdess_speech(tmp_path / "wav", actors=(1,))
    write_ravdess_speech(tmp_path / "flac", actors=(1,), flac=True)
    wav, flac = RAVDESS(tmp_path / "wav"), RAVDESS(tmp_path / "flac")
    assert [c.id for c in wav.clips] == [c.id for c in flac.clips]
    for a, b in zip(wav, flac, strict=True):
        torch.testing.assert_close(a["audio"], b["audio"])
        assert a["label"] == b["label"]


def test_the_archives_unpacked_side_by_side(tmp_path: Path) -> None:
    write_ravdess_speech(tmp_path / "Audio_Speech_Actors_01-24", actors=(1,))
    song = tmp_path / "Audio_Song_Actors_01-24" / "Actor_01" / "03-02-04-02-01-01-01.wav"
    write_wav(song, tone(48000, 0.1, 1), 48000)
    write_mp4(tmp_path / "Video_Speech_Actor_01" / "Actor_01" / "01-01-04-02-01-01-01.mp4")
    write_mp4(
        tmp_path / "Video_Speech_Actor_01" / "Actor_01" / "02-01-04-02-01-01-01.mp4", audio=False
    )
    assert len(RAVDESS(tmp_path)) == 16
    both = RAVDESS(tmp_path, recordings=("audio_video", "video"))
    assert [c.recording for c in both.clips] == ["audio_video", "video"]
    av_sample, video_only = both[0], both[1]
    assert av_sample["video"].shape == (6, 3, 32, 32) and av_sample["video"].dtype == torch.uint8
    assert av_sample["fps"] == 30 and av_sample["audio"].shape[0] == 1
    assert "audio" not in video_only and video_only["label"] == 3


def test_a_broken_name_is_an_error_naming_every_such_file(tmp_path: Path) -> None:
    write_ravdess_speech(tmp_path, actors=(1,))
    write_wav(tmp_path / "Actor_01" / "03-01-09-01-01-01-01.wav", tone(8000, 0.1, 1), 8000)
    write_wav(tmp_path / "Actor_01" / "my recording.wav", tone(8000, 0.1, 1), 8000)
    write_wav(tmp_path / "Actor_01" / "03-01-02-01-01-01-02.wav", tone(8000, 0.1, 1), 8000)
    (tmp_path / "Actor_01" / "notes.txt").write_text("not media: ignored")
    with pytest.raises(ValueError, match="3 file") as info:
        RAVDESS(tmp_path)
    message = str(info.value)
    assert "03-01-09-01-01-01-01.wav: not a RAVDESS file name: invalid emotion 09" in message
    assert "my recording.wav: not a RAVDESS file name: expected seven" in message
    assert "actor 02 in the folder Actor_01" in message
    with pytest.raises(ValueError, match="intensity 02 for neutral"):
        parse_name("03-01-01-02-01-01-01.wav")


def test_a_scan_reports_every_unreadable_file(tmp_path: Path) -> None:
    write_ravdess_speech(tmp_path, actors=(1,))
    write_ravdess_speech(tmp_path / "flac", actors=(2,), flac=True)
    cut_wav = tmp_path / "Actor_01" / "03-01-03-01-01-01-01.wav"
    cut_wav.write_bytes(cut_wav.read_bytes()[:3000])
    cut_flac = tmp_path / "flac" / "Actor_02" / "03-01-04-02-01-01-02.flac"
    cut_flac.write_bytes(cut_flac.read_bytes()[: cut_flac.stat().st_size // 2])
    garbage = tmp_path / "Actor_01" / "03-01-05-01-01-01-01.wav"
    garbage.write_bytes(b"\x00" * 100)
    data = RAVDESS(tmp_path)
    with pytest.raises(ValueError, match="3 of 30 RAVDESS file") as info:
        data.verify()
    message = str(info.value)
    for path in (cut_wav, cut_flac, garbage):
        assert str(path) in message
    assert "truncated" in message
    with pytest.raises(ValueError, match=str(cut_wav)):
        data[[c.path for c in data.clips].index(cut_wav)]
    RAVDESS(tmp_path, actors=[1], emotions=["neutral"]).verify()  # the good ones pass


def test_missing_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder; expected the RAVDESS"):
        RAVDESS(tmp_path / "nowhere")
    (tmp_path / "wavs").mkdir()
    with pytest.raises(FileNotFoundError, match="no Actor_XX folder; expected"):
        RAVDESS(tmp_path)


def test_shipped_folds_are_mocanu_s_protocol() -> None:
    folds = ravdess_folds()
    assert len(folds) == 10
    tested = [a for fold in folds for a in fold["test"]]
    assert sorted(tested) == list(range(1, 25))  # each actor tested once
    for fold in folds:
        parts = [set(fold[s]) for s in ("train", "validation", "test")]
        assert set.union(*parts) == set(range(1, 25)) and sum(map(len, parts)) == 24
        assert 18 <= len(parts[0]) <= 20 and 2 <= len(parts[1]) <= 3 and 2 <= len(parts[2]) <= 3


def test_fold_and_split_select_actors(tmp_path: Path) -> None:
    write_ravdess_speech(tmp_path, actors=(1, 4, 23))
    assert ravdess_folds()[9] == {
        "train": list(range(4, 23)), "validation": [1, 2, 3], "test": [23, 24]
    }  # fmt: skip
    actors = {
        split: {c.actor for c in RAVDESS(tmp_path, fold=9, split=split).clips}
        for split in ("train", "validation", "test")
    }
    assert actors == {"train": {4}, "validation": {1}, "test": {23}}
    assert {c.actor for c in RAVDESS(tmp_path, fold=9, split="train", actors=[1, 4]).clips} == {4}
    with pytest.raises(ValueError, match="fold, split: give both"):
        RAVDESS(tmp_path, fold=0)
    with pytest.raises(ValueError, match="fold: expected 0-9"):
        RAVDESS(tmp_path, fold=10, split="test")


DATA = os.environ.get("EMOFUSE_DATA")


@pytest.mark.skipif(not DATA, reason="opt-in: set EMOFUSE_DATA to the shared data folder")
def test_the_real_corpus_both_forms() -> None:
    root = Path(str(DATA)) / "ravdess"
    full = RAVDESS(root / "speech-16k")
    assert len(full) == 1440
    assert Counter(RAVDESS_8[label] for label in full.labels) == {
        "neutral": 96,
        **{name: 192 for name in RAVDESS_8[1:]},
    }
    assert Counter(c.actor for c in full.clips) == {a: 60 for a in range(1, 25)}
    assert {c.path.suffix for c in full.clips} == {".flac"}
    for fold in range(10):
        sizes = [
            len(RAVDESS(root / "speech-16k", fold=fold, split=s))
            for s in ("train", "validation", "test")
        ]
        assert sum(sizes) == 1440 and all(size % 60 == 0 for size in sizes)
    released = RAVDESS(root / "speech-as-released")
    assert len(released) == 32 and {c.actor for c in released.clips} == {1, 2}
    released.verify()
    stereo = {s["id"] for s in released if s["audio"].shape[0] == 2}
    assert stereo == {"03-01-02-01-01-02-01", "03-01-08-01-02-02-01"}
    # the same clip in both forms: same labels; 48 kHz resampled to 16 kHz gives the FLAC's length
    by_id = {c.id: i for i, c in enumerate(full.clips)}
    resampled = RAVDESS(root / "speech-as-released", sample_rate=16000, mono=True)
    for index in (0, 5):
        as_released, converted = released[index], full[by_id[released.clips[index].id]]
        assert as_released["sample_rate"] == 48000 and converted["sample_rate"] == 16000
        assert as_released["label"] == converted["label"]
        length = resampled[index]["audio"].shape[1]
        assert abs(length - converted["audio"].shape[1]) <= 1
