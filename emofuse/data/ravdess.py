"""RAVDESS read from its release: file-name labels, filters, actor-disjoint folds."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import av
import numpy as np
import torch
from torch.utils.data import Dataset

from emofuse.data.manifests import ravdess_folds
from emofuse.labels import RAVDESS_8
from emofuse.transforms import load_audio

Recording = Literal["audio", "audio_video", "video"]
Split = Literal["train", "validation", "test"]
_Clip = TypeVar("_Clip")

_MODALITY = {"01": "audio_video", "02": "video", "03": "audio"}
_VOCAL_CHANNEL = {"01": "speech", "02": "song"}
_INTENSITY = {"01": "normal", "02": "strong"}
_EXTENSIONS = {"audio": (".wav", ".flac"), "audio_video": (".mp4",), "video": (".mp4",)}
_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_ACTOR_DIR = re.compile(r"^Actor_(\d\d)$")


@dataclass(frozen=True)
class RavdessClip:
    """One file and the fields of its name ``MM-VV-EE-II-SS-RR-AA``."""

    path: Path
    recording: str  # "audio" (03), "audio_video" (01), "video" (02)
    vocal_channel: str  # "speech" (01), "song" (02)
    emotion: int  # 0-7, the index in emofuse.labels.RAVDESS_8 (code - 1)
    intensity: str  # "normal" (01), "strong" (02)
    statement: int  # 1 "Kids are talking by the door", 2 "Dogs are sitting by the door"
    repetition: int  # 1, 2
    actor: int  # 1-24; odd male, even female

    @property
    def id(self) -> str:
        return self.path.stem


def parse_name(path: str | os.PathLike[str]) -> RavdessClip:
    """The fields of a RAVDESS file name (Livingstone and Russo 2018, "Description").

    Raises:
        ValueError: a name that breaks the convention (seven two-digit fields, each code in
            its range, the actor matching an ``Actor_XX`` parent folder); the error names the file.
    """
    path = Path(path)
    match = _NAME.match(path.stem)
    problem = None
    if match is None:
        problem = "expected seven two-digit fields MM-VV-EE-II-SS-RR-AA"
    else:
        mm, vv, ee, ii, ss, rr, aa = match.groups()
        checks = [
            (mm in _MODALITY, f"modality {mm} (01, 02 or 03)"),
            (vv in _VOCAL_CHANNEL, f"vocal channel {vv} (01 speech, 02 song)"),
            (1 <= int(ee) <= 8, f"emotion {ee} (01-08)"),
            (ii in _INTENSITY, f"intensity {ii} (01, 02)"),
            (not (ee == "01" and ii == "02"), "intensity 02 for neutral (normal only)"),
            (ss in ("01", "02"), f"statement {ss} (01, 02)"),
            (rr in ("01", "02"), f"repetition {rr} (01, 02)"),
            (1 <= int(aa) <= 24, f"actor {aa} (01-24)"),
        ]
        bad = [what for ok, what in checks if not ok]
        folder = _ACTOR_DIR.match(path.parent.name)
        if folder is not None and folder.group(1) != aa:
            bad.append(f"actor {aa} in the folder {path.parent.name}")
        if bad:
            problem = "invalid " + ", ".join(bad)
    if problem is not None:
        raise ValueError(f"{path}: not a RAVDESS file name: {problem}")
    assert match is not None
    mm, vv, ee, ii, ss, rr, aa = match.groups()
    return RavdessClip(
        path=path,
        recording=_MODALITY[mm],
        vocal_channel=_VOCAL_CHANNEL[vv],
        emotion=int(ee) - 1,
        intensity=_INTENSITY[ii],
        statement=int(ss),
        repetition=int(rr),
        actor=int(aa),
    )


class RAVDESS(Dataset[dict[str, Any]]):
    """The Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone and Russo,
    PLoS ONE 2018), read from its release as users unpack it.

    Layout: ``root`` holds ``Actor_01`` … ``Actor_24`` folders, at any depth (the speech and song
    archives unpacked side by side, ``Audio_Speech_Actors_01-24/Actor_01/...``, and the video
    archives ``Video_Speech_Actor_01/Actor_01/...`` all work)::

        root/Actor_01/03-01-01-01-01-01-01.wav      audio-only (03), speech (01)
        root/Actor_01/03-02-05-02-01-01-01.flac     audio-only, song, converted to FLAC
        root/Actor_01/01-01-03-01-02-02-01.mp4      audio-video (01)
        root/Actor_01/02-01-03-01-02-02-01.mp4      video-only (02)

    File names ``MM-VV-EE-II-SS-RR-AA``: modality (01 audio-video, 02 video-only, 03 audio-only),
    vocal channel (01 speech, 02 song), emotion (01 neutral … 08 surprised, the order of
    :data:`emofuse.labels.RAVDESS_8`), intensity (01 normal, 02 strong), statement (01, 02),
    repetition (01, 02), actor (01-24). Audio: WAV or FLAC, any rate and channel count.

    Args:
        root: the folder holding the ``Actor_XX`` folders.
        recordings: which files to read: ``"audio"`` (03), ``"audio_video"`` (01 ``.mp4``),
            ``"video"`` (02 ``.mp4``).
        vocal_channel: ``"speech"``, ``"song"`` or ``None`` (both).
        emotions: keep these emotions (names of ``RAVDESS_8``); ``None`` keeps all.
        intensity: ``"normal"``, ``"strong"`` or ``None``.
        statement: 1, 2 or ``None``.
        actors: keep these actors (1-24); ``None`` keeps all.
        fold: the fold (0-9) of :func:`ravdess_folds` (Mocanu et al. 2023, sec. 4.1) whose actors
            ``split`` keeps.
        split: ``"train"``, ``"validation"`` or ``"test"``; given together with ``fold``,
            combined with ``actors``.
        sample_rate: resample audio to this rate in Hz; ``None`` keeps each file's.
        mono: average the audio channels into one.
        transform: applied to each sample dict, e.g. a model's front-end on its audio:
            ``lambda s: {**s, "audio": KaldiFbankDeltas()(s["audio"], s["sample_rate"])}``.
            Raw waveforms are not steps: turn them into features before :func:`collate`.

    Each sample (before ``transform``): ``audio`` (C, S) float32 in [-1, 1] and
    ``sample_rate`` (Hz) for files with sound; ``video`` (T, 3, H, W) uint8 RGB and ``fps``
    for ``.mp4`` files; ``label`` (int, index in ``RAVDESS_8``), ``id`` (file stem), ``actor``,
    ``vocal_channel``, ``intensity``, ``statement``, ``repetition``.

    Raises:
        FileNotFoundError: ``root`` missing, or no ``Actor_XX`` folder or no matching file in it
            (the error gives the expected layout).
        ValueError: file names that break the convention (all listed at once), a bad filter
            value, ``fold`` without ``split`` or the reverse.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        recordings: Sequence[Recording] = ("audio",),
        vocal_channel: Literal["speech", "song"] | None = None,
        emotions: Iterable[str] | None = None,
        intensity: Literal["normal", "strong"] | None = None,
        statement: int | None = None,
        actors: Iterable[int] | None = None,
        fold: int | None = None,
        split: Split | None = None,
        sample_rate: int | None = None,
        mono: bool = False,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.root = Path(root)
        unknown = sorted(set(recordings) - set(_EXTENSIONS))
        if unknown or not recordings:
            raise ValueError(
                f"recordings: expected some of {sorted(_EXTENSIONS)}, got {list(recordings)}"
            )
        _check_choice("vocal_channel", vocal_channel, ("speech", "song"))
        _check_choice("intensity", intensity, ("normal", "strong"))
        _check_choice("statement", statement, (1, 2))
        wanted_emotions = emotion_indices(emotions, RAVDESS_8)
        wanted_actors = None if actors is None else set(actors)
        if wanted_actors is not None and not wanted_actors <= set(range(1, 25)):
            raise ValueError(f"actors: expected numbers 1-24, got {sorted(wanted_actors)}")
        wanted_actors = fold_actors(ravdess_folds, fold, split, wanted_actors)
        self.sample_rate, self.mono, self.transform = sample_rate, mono, transform
        clips = self.scan_names(self.root)
        extensions = {ext for r in recordings for ext in _EXTENSIONS[r]}
        self.clips: list[RavdessClip] = [
            c
            for c in clips
            if c.recording in recordings
            and c.path.suffix.lower() in extensions
            and (vocal_channel is None or c.vocal_channel == vocal_channel)
            and (wanted_emotions is None or c.emotion in wanted_emotions)
            and (intensity is None or c.intensity == intensity)
            and (statement is None or c.statement == statement)
            and (wanted_actors is None or c.actor in wanted_actors)
        ]
        if not self.clips:
            asked = {
                "recordings": list(recordings), "vocal_channel": vocal_channel,
                "emotions": emotions, "intensity": intensity, "statement": statement,
                "actors": None if wanted_actors is None else sorted(wanted_actors),
            }  # fmt: skip
            where = f" (fold {fold}, {split})" if fold is not None else ""
            filters = ", ".join(f"{k}={v!r}" for k, v in asked.items() if v is not None)
            found = (
                f"the {len(clips)} files found hold actors {sorted({c.actor for c in clips})} "
                f"and recordings {sorted({c.recording for c in clips})}"
                if clips
                else f"no media file was found; expected {_LAYOUT}"
            )
            raise FileNotFoundError(
                f"{self.root}: no RAVDESS file matches {filters}{where}; {found}"
            )

    @staticmethod
    def scan_names(root: str | os.PathLike[str]) -> list[RavdessClip]:
        """Every media file under the ``Actor_XX`` folders of ``root``, parsed, sorted by path.

        Raises:
            FileNotFoundError: no ``root`` or no ``Actor_XX`` folder under it.
            ValueError: every file whose name breaks the convention, listed at once.
        """
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such folder; expected {_LAYOUT}")
        folders = sorted(
            p for p in root.rglob("Actor_*") if p.is_dir() and _ACTOR_DIR.match(p.name)
        )
        if not folders:
            raise FileNotFoundError(f"{root}: no Actor_XX folder; expected {_LAYOUT}")
        media = {ext for exts in _EXTENSIONS.values() for ext in exts}
        paths = (
            path
            for folder in folders
            for path in sorted(folder.iterdir())
            if path.is_file() and path.suffix.lower() in media
        )
        return parse_names(paths, parse_name, "RAVDESS")

    def verify(self) -> None:
        """Decode every selected file once.

        Raises:
            ValueError: listing every unreadable file (truncated, corrupted, no stream) at once.
        """
        errors = []
        for clip in self.clips:
            try:
                self._load(clip)
            except (ValueError, OSError) as error:
                errors.append(str(error))
        if errors:
            raise ValueError(
                f"{len(errors)} of {len(self.clips)} RAVDESS file(s) unreadable:\n"
                + "\n".join(errors)
            )

    @property
    def labels(self) -> list[int]:
        """The label of each sample, without decoding any file (e.g. for class weights)."""
        return [c.emotion for c in self.clips]

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> Any:
        clip = self.clips[index]
        sample = self._load(clip)
        fields = asdict(clip)
        sample.update(
            label=clip.emotion,
            id=clip.id,
            **{
                k: fields[k]
                for k in ("actor", "vocal_channel", "intensity", "statement", "repetition")
            },
        )
        return self.transform(sample) if self.transform is not None else sample

    def _load(self, clip: RavdessClip) -> dict[str, Any]:
        sample: dict[str, Any] = {}
        if clip.recording in ("audio", "audio_video"):
            sample["audio"], sample["sample_rate"] = read_audio(
                clip.path, sample_rate=self.sample_rate, mono=self.mono
            )
        if clip.recording in ("audio_video", "video"):
            sample["video"], sample["fps"] = read_video(clip.path)
        return sample


