"""MELD read from its released CSVs, with or without the clips."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch.utils.data import Dataset

from emofuse.data.ravdess import read_audio, read_video
from emofuse.labels import MELD_7, MELD_SENTIMENT_3

COLUMNS = (
    "Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
    "Season", "Episode", "StartTime", "EndTime",
)  # fmt: skip
_SPLITS = {"train": "train", "dev": "dev", "validation": "dev", "test": "test"}


@dataclass(frozen=True)
class MeldUtterance:
    """One row of ``{split}_sent_emo.csv``."""

    text: str
    speaker: str
    emotion: str
    sentiment: str
    dialogue_id: int
    utterance_id: int
    season: int
    episode: int
    start_time: str  # "HH:MM:SS,mmm" in the episode
    end_time: str

    @property
    def id(self) -> str:
        """The clip name of the release, ``dia{Dialogue_ID}_utt{Utterance_ID}``."""
        return f"dia{self.dialogue_id}_utt{self.utterance_id}"


def read_meld_csv(path: str | os.PathLike[str]) -> list[MeldUtterance]:
    """The utterances of one MELD CSV, in file order (UTF-8, quoted fields as released).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not UTF-8, a missing column, an emotion or sentiment outside MELD's, a
            non-integer id, or a repeated (dialogue, utterance) pair; the error names the file
            and the row (its ``Sr No.``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such MELD CSV; expected {_LAYOUT}")
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            rows = list(csv.DictReader(file))
            header = list(rows[0]) if rows else []
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error}); expected {_LAYOUT}") from error
    missing = [c for c in COLUMNS if c not in header]
    if not rows or missing:
        raise ValueError(
            f"{path}: expected the columns {list(COLUMNS)}, missing {missing or 'every row'}"
        )
    utterances, seen = [], set()
    for row in rows:
        where = f"{path}, row Sr No. {row['Sr No.']!r}"
        if row["Emotion"] not in MELD_7:
            raise ValueError(f"{where}: Emotion {row['Emotion']!r}, expected one of {MELD_7}")
        if row["Sentiment"] not in MELD_SENTIMENT_3:
            raise ValueError(
                f"{where}: Sentiment {row['Sentiment']!r}, expected one of {MELD_SENTIMENT_3}"
            )
        try:
            dialogue_id, utterance_id, season, episode = (
                int(row[c]) for c in ("Dialogue_ID", "Utterance_ID", "Season", "Episode")
            )
        except (TypeError, ValueError):
            raise ValueError(
                f"{where}: Dialogue_ID, Utterance_ID, Season, Episode must be integers"
            ) from None
        utterance = MeldUtterance(
            row["Utterance"], row["Speaker"], row["Emotion"], row["Sentiment"],
            dialogue_id, utterance_id, season, episode,
            start_time=row["StartTime"], end_time=row["EndTime"],
        )  # fmt: skip
        if utterance.id in seen:
            raise ValueError(f"{where}: {utterance.id} appears twice")
        seen.add(utterance.id)
        utterances.append(utterance)
    return utterances


