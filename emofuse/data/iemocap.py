"""IEMOCAP read from its release: categorical labels (4- and 6-class maps), transcripts,
leave-one-session-out folds."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import Dataset

from emofuse.data.ravdess import read_audio
from emofuse.labels import IEMOCAP_4, IEMOCAP_6

# release codes -> label names; other codes (xxx, oth, sur, fea, dis) are left out
LABEL_MAPS: dict[str, dict[str, str]] = {
    # the standard 4 classes, happy and excited merged
    "iemocap_4": {"ang": "anger", "hap": "happiness", "exc": "happiness", "neu": "neutral",
                  "sad": "sadness"},
    # Dai et al. 2021's six classes, which Xia et al. and Le et al. use
    "iemocap_6": {"ang": "anger", "exc": "excited", "fru": "frustrated", "hap": "happiness",
                  "neu": "neutral", "sad": "sadness"},
}  # fmt: skip
_EVALUATION = re.compile(
    r"^\[(\d+\.\d+) - (\d+\.\d+)\]\t(Ses0[1-5][FM]_\S+)\t(\w+)\t\[([\d.]+), ([\d.]+), ([\d.]+)\]"
)
_TRANSCRIPT = re.compile(r"^(Ses0[1-5][FM]_\S+) \[[\d.]+-[\d.]+\]: ?(.*)$")


@dataclass(frozen=True)
class IemocapUtterance:
    id: str  # e.g. Ses01F_impro01_F000
    session: int  # 1-5
    speaker: str  # "F" or "M": who speaks this turn (the letter of the last field)
    code: str  # the release's categorical label, e.g. "exc"
    valence: float  # the dimensional annotations, 1-5
    activation: float
    dominance: float
    start: float  # seconds in the dialogue
    end: float
    text: str


class IEMOCAP(Dataset[dict[str, Any]]):
    """The Interactive Emotional Dyadic Motion Capture database (Busso et al., 2008) from its
    release ``IEMOCAP_full_release``, categorical labels of the evaluators' majority.

    Layout::

        root/Session1 … Session5/
            dialog/EmoEvaluation/Ses01F_impro01.txt
                [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]
            dialog/transcriptions/Ses01F_impro01.txt
                Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
            sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav

    Args:
        root: the release folder holding ``Session1`` … ``Session5``.
        label_set: ``"iemocap_4"`` (anger, happiness = happy + excited, neutral, sadness; the
            standard 4-class task) or ``"iemocap_6"`` (Dai et al. 2021's six classes, the order
            of :data:`emofuse.labels.IEMOCAP_6`); utterances of other classes are left out.
        sessions: keep these sessions (1-5); ``None`` keeps all.
        test_session: the held-out session of leave-one-session-out (1-5).
        split: ``"test"`` keeps ``test_session``, ``"train"`` the other four; given together
            with ``test_session``.
        audio: decode each utterance's WAV (``False``: text and labels only).
        sample_rate: audio decoding, as :func:`emofuse.data.read_audio`.
        mono: audio decoding, as :func:`emofuse.data.read_audio`.
        transform: applied to each sample.

    Each sample: ``text``, ``label`` (index in the label set), ``id``, ``session``,
    ``speaker``, ``vad`` (3,) float (valence, activation, dominance), and with ``audio``
    ``audio`` (C, S) float32 and ``sample_rate``.

    Raises:
        FileNotFoundError: no ``Session`` folder, or missing WAVs (all listed at once), with
            the expected layout.
        ValueError: a bad argument, or an evaluation line naming an utterance of another
            session or dialogue (names the file and line).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        label_set: Literal["iemocap_4", "iemocap_6"] = "iemocap_4",
        sessions: Iterable[int] | None = None,
        test_session: int | None = None,
        split: Literal["train", "test"] | None = None,
        audio: bool = True,
        sample_rate: int | None = None,
        mono: bool = False,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        if label_set not in LABEL_MAPS:
            raise ValueError(f"label_set: expected one of {sorted(LABEL_MAPS)}, got {label_set!r}")
        if (test_session is None) != (split is None):
            raise ValueError(
                f"test_session, split: give both or neither, got {test_session}, {split}"
            )
        if test_session is not None and test_session not in range(1, 6):
            raise ValueError(f"test_session: expected 1-5, got {test_session}")
        if split is not None and split not in ("train", "test"):
            raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
        keep = set(range(1, 6)) if sessions is None else set(sessions)
        if not keep <= set(range(1, 6)):
            raise ValueError(f"sessions: expected numbers 1-5, got {sorted(keep)}")
        if test_session is not None:
            keep &= {test_session} if split == "test" else set(range(1, 6)) - {test_session}
        self.root = Path(root)
        self.names = IEMOCAP_4 if label_set == "iemocap_4" else IEMOCAP_6
        self.label_map = LABEL_MAPS[label_set]
        self.audio, self.sample_rate, self.mono = audio, sample_rate, mono
        self.transform = transform
        folders = [self.root / f"Session{k}" for k in sorted(keep)]
        absent = [str(f) for f in folders if not f.is_dir()]
        if absent:
            raise FileNotFoundError(f"{self.root}: missing {absent}; expected {_LAYOUT}")
        self.utterances: list[IemocapUtterance] = []
        for folder in folders:
            self.utterances += [u for u in _read_session(folder) if u.code in self.label_map]
        if audio:
            missing = [str(self.wav(u)) for u in self.utterances if not self.wav(u).is_file()]
            if missing:
                raise FileNotFoundError(
                    f"{self.root}: {len(missing)} WAV file(s) missing; expected {_LAYOUT}:\n"
                    + "\n".join(missing)
                )

    def wav(self, utterance: IemocapUtterance) -> Path:
        dialogue = utterance.id.rsplit("_", 1)[0]
        return (
            self.root / f"Session{utterance.session}" / "sentences" / "wav" / dialogue
            / f"{utterance.id}.wav"
        )  # fmt: skip

    @property
    def labels(self) -> list[int]:
        """The label index of every sample, without decoding audio."""
        return [self.names.index(self.label_map[u.code]) for u in self.utterances]

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> Any:
        u = self.utterances[index]
        sample: dict[str, Any] = {
            "text": u.text,
            "label": self.names.index(self.label_map[u.code]),
            "id": u.id,
            "session": u.session,
            "speaker": u.speaker,
            "vad": torch.tensor([u.valence, u.activation, u.dominance]),
        }
        if self.audio:
            sample["audio"], sample["sample_rate"] = read_audio(
                self.wav(u), sample_rate=self.sample_rate, mono=self.mono
            )
        return self.transform(sample) if self.transform is not None else sample