def read_audio(
    path: str | os.PathLike[str], *, sample_rate: int | None = None, mono: bool = False
) -> tuple[torch.Tensor, int]:
    """:func:`emofuse.transforms.load_audio` as the datasets yield it: ((C, S) float32
    channels-first samples in [-1, 1], rate in Hz); ``mono`` averages the channels (C = 1).

    Raises:
        FileNotFoundError, ValueError: as :func:`~emofuse.transforms.load_audio` (names the file).
    """
    waveform = load_audio(path, sample_rate=sample_rate)
    samples = waveform.samples.mean(0, keepdim=True) if mono else waveform.samples
    return samples, waveform.sample_rate


def read_video(path: str | os.PathLike[str]) -> tuple[torch.Tensor, float]:
    """Decode the first video stream: ((T, 3, H, W) uint8 RGB frames, frames per second).

    Raises:
        ValueError: a file FFmpeg cannot decode or without a video stream (names the file).
    """
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path}: no video stream")
            stream = container.streams.video[0]
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
            fps = float(stream.average_rate) if stream.average_rate else float("nan")
    except av.error.FFmpegError as error:
        raise ValueError(
            f"{path}: not a readable video file (truncated or corrupted?): {error}"
        ) from error
    if not frames:
        raise ValueError(f"{path}: the video stream holds no frames")
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()
    return video, fps


