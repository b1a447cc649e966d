"""Dai et al. 2021's raw release of IEMOCAP and CMU-MOSEI (wenliangdai/Multimodal-End2end-Sparse,
``preprocessing/preprocess_{iemocap,mosei}.ipynb``): per-utterance wavs and frame folders, a
``meta.pkl`` of transcripts and labels, and their split files, the form Xia et al. 2022 and Le
et al. 2023 train on. ``meta.pkl`` is read without executing code (:mod:`emofuse.data.safe_pickle`).
"""

from __future__ import annotations

import math
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from emofuse.data import safe_pickle
from emofuse.data.manifests import dai2021_split
from emofuse.labels import CMU_MOSEI_6, IEMOCAP_6
from emofuse.transforms import InputPipeline, for_model, load_audio

# Dai et al.'s IEMOCAP label codes in the order of IEMOCAP_6 (their ``getEmotionDict``)
IEMOCAP_CODES = ("ang", "exc", "fru", "hap", "neu", "sad")
# MOSEI frames were dumped one per 500 ms (``read_video(sampling_time=500)``)
MOSEI_FRAME_RATE = 2.0

Split = Literal["train", "valid", "validation", "test"]


class _DaiRelease(Dataset[dict[str, Any]], ABC):
    """The parts both corpora share; see :class:`DaiIEMOCAP` and :class:`DaiMOSEI`."""

    corpus: ClassVar[Literal["iemocap", "mosei"]]
    folder: ClassVar[str]
    label_names: ClassVar[tuple[str, ...]]
    layout: ClassVar[str]

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Split = "train",
        *,
        pipeline: Any = None,
        video_transform: Callable[[Tensor], Tensor] | None = None,
        max_fps: float | None = None,
        ids: list[str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.main = self.root / self.folder
        if max_fps is not None and not max_fps > 0:
            raise ValueError(f"max_fps: expected a positive rate, got {max_fps!r}")
        self.max_fps, self.video_transform = max_fps, video_transform
        self.pipeline = _as_pipeline(pipeline)
        self.ids = list(ids) if ids is not None else dai2021_split(self.corpus, split)
        meta_path = self.main / "meta.pkl"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path}: no meta.pkl; {self.layout}")
        meta = safe_pickle.load(meta_path)
        if not isinstance(meta, dict):
            raise ValueError(
                f"{meta_path}: expected a dict of utterance ids, got {type(meta).__name__}; "
                f"{self.layout}"
            )
        missing = [i for i in self.ids if i not in meta]
        if missing:
            raise ValueError(
                f"{meta_path}: {len(missing)} id(s) of the split missing, e.g. {missing[:3]}; "
                f"{self.layout}"
            )
        self.texts: list[str] = []
        self.labels: list[Tensor] = []
        for uid in self.ids:
            entry = meta[uid]
            if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
                raise ValueError(
                    f"{meta_path} [{uid!r}]: expected a dict with a 'text' str, got {entry!r:.80}; "
                    f"{self.layout}"
                )
            self.texts.append(entry["text"])
            self.labels.append(self._label(meta_path, uid, entry))
        self.meta = {uid: meta[uid] for uid in self.ids}
        absent = [uid for uid in self.ids if not self.utterance_folder(uid).is_dir()]
        if absent:
            raise FileNotFoundError(
                f"{self.main}: {len(absent)} utterance folder(s) missing, e.g. "
                f"{[str(self.utterance_folder(u)) for u in absent[:3]]}; {self.layout}"
            )

    @abstractmethod
    def _label(self, meta_path: Path, uid: str, entry: dict[str, Any]) -> Tensor: ...

    @abstractmethod
    def utterance_folder(self, uid: str) -> Path:
        """The folder of one utterance's wav(s) and frames."""
        ...

    @abstractmethod
    def audio_file(self, uid: str) -> Path: ...

    @abstractmethod
    def frame_files(self, uid: str) -> tuple[list[Path], float]:
        """(the utterance's frame files in time order, their rate in frames per second)."""
        ...

    def __len__(self) -> int:
        return len(self.ids)

    def raw(self, index: int) -> dict[str, Any]:
        """One utterance as read: ``audio`` (a Waveform), ``video`` uint8 (T, H, W, 3) RGB
        frames with ``fps``, ``text``, ``label``, ``id`` (the keywords of
        :meth:`~emofuse.transforms.InputPipeline.fit` and of the pipeline's call)."""
        uid = self.ids[index]
        audio_path = self.audio_file(uid)
        if not audio_path.is_file():
            raise FileNotFoundError(f"{audio_path}: no audio file; {self.layout}")
        audio = load_audio(audio_path)
        files, fps = self.frame_files(uid)
        if self.max_fps is not None and fps > self.max_fps:
            step = math.ceil(fps / self.max_fps - 1e-9)  # the rate kept is ≤ max_fps
            files, fps = files[::step], fps / step
        if not files:
            raise FileNotFoundError(f"{self.utterance_folder(uid)}: no frame images; {self.layout}")
        video = torch.stack([_read_frame(f, self.layout) for f in files])
        if self.video_transform is not None:
            video = self.video_transform(video)
        return {
            "audio": audio,
            "video": video,
            "fps": fps,
            "text": self.texts[index],
            "label": self.labels[index],
            "id": uid,
        }

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The model's keyword inputs through ``pipeline`` (time first, for
        :func:`emofuse.data.collate`) plus ``label`` and ``id``; without a pipeline,
        :meth:`raw`."""
        clip = self.raw(index)
        if self.pipeline is None:
            return clip
        inputs: dict[str, Any] = {
            m: clip[m] for m in ("audio", "video", "text") if m in self.pipeline.steps
        }
        if "video" in inputs:
            inputs["fps"] = clip["fps"]
        sample: dict[str, Any] = dict(self.pipeline(**inputs))
        sample.update(label=clip["label"], id=clip["id"])
        return sample


class DaiIEMOCAP(_DaiRelease):
    """IEMOCAP in Dai et al. 2021's raw release, with their train / valid / test split (shipped:
    :func:`emofuse.data.dai2021_split`) and 6 classes (:data:`emofuse.labels.IEMOCAP_6`).

    Layout under ``root`` (their ``data/`` folder)::

        IEMOCAP_RAW_PROCESSED/meta.pkl     {utterance id: {"text": str, "label": "ang" | "exc"
                                            | "fru" | "hap" | "neu" | "sad" | ..., "start_time",
                                            "end_time": float s, "sr": int Hz, "fps": float}}
        IEMOCAP_RAW_PROCESSED/Ses01F_impro01/Ses01F_impro01_F000/
            audio.wav, audio_L.wav, audio_R.wav      the dialogue's stereo and each channel
            image_L_0.jpg … image_L_<n-1>.jpg        224×224 centre crops of each half of the
            image_R_0.jpg … image_R_<n-1>.jpg        frame, every frame (``fps`` of meta.pkl)

    The utterance folder sits under the first two ``_`` parts of its id; the speaker's side is
    the left one when the session's actor sex (``Ses01F`` → F) is the speaker's (``F000``),
    as in their loader: its ``audio_<side>.wav`` and ``image_<side>_<i>.jpg`` are read.

    Args:
        root: the folder holding ``IEMOCAP_RAW_PROCESSED``.
        split: ``"train"``, ``"valid"`` (or ``"validation"``) or ``"test"``.
        pipeline: a model's input pipeline (:func:`emofuse.transforms.for_model`), a model or
            its registered name; ``None`` yields :meth:`raw` clips.
        video_transform: applied to the uint8 (T, H, W, 3) frames before the pipeline (e.g. a
            face detector's crops).
        max_fps: decode at most this many frames per second (every k-th file); the pipelines
            sample 1 (Le et al.) or about 1.04 (Xia et al.) face per second.
        ids: utterance ids to read instead of the split's.

    Each sample: the pipeline's ``audio`` / ``video`` / ``text``, ``label`` (6,) float32
    one-hot (multi-label targets, as their loader gives them), ``id``.

    Raises:
        FileNotFoundError: ``meta.pkl``, an utterance folder, a wav or its frames missing (the
            file and the expected layout named).
        UnsafePickleError: ``meta.pkl`` names a global that is not data (nothing is executed).
        ValueError: a truncated or tampered ``meta.pkl`` / wav / image, a split id missing from
            ``meta.pkl``, or a label outside the six classes.
    """

    corpus = "iemocap"
    folder = "IEMOCAP_RAW_PROCESSED"
    label_names = IEMOCAP_6
    layout = (
        "expected Dai et al. 2021's layout: IEMOCAP_RAW_PROCESSED/meta.pkl ({id: {'text': str, "
        "'label': 'ang'|'exc'|'fru'|'hap'|'neu'|'sad', 'start_time', 'end_time', 'sr', "
        "'fps'}}) and IEMOCAP_RAW_PROCESSED/<Ses01F_impro01>/<Ses01F_impro01_F000>/"
        "{audio_L.wav, audio_R.wav, image_L_<i>.jpg, image_R_<i>.jpg}"
    )

    def _label(self, meta_path: Path, uid: str, entry: dict[str, Any]) -> Tensor:
        code = entry.get("label")
        if code not in IEMOCAP_CODES:
            raise ValueError(
                f"{meta_path} [{uid!r}]: label {code!r} is not one of the six classes "
                f"{list(IEMOCAP_CODES)}; {self.layout}"
            )
        label = torch.zeros(len(IEMOCAP_CODES))
        label[IEMOCAP_CODES.index(code)] = 1.0
        return label

    @staticmethod
    def side(uid: str) -> str:
        """``"L"`` when the session's actor (``Ses01F``) is the speaker (``F000``), else ``"R"``."""
        parts = uid.split("_")
        return "L" if parts[0][-1] == parts[-1][0] else "R"

    def utterance_folder(self, uid: str) -> Path:
        return self.main / "_".join(uid.split("_")[:2]) / uid

    def audio_file(self, uid: str) -> Path:
        return self.utterance_folder(uid) / f"audio_{self.side(uid)}.wav"

    def frame_files(self, uid: str) -> tuple[list[Path], float]:
        fps = self.meta[uid].get("fps")
        if not isinstance(fps, int | float) or not fps > 0:
            raise ValueError(
                f"{self.main / 'meta.pkl'} [{uid!r}]: 'fps' expected a positive number, got "
                f"{fps!r}; {self.layout}"
            )
        return _numbered(self.utterance_folder(uid), f"image_{self.side(uid)}_"), float(fps)


class DaiMOSEI(_DaiRelease):
    """CMU-MOSEI in Dai et al. 2021's raw release, with their split (shipped) and the six
    emotions as multi-label targets (:data:`emofuse.labels.CMU_MOSEI_6`: anger, disgust, fear,
    happiness, sadness, surprise).

    Layout under ``root``::

        MOSEI_RAW_PROCESSED/meta.pkl       {"<video id>_<clip>": {"text": str, "label": [6 ints
                                            0/1, the order above]}}
        MOSEI_RAW_PROCESSED/<video id>_<clip>/
            audio.wav                      the utterance (16 kHz)
            image_0.jpg … image_<n-1>.jpg  whole video frames, one per 500 ms (2 fps)

    The frames are whole video frames, not face crops (Dai et al. detect faces inside their
    model): pass a face detector's crops as ``video_transform`` for the emofuse models.

    Args and samples as :class:`DaiIEMOCAP`; ``label`` is (6,) float32 multi-hot.

    Raises:
        FileNotFoundError: as :class:`DaiIEMOCAP`.
        UnsafePickleError: as :class:`DaiIEMOCAP`.
        ValueError: as :class:`DaiIEMOCAP`, and a label that is not six 0/1 values.
    """

    corpus = "mosei"
    folder = "MOSEI_RAW_PROCESSED"
    label_names = CMU_MOSEI_6
    layout = (
        "expected Dai et al. 2021's layout: MOSEI_RAW_PROCESSED/meta.pkl ({id: {'text': str, "
        "'label': [6 ints 0/1: anger, disgust, fear, happiness, sadness, surprise]}}) and "
        "MOSEI_RAW_PROCESSED/<videoid_clip>/{audio.wav, image_<i>.jpg} (2 fps)"
    )

    def _label(self, meta_path: Path, uid: str, entry: dict[str, Any]) -> Tensor:
        values = np.asarray(entry.get("label"))
        if values.shape != (6,) or not np.isin(values, (0, 1)).all():
            raise ValueError(
                f"{meta_path} [{uid!r}]: label expected six 0/1 values, got "
                f"{entry.get('label')!r}; {self.layout}"
            )
        return torch.from_numpy(values.astype(np.float32))

    def utterance_folder(self, uid: str) -> Path:
        return self.main / uid

    def audio_file(self, uid: str) -> Path:
        return self.utterance_folder(uid) / "audio.wav"

    def frame_files(self, uid: str) -> tuple[list[Path], float]:
        return _numbered(self.utterance_folder(uid), "image_"), MOSEI_FRAME_RATE


def _numbered(folder: Path, prefix: str) -> list[Path]:
    """``<prefix><i>.jpg`` files of ``folder`` in index order."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.jpg")
    found = {}
    for path in folder.iterdir():
        match = pattern.fullmatch(path.name)
        if match:
            found[int(match.group(1))] = path
    return [found[i] for i in sorted(found)]


def _read_frame(path: Path, layout: str) -> Tensor:
    """(H, W, 3) uint8 RGB of a JPEG."""
    from torchvision.io import ImageReadMode, decode_image, read_file

    try:
        image = decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
    except RuntimeError as error:
        raise ValueError(f"{path}: could not decode the image ({error}); {layout}") from error
    return image.permute(1, 2, 0)


def _as_pipeline(pipeline: Any) -> InputPipeline | None:
    if pipeline is None or isinstance(pipeline, InputPipeline):
        return pipeline
    return for_model(pipeline)


__all__ = ["IEMOCAP_CODES", "MOSEI_FRAME_RATE", "DaiIEMOCAP", "DaiMOSEI"]