def _read_session(folder: Path) -> list[IemocapUtterance]:
    session = int(folder.name[-1])
    evaluations = sorted((folder / "dialog" / "EmoEvaluation").glob("*.txt"))
    if not evaluations:
        raise FileNotFoundError(f"{folder}: no dialog/EmoEvaluation/*.txt; expected {_LAYOUT}")
    utterances = []
    for path in evaluations:
        texts = {}
        transcript = folder / "dialog" / "transcriptions" / path.name
        if transcript.is_file():
            for line in transcript.read_text(encoding="utf-8", errors="replace").splitlines():
                if match := _TRANSCRIPT.match(line.strip()):
                    texts[match.group(1)] = match.group(2)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _EVALUATION.match(line)
            if match is None:
                continue
            start, end, uid, code, val, act, dom = match.groups()
            if not uid.startswith(f"Ses0{session}") or not uid.startswith(path.stem):
                raise ValueError(f"{path}, line {number}: {uid} is not of dialogue {path.stem}")
            utterances.append(
                IemocapUtterance(
                    uid,
                    session,
                    uid.rsplit("_", 1)[1][0],
                    code,
                    float(val),
                    float(act),
                    float(dom),
                    float(start),
                    float(end),
                    texts.get(uid, ""),
                )
            )
    return utterances


_LAYOUT = (
    "the IEMOCAP release layout: root/Session1..Session5/dialog/EmoEvaluation/<dialogue>.txt, "
    "dialog/transcriptions/<dialogue>.txt and sentences/wav/<dialogue>/<utterance>.wav"
)

__all__ = ["IEMOCAP", "LABEL_MAPS", "IemocapUtterance"]
