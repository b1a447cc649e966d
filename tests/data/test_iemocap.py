"""IEMOCAP: the release layout, 4- and 6-class maps, leave-one-session-out."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_media import tone, write_wav

from emofuse.data import IEMOCAP
from emofuse.labels import IEMOCAP_4, IEMOCAP_6

CODES = ["neu", "exc", "hap", "fru", "xxx", "ang", "sad"]


def _session(root: Path, k: int) -> None:
    dialogue = f"Ses0{k}F_impro01"
    folder = root / f"Session{k}"
    evaluation = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    transcript = []
    for i, code in enumerate(CODES):
        uid = f"{dialogue}_{'FM'[i % 2]}{i:03d}"
        evaluation += [
            f"[{i:.4f} - {i + 1:.4f}]\t{uid}\t{code}\t[2.5000, 3.0000, 3.5000]",
            "C-E2:\tNeutral;\t()",
            "",
        ]
        transcript.append(f"{uid} [{i:07.4f}-{i + 1:07.4f}]: Excuse me, turn {i}.")
        write_wav(
            folder / "sentences" / "wav" / dialogue / f"{uid}.wav", tone(16000, 0.05, 1), 16000
        )
    transcript.append("M: [BREATHING]")
    (folder / "dialog" / "EmoEvaluation").mkdir(parents=True)
    (folder / "dialog" / "EmoEvaluation" / f"{dialogue}.txt").write_text("\n".join(evaluation))
    (folder / "dialog" / "transcriptions").mkdir(parents=True)
    (folder / "dialog" / "transcriptions" / f"{dialogue}.txt").write_text("\n".join(transcript))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for k in range(1, 6):
        _session(tmp_path, k)
    return tmp_path


def test_label_maps(root: Path) -> None:
    four = IEMOCAP(root, sessions=[1])
    assert [IEMOCAP_4[label] for label in four.labels] == [
        "neutral", "happiness", "happiness", "anger", "sadness"
    ]  # fmt: skip
    six = IEMOCAP(root, sessions=[1], label_set="iemocap_6", audio=False)
    assert [IEMOCAP_6[label] for label in six.labels] == [
        "neutral", "excited", "happiness", "frustrated", "anger", "sadness"
    ]  # fmt: skip
    sample = four[1]
    assert sample["id"] == "Ses01F_impro01_M001" and sample["speaker"] == "M"
    assert sample["text"] == "Excuse me, turn 1." and sample["vad"].tolist() == [2.5, 3.0, 3.5]
    assert sample["audio"].shape == (1, 800) and sample["sample_rate"] == 16000
    assert "audio" not in six[0]


def test_leave_one_session_out(root: Path) -> None:
    test = IEMOCAP(root, test_session=3, split="test", audio=False)
    train = IEMOCAP(root, test_session=3, split="train", audio=False)
    assert {s["session"] for s in test} == {3} and {s["session"] for s in train} == {1, 2, 4, 5}
    assert len(train) == 4 * len(test) == 20
    with pytest.raises(ValueError, match="test_session, split: give both"):
        IEMOCAP(root, test_session=3)


def test_missing_files_are_listed(root: Path) -> None:
    (
        root / "Session2" / "sentences" / "wav" / "Ses02F_impro01" / "Ses02F_impro01_F000.wav"
    ).unlink()
    (
        root / "Session2" / "sentences" / "wav" / "Ses02F_impro01" / "Ses02F_impro01_M005.wav"
    ).unlink()
    with pytest.raises(FileNotFoundError, match="2 WAV file") as info:
        IEMOCAP(root)
    assert "Ses02F_impro01_M005.wav" in str(info.value)
    assert len(IEMOCAP(root, audio=False)) == 25
    with pytest.raises(FileNotFoundError, match="missing .*Session6|expected the IEMOCAP"):
        IEMOCAP(root / "nowhere")