class MELD(Dataset[dict[str, Any]]):
    """The Multimodal EmotionLines Dataset (Poria et al., ACL 2019) from its release.

    Layout (the authors' ``data/MELD/`` folder; clips from ``MELD.Raw`` optional)::

        root/train_sent_emo.csv   9989 utterances, 1038 dialogues
        root/dev_sent_emo.csv     1109 utterances, 114 dialogues
        root/test_sent_emo.csv    2610 utterances, 280 dialogues
        clips/dia{Dialogue_ID}_utt{Utterance_ID}.mp4   (e.g. MELD.Raw/train/train_splits)

    CSV columns: ``Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID,
    Season, Episode, StartTime, EndTime``; UTF-8, quoted fields with commas, typographic
    punctuation (kept as written).

    Args:
        root: the folder of the three CSVs.
        split: ``"train"``, ``"dev"`` (or ``"validation"``) or ``"test"``.
        label: ``"emotion"`` (index in :data:`emofuse.labels.MELD_7`, the field's 7-class
            task) or ``"sentiment"`` (index in :data:`emofuse.labels.MELD_SENTIMENT_3`).
        context: how many previous utterances of the same dialogue each sample carries
            (``0``: none). Earlier turns only (by ``Utterance_ID``), oldest first (the most
            recent last), at most ``context`` of them; the first turn of a dialogue has none.
            For a text encoder, :func:`join_context` makes them one string with the
            tokenizer's separator, to be encoded as the first text of a pair before the
            utterance and truncated from its oldest end (see :func:`join_context`).
        clips: the folder of this split's ``.mp4`` clips; ``None`` reads text only.
        clip_modalities: what to decode from each clip: ``"audio"``, ``"video"``.
        missing_clips: ``"error"`` (the default: every missing clip listed at once) or
            ``"skip"`` (drop utterances without a clip; the release lacks a few).
        sample_rate: audio decoding, as :func:`emofuse.data.read_audio`.
        mono: audio decoding, as :func:`emofuse.data.read_audio`.
        transform: applied to each sample (e.g. a tokenizer).

    Each sample: ``text`` (str), ``label`` (int), ``emotion``, ``sentiment``, ``speaker``,
    ``dialogue_id``, ``utterance_id``, ``id`` (``"dia3_utt5"``); with ``context > 0``
    ``context`` (list of str) and ``context_speakers`` (list of str); with ``clips``
    ``audio`` (C, S) float32 and ``sample_rate`` and/or ``video`` (T, 3, H, W) uint8 and ``fps``.

    Raises:
        FileNotFoundError: a missing CSV or clips folder, or missing clips (``"error"``), with
            the expected layout.
        ValueError: a bad argument, or a malformed CSV (see :func:`read_meld_csv`).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Literal["train", "dev", "validation", "test"] = "train",
        *,
        label: Literal["emotion", "sentiment"] = "emotion",
        context: int = 0,
        clips: str | os.PathLike[str] | None = None,
        clip_modalities: Sequence[Literal["audio", "video"]] = ("audio",),
        missing_clips: Literal["error", "skip"] = "error",
        sample_rate: int | None = None,
        mono: bool = False,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        if split not in _SPLITS:
            raise ValueError(f"split: expected one of {list(_SPLITS)}, got {split!r}")
        if label not in ("emotion", "sentiment"):
            raise ValueError(f"label: expected 'emotion' or 'sentiment', got {label!r}")
        if context < 0:
            raise ValueError(
                f"context: expected a non-negative number of utterances, got {context}"
            )
        if missing_clips not in ("error", "skip"):
            raise ValueError(f"missing_clips: expected 'error' or 'skip', got {missing_clips!r}")
        bad = sorted(set(clip_modalities) - {"audio", "video"})
        if bad or not clip_modalities:
            raise ValueError(
                f"clip_modalities: expected 'audio' and/or 'video', got {list(clip_modalities)}"
            )
        self.root = Path(root)
        self.split = _SPLITS[split]
        self.label, self.context = label, context
        self.clip_modalities = tuple(clip_modalities)
        self.sample_rate, self.mono, self.transform = sample_rate, mono, transform
        self.path = self.root / f"{self.split}_sent_emo.csv"
        utterances = read_meld_csv(self.path)
        self.clips = None if clips is None else Path(clips)
        if self.clips is not None:
            if not self.clips.is_dir():
                raise FileNotFoundError(f"{self.clips}: no such clips folder; expected {_LAYOUT}")
            missing = [u for u in utterances if not self._clip(u).is_file()]
            if missing and missing_clips == "error":
                listed = "\n".join(str(self._clip(u)) for u in missing)
                raise FileNotFoundError(
                    f"{self.clips}: {len(missing)} of {len(utterances)} clips missing "
                    f"(missing_clips='skip' drops them); expected {_LAYOUT}:\n{listed}"
                )
            absent = {u.id for u in missing}
            kept = [u for u in utterances if u.id not in absent]
        else:
            kept = utterances
        self.dialogues: dict[int, list[MeldUtterance]] = {}
        for u in utterances:
            self.dialogues.setdefault(u.dialogue_id, []).append(u)
        for turns in self.dialogues.values():
            turns.sort(key=lambda u: u.utterance_id)
        self.utterances: list[MeldUtterance] = kept

    def _clip(self, utterance: MeldUtterance) -> Path:
        assert self.clips is not None
        return self.clips / f"{utterance.id}.mp4"

    @property
    def labels(self) -> list[int]:
        """The label index of every sample (e.g. for class weights), without reading clips."""
        names = MELD_7 if self.label == "emotion" else MELD_SENTIMENT_3
        return [names.index(getattr(u, self.label)) for u in self.utterances]

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> Any:
        u = self.utterances[index]
        names = MELD_7 if self.label == "emotion" else MELD_SENTIMENT_3
        sample: dict[str, Any] = {
            "text": u.text,
            "label": names.index(getattr(u, self.label)),
            "emotion": u.emotion,
            "sentiment": u.sentiment,
            "speaker": u.speaker,
            "dialogue_id": u.dialogue_id,
            "utterance_id": u.utterance_id,
            "id": u.id,
        }
        if self.context:
            turns = self.dialogues[u.dialogue_id]
            earlier = [t for t in turns if t.utterance_id < u.utterance_id][-self.context :]
            sample["context"] = [t.text for t in earlier]
            sample["context_speakers"] = [t.speaker for t in earlier]
        if self.clips is not None:
            path = self._clip(u)
            if "audio" in self.clip_modalities:
                sample["audio"], sample["sample_rate"] = read_audio(
                    path, sample_rate=self.sample_rate, mono=self.mono
                )
            if "video" in self.clip_modalities:
                sample["video"], sample["fps"] = read_video(path)
        return self.transform(sample) if self.transform is not None else sample


def join_context(
    turns: Sequence[str], *, sep: str = " [SEP] ", speakers: Sequence[str] | None = None
) -> str:
    """The previous turns of a sample (``sample["context"]``) as one string: oldest first, the
    most recent last, joined by ``sep`` (the tokenizer's separator, e.g. ``" [SEP] "`` for
    BERT); with ``speakers`` each turn is written ``"Speaker: text"``. An empty context is
    ``""``.

    Encode it as the first text of a pair, before the utterance, and cut it from its oldest
    end, so that the utterance is always whole and the turns nearest to it are kept::

        tokenizer.truncation_side = "left"
        tokenizer(join_context(sample["context"], sep=f" {tokenizer.sep_token} "),
                  sample["text"], truncation="only_first", max_length=256)
        # [CLS] oldest … [SEP] most recent [SEP] utterance [SEP]

    Raises:
        ValueError: ``speakers`` of another length than ``turns``.
    """
    if speakers is not None:
        if len(speakers) != len(turns):
            raise ValueError(
                f"speakers: expected one speaker per turn ({len(turns)}), got {len(speakers)}"
            )
        turns = [f"{who}: {text}" for who, text in zip(speakers, turns, strict=True)]
    return sep.join(turns)


_LAYOUT = (
    "MELD's release layout: root/{train,dev,test}_sent_emo.csv with the columns "
    + ", ".join(COLUMNS)
    + "; clips (optional) named dia{Dialogue_ID}_utt{Utterance_ID}.mp4 in one folder per split"
)

__all__ = ["COLUMNS", "MELD", "MeldUtterance", "join_context", "read_meld_csv"]