def parse_names(paths: Iterable[Path], parse: Callable[[Path], _Clip], corpus: str) -> list[_Clip]:
    """``parse`` of every path, in order.

    Raises:
        ValueError: every name ``parse`` rejects, listed at once.
    """
    clips, errors = [], []
    for path in paths:
        try:
            clips.append(parse(path))
        except ValueError as error:
            errors.append(str(error))
    if errors:
        raise ValueError(f"{len(errors)} file(s) break {corpus}'s naming:\n" + "\n".join(errors))
    return clips


def emotion_indices(emotions: Iterable[str] | None, names: Sequence[str]) -> set[int] | None:
    """The indices in ``names`` of the ``emotions`` filter (``None``: keep all).

    Raises:
        ValueError: an emotion not in ``names``.
    """
    if emotions is None:
        return None
    given = list(emotions)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"emotions: expected names from {list(names)}, got {unknown}")
    return {names.index(n) for n in given}


def fold_actors(
    folds: Callable[[], list[dict[str, list[int]]]],
    fold: int | None,
    split: str | None,
    actors: set[int] | None,
) -> set[int] | None:
    """``actors`` narrowed to those of ``split`` in fold ``fold`` of ``folds()`` (read only when
    a fold is asked for); ``actors=None`` keeps all.

    Raises:
        ValueError: ``fold`` without ``split`` or the reverse, a fold or split out of range.
    """
    if (fold is None) != (split is None):
        raise ValueError(f"fold, split: give both or neither, got fold={fold}, split={split}")
    if fold is None:
        return actors
    table = folds()
    if not 0 <= fold < len(table):
        raise ValueError(f"fold: expected 0-{len(table) - 1}, got {fold}")
    _check_choice("split", split, ("train", "validation", "test"))
    selected = set(table[fold][str(split)])
    return selected if actors is None else actors & selected


def _check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    if value is not None and value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)} or None, got {value!r}")


_LAYOUT = (
    "the RAVDESS release layout: Actor_01 ... Actor_24 folders (at any depth) of files named "
    "MM-VV-EE-II-SS-RR-AA.wav/.flac (audio-only, MM=03) or .mp4 (MM=01 audio-video, 02 video-only)"
)

__all__ = ["RAVDESS", "RavdessClip", "parse_name", "ravdess_folds", "read_audio", "read_video"]
