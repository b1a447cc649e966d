"""MELD: the released CSV layout, labels, context, optional clips."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from corpus_media import MELD_HEADER as HEADER
from corpus_media import MELD_ROWS as ROWS
from corpus_media import write_meld_csv as _write_csv
from corpus_media import write_mp4

from emofuse.data import MELD, collate, join_context, read_meld_csv
from emofuse.labels import MELD_7, MELD_SENTIMENT_3


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for split in ("train", "dev", "test"):
        _write_csv(tmp_path / f"{split}_sent_emo.csv", ROWS)
    return tmp_path


def test_the_csv_layout_reads_as_written(root: Path) -> None:
    raw = (root / "train_sent_emo.csv").read_text(encoding="utf-8")
    assert '"also I was the point person on my company’s transition, you know."' in raw
    assert '"00:16:16,059"' in raw
    data = MELD(root, "train")
    assert len(data) == 4
    first = data[0]
    assert first["text"] == ROWS[0][1] and first["speaker"] == "Chandler"
    assert first["id"] == "dia0_utt0" and first["dialogue_id"] == 0
    assert data[2]["text"] == "“Oh my God!” – that’s great…"
    assert [MELD_7[s["label"]] for s in data] == ["neutral", "neutral", "joy", "anger"]
    assert data.labels == [s["label"] for s in data]
    sentiment = MELD(root, "dev", label="sentiment")
    assert [MELD_SENTIMENT_3[s["label"]] for s in sentiment] == [
        "neutral", "neutral", "positive", "negative"
    ]  # fmt: skip
    assert MELD(root, "validation").path.name == "dev_sent_emo.csv"
    assert data.utterances[0].start_time == "00:16:16,059"


def test_previous_utterances_as_context(root: Path) -> None:
    data = MELD(root, "test", context=1)
    assert data[0]["context"] == [] and data[3]["context"] == []  # each dialogue's first turn
    assert data[2]["context"] == [ROWS[1][1]]
    assert data[2]["context_speakers"] == ["The Interviewer"]
    assert MELD(root, "test", context=5)[2]["context"] == [ROWS[0][1], ROWS[1][1]]
    assert "context" not in MELD(root, "test")[2]


def test_context_follows_utterance_ids_not_file_order(tmp_path: Path) -> None:
    _write_csv(tmp_path / "train_sent_emo.csv", [ROWS[2], ROWS[0], ROWS[1]])
    assert MELD(tmp_path, context=2)[0]["context"] == [ROWS[0][1], ROWS[1][1]]


def test_text_batches_collate(root: Path) -> None:
    batch = collate([s for s in MELD(root, context=2)])
    assert batch["text"][2] == ROWS[2][1] and batch["label"].tolist() == [0, 0, 4, 6]
    assert batch["id"] == ["dia0_utt0", "dia0_utt1", "dia0_utt2", "dia1_utt0"]


def test_clips_optional_and_missing_ones(root: Path, tmp_path: Path) -> None:
    clips = tmp_path / "train_splits"
    for name in ("dia0_utt0", "dia0_utt1", "dia1_utt0"):
        write_mp4(clips / f"{name}.mp4", frames=3)
    with pytest.raises(FileNotFoundError, match=r"1 of 4 clips missing") as info:
        MELD(root, clips=clips)
    assert str(clips / "dia0_utt2.mp4") in str(info.value)
    data = MELD(root, clips=clips, missing_clips="skip", clip_modalities=("audio", "video"))
    assert [s for s in (u.id for u in data.utterances)] == ["dia0_utt0", "dia0_utt1", "dia1_utt0"]
    sample = data[0]
    assert sample["audio"].shape[0] == 1 and sample["sample_rate"] == 16000
    assert sample["video"].shape == (3, 3, 32, 32)
    assert MELD(root, clips=clips, missing_clips="skip", sample_rate=8000)[0]["sample_rate"] == 8000
    with pytest.raises(FileNotFoundError, match="no such clips folder"):
        MELD(root, clips=tmp_path / "nowhere")


def test_malformed_files_name_the_file_and_row(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"train_sent_emo.csv: no such MELD CSV; expected"):
        MELD(tmp_path)
    bad = [*ROWS[:1], ["2", "hi", "Joey", "happy", "positive", "0", "1", "8", "21", "", ""]]
    _write_csv(tmp_path / "train_sent_emo.csv", bad)
    with pytest.raises(ValueError, match=r"train_sent_emo.csv, row Sr No. '2': Emotion 'happy'"):
        MELD(tmp_path)
    _write_csv(tmp_path / "train_sent_emo.csv", [ROWS[0], ROWS[0]])
    with pytest.raises(ValueError, match="dia0_utt0 appears twice"):
        MELD(tmp_path)
    _write_csv(tmp_path / "train_sent_emo.csv", [r[:-2] for r in ROWS], HEADER[:-2])
    with pytest.raises(ValueError, match=r"missing \['StartTime', 'EndTime'\]"):
        MELD(tmp_path)
    (tmp_path / "train_sent_emo.csv").write_bytes(",".join(HEADER).encode() + b"\n1,\x92hi\n")
    with pytest.raises(ValueError, match="train_sent_emo.csv: not UTF-8"):
        read_meld_csv(tmp_path / "train_sent_emo.csv")
    with pytest.raises(ValueError, match="split: expected"):
        MELD(tmp_path, "valid")  # type: ignore[arg-type]


DATA = os.environ.get("EMOFUSE_DATA")


@pytest.mark.skipif(not DATA, reason="opt-in: set EMOFUSE_DATA to the shared data folder")
def test_the_real_csvs() -> None:
    root = Path(str(DATA)) / "meld"
    sizes = {split: len(MELD(root, split)) for split in ("train", "dev", "test")}
    assert sizes == {"train": 9989, "dev": 1109, "test": 2610}
    dialogues = {split: len(MELD(root, split).dialogues) for split in ("train", "dev", "test")}
    assert dialogues == {"train": 1038, "dev": 114, "test": 280}
    train = MELD(root, "train", context=3)
    assert Counter(MELD_7[label] for label in train.labels) == {
        "neutral": 4710, "joy": 1743, "surprise": 1205, "anger": 1109, "sadness": 683,
        "disgust": 271, "fear": 268,
    }  # fmt: skip
    assert train[0]["text"].startswith("also I was the point person on my company’s")
    assert train[1]["context"] == [train[0]["text"]]


def test_join_context_puts_the_most_recent_turn_last(root: Path) -> None:
    sample = MELD(root, "train", context=2)[2]
    joined = join_context(sample["context"], sep=" [SEP] ")
    assert joined == f"{ROWS[0][1]} [SEP] {ROWS[1][1]}"
    with_speakers = join_context(sample["context"], sep=" | ", speakers=sample["context_speakers"])
    assert with_speakers == f"Chandler: {ROWS[0][1]} | The Interviewer: {ROWS[1][1]}"
    assert join_context([]) == ""
    with pytest.raises(ValueError, match=r"speakers: expected one speaker per turn \(2\), got 1"):
        join_context(sample["context"], speakers=["Chandler"])


@pytest.mark.skipif(not DATA, reason="opt-in: set EMOFUSE_DATA to the shared data folder")
def test_the_real_csvs_as_text_with_context() -> None:
    test = MELD(Path(str(DATA)) / "meld", "test", context=3)
    first_turns = [s for s in (test[i] for i in range(50)) if s["utterance_id"] == 0]
    assert first_turns and all(s["context"] == [] for s in first_turns)
    later = next(test[i] for i in range(50) if test[i]["utterance_id"] >= 3)
    assert len(later["context"]) == 3
    turns = test.dialogues[later["dialogue_id"]]
    earlier = [t.text for t in turns if t.utterance_id < later["utterance_id"]][-3:]
    assert join_context(later["context"]) == " [SEP] ".join(earlier)
