"""``benchmarks/meld_text.py`` runs end to end on MELD's layout (a small fixture, a tiny
encoder) and writes its page; a rerun reads the runs it kept. No figure is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_media import MELD_ROWS, write_meld_csv

from benchmarks import meld_text


def _rows(copies: int) -> list[list[str]]:
    """``copies`` of the fixture's dialogues, each copy under new dialogue ids."""
    return [
        [str(c * len(MELD_ROWS) + i + 1), *row[1:5], str(int(row[5]) + 2 * c), *row[6:]]
        for c in range(copies)
        for i, row in enumerate(MELD_ROWS)
    ]


def test_baseline_and_text_model_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for split in ("train", "dev", "test"):
        write_meld_csv(tmp_path / "meld" / f"{split}_sent_emo.csv", _rows(3))
    loop = {"optimizer": "adamw", "schedule": "linear", "lr": 3e-3, "batch_size": 4}
    tiny = meld_text.TextRun(
        "mer_sem_mbt_tiny", {"text_pooling": "mean"}, recipe={**loop, "epochs": 2}
    )
    monkeypatch.setitem(meld_text.RUNS, "tiny", tiny)
    monkeypatch.setitem(meld_text.RUNS, "tiny_context", meld_text.TextRun(
        "emotion_query_transformer_tiny", {}, context=True,
        recipe={**loop, "epochs": 1, "layer_decay": 0.9},
    ))  # fmt: skip
    page = tmp_path / "meld_text.md"
    args = [
        "--data", str(tmp_path / "meld"), "--encoder", "emofuse/bert-tiny", "--seeds", "0", "1",
        "--cache", str(tmp_path / "cache"), "--out", str(page),
    ]  # fmt: skip
    meld_text.main([*args, "--runs", "tfidf_lr", "tiny", "tiny_context"])
    text = page.read_text()
    for row in ("| tfidf_lr | 2 |", "| tiny | 2 |", "| tiny_context | 2 |"):
        assert row in text
    assert "Not measured" not in text
    assert len(list((tmp_path / "cache").glob("*.json"))) == 6
    meld_text.main([*args, "--seeds", "0", "1", "2", "--runs", "tiny", "--report-only"])
    assert "- `tiny`: 2 of 3 seeds measured" in page.read_text()
