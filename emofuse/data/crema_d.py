"""CREMA-D read from its release: file-name labels, actor-disjoint folds."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch.utils.data import Dataset

from emofuse.data.manifests import crema_d_folds
from emofuse.data.ravdess import emotion_indices, fold_actors, parse_names, read_audio
from emofuse.labels import CREMA_D_6

_EMOTION = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral",
            "SAD": "sad"}  # fmt: skip
_LEVEL = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


@dataclass(frozen=True)
class CremaDClip:
    path: Path
    actor: int  # 1001-1091
    sentence: str  # one of the 12 sentence codes, e.g. "DFA"
    emotion: int  # index in emofuse.labels.CREMA_D_6
    level: str  # "low", "medium", "high", "unspecified"

    @property
    def id(self) -> str:
        return self.path.stem


def parse_crema_d_name(path: str | os.PathLike[str]) -> CremaDClip:
    """The fields of a CREMA-D file name ``ActorID_Sentence_Emotion_Level``
    (e.g. ``1001_DFA_ANG_XX.wav``; Cao et al. 2014).

    Raises:
        ValueError: a name that breaks the convention (names the file and the field).
    """
    path = Path(path)
    match = _NAME.match(path.stem)
    bad = ["expected ActorID_Sentence_Emotion_Level, e.g. 1001_DFA_ANG_XX"] if not match else []
    if match:
        actor, sentence, emotion, level = match.groups()
        checks = [
            (1001 <= int(actor) <= 1091, f"actor {actor} (1001-1091)"),
            (sentence in _SENTENCES, f"sentence {sentence} {_SENTENCES}"),
            (emotion in _EMOTION, f"emotion {emotion} {tuple(_EMOTION)}"),
            (level in _LEVEL, f"level {level} {tuple(_LEVEL)}"),
        ]
        bad = [f"invalid {what}" for ok, what in checks if not ok]
    if bad:
        raise ValueError(f"{path}: not a CREMA-D file name: {', '.join(bad)}")
    assert match is not None
    actor, sentence, emotion, level = match.groups()
    return CremaDClip(path, int(actor), sentence, CREMA_D_6.index(_EMOTION[emotion]), _LEVEL[level])


class CremaD(Dataset[dict[str, Any]]):
    """The Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., IEEE TAC 2014),
    audio as released, labelled by the emotion the actor was asked to express.

    Layout: ``root/AudioWAV/1001_DFA_ANG_XX.wav`` … (7442 files, 91 actors 1001-1091, 12
    sentences, 6 emotions ANG DIS FEA HAP NEU SAD, levels LO MD HI XX); ``root`` may also be
    the ``AudioWAV`` folder itself. WAV or FLAC, any rate and channel count.

    Args:
        root: the release folder (holding ``AudioWAV``) or the folder of the audio files.
        emotions: keep these emotions (names of :data:`emofuse.labels.CREMA_D_6`).
        actors: keep these actors (1001-1091).
        fold: the fold (0-9) of :func:`crema_d_folds` (Mocanu et al. 2023, sec. 4.1) whose actors
            ``split`` keeps.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        sample_rate: audio decoding, as :func:`emofuse.data.read_audio`.
        mono: audio decoding, as :func:`emofuse.data.read_audio`.
        transform: applied to each sample.

    Each sample: ``audio`` (C, S) float32, ``sample_rate``, ``label`` (index in ``CREMA_D_6``),
    ``id``, ``actor``, ``sentence``, ``level``.

    Raises:
        FileNotFoundError: no audio file under ``root`` (with the expected layout).
        ValueError: file names breaking the convention (all listed at once), a bad argument.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        emotions: Iterable[str] | None = None,
        actors: Iterable[int] | None = None,
        fold: int | None = None,
        split: Literal["train", "validation", "test"] | None = None,
        sample_rate: int | None = None,
        mono: bool = False,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        root = Path(root)
        folder = root / "AudioWAV" if (root / "AudioWAV").is_dir() else root
        if not folder.is_dir():
            raise FileNotFoundError(f"{root}: no such folder; expected {_LAYOUT}")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".wav", ".flac"))
        if not files:
            raise FileNotFoundError(f"{folder}: no .wav or .flac file; expected {_LAYOUT}")
        clips = parse_names(files, parse_crema_d_name, "CREMA-D")
        wanted = emotion_indices(emotions, CREMA_D_6)
        keep = fold_actors(crema_d_folds, fold, split, None if actors is None else set(actors))
        self.clips = [
            c
            for c in clips
            if (wanted is None or c.emotion in wanted) and (keep is None or c.actor in keep)
        ]
        if not self.clips:
            raise FileNotFoundError(f"{folder}: no CREMA-D file matches the filters")
        self.sample_rate, self.mono, self.transform = sample_rate, mono, transform

    @property
    def labels(self) -> list[int]:
        return [c.emotion for c in self.clips]

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> Any:
        clip = self.clips[index]
        audio, rate = read_audio(clip.path, sample_rate=self.sample_rate, mono=self.mono)
        sample = {
            "audio": audio,
            "sample_rate": rate,
            "label": clip.emotion,
            "id": clip.id,
            "actor": clip.actor,
            "sentence": clip.sentence,
            "level": clip.level,
        }
        return self.transform(sample) if self.transform is not None else sample


_LAYOUT = (
    "the CREMA-D release layout: root/AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav, "
    "e.g. 1001_DFA_ANG_XX.wav"
)

__all__ = ["CremaD", "CremaDClip", "parse_crema_d_name"]
