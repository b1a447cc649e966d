"""Emotion scores for a video file: decode it, find the face, build the model's inputs, run the
model over the whole clip and over windows of it (``emofuse predict`` on the command line).

What happens to imperfect clips (each is said in :attr:`Prediction.notes`):

- **No face in some frames**: a frame whose face the detector missed takes the crop of the
  nearest frame (in time, within the same clip or window) where one was found. A window with no
  face in any frame has its video masked as absent (``video_mask`` all False), as is the clip's
  when no frame has a face.
- **No audio stream**, or audio too short for one step of the model's audio front-end: audio
  is masked as absent (models take absent modalities through their masks).
- **Corrupt packets**: skipped one at a time and counted (:func:`emofuse.video.decode_clip`);
  a skipped audio packet becomes silence of its length, so audio and video stay in sync.
- **A very short clip** (shorter than one window): one window, the whole clip.
- **The transcript** has no word timing, so it goes with the whole clip only; windows are
  scored from audio and video.

Scores are probabilities: a sigmoid per emotion for multi-label models, a softmax over the
emotions for single-label ones; a regression model's output is given as is.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

import emofuse
from emofuse.blocks import AttentiveDecisionFusion
from emofuse.metrics import scores_from_output
from emofuse.models import EmotionModel
from emofuse.transforms.audio import Waveform
from emofuse.transforms.pipeline import InputPipeline


@dataclass
class Segment:
    """Scores for one stretch of the clip.

    Attributes:
        start: seconds from the start of the clip.
        end: seconds from the start of the clip.
        scores: ``{label: score}``, see :mod:`emofuse.predict`.
        modalities: ``{modality: present}``; False where it was masked as absent.
        face_fraction: share of its frames where a face was detected (0 without video).
        decision_weights: ``{modality: weight}`` of an attentive decision fusion (Xia et al.
            2022, eq. 12), where the model has one.
    """

    start: float
    end: float
    scores: dict[str, float]
    modalities: dict[str, bool]
    face_fraction: float
    decision_weights: dict[str, float] | None = None


@dataclass
class Prediction:
    """What :func:`predict` returns.

    Attributes:
        clip: the file.
        model: the model's registered name (or its folder).
        task: ``"multilabel"``, ``"multiclass"`` or ``"regression"``.
        heads_trained: False when the emotion heads are randomly initialised (a registry
            name, or a module built with ``pretrained=False``): the scores then mean nothing.
        clip_scores: the whole clip, a :class:`Segment`.
        windows: one :class:`Segment` per window, in time order.
        notes: what the prediction could not use and why (absent audio, missing faces,
            skipped packets, untrained heads ...), in plain words.
        duration: seconds.
        fps: the frame rate the faces were read at.
        skipped_packets: corrupt packets skipped per stream.
        attentions: the whole clip's recorded maps (batch axis kept, B = 1), keyed as in
            :attr:`emofuse.EmotionOutput.attentions`.
        inputs: the whole clip's model inputs (B = 1), e.g. the face crops the SEM maps
            lie over.
        decision_modalities: the modalities of the decision-fusion weights, in order.
        attention_modules: for each key of ``attentions``, the class of the module that
            recorded it (e.g. ``"SemanticEnhancement"``, ``"CrossMutualUnit"``).
    """

    clip: str
    model: str
    task: str
    label_names: list[str]
    heads_trained: bool
    clip_scores: Segment
    windows: list[Segment]
    notes: list[str]
    duration: float
    fps: float
    skipped_packets: dict[str, int]
    attentions: dict[str, Tensor] = field(default_factory=dict, repr=False)
    inputs: dict[str, Tensor] = field(default_factory=dict, repr=False)
    decision_modalities: list[str] | None = None
    attention_modules: dict[str, str] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no tensors): what ``emofuse predict --json`` prints."""

        def segment(s: Segment) -> dict[str, Any]:
            out = {
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "scores": {k: round(v, 4) for k, v in s.scores.items()},
                "modalities": s.modalities,
                "face_fraction": round(s.face_fraction, 3),
            }
            if s.decision_weights is not None:
                out["decision_weights"] = {k: round(v, 4) for k, v in s.decision_weights.items()}
            return out

        return {
            "clip": self.clip,
            "model": self.model,
            "task": self.task,
            "heads_trained": self.heads_trained,
            "labels": self.label_names,
            "duration": round(self.duration, 3),
            "fps": round(self.fps, 3),
            "skipped_packets": self.skipped_packets,
            "notes": self.notes,
            "clip_scores": segment(self.clip_scores),
            "windows": [segment(w) for w in self.windows],
        }

    def format(self) -> str:
        """The prediction as text: the notes, the clip's scores, a table of the windows."""
        lines = [f"{self.clip}: {self.duration:.2f} s, model {self.model} ({self.task})"]
        lines += [f"  note: {note}" for note in self.notes]
        clip = self.clip_scores
        ranked = sorted(clip.scores.items(), key=lambda kv: -kv[1])
        lines.append("  clip: " + ", ".join(f"{k}={v:.3f}" for k, v in ranked))
        if clip.decision_weights:
            shown = ", ".join(f"{k}={v:.3f}" for k, v in clip.decision_weights.items())
            lines.append(f"  decision weights: {shown}")
        width = max(8, *(len(n) for n in self.label_names))
        lines.append(
            "  " + f"{'window (s)':<14}" + "".join(f"{n:>{width + 1}}" for n in self.label_names)
        )
        for w in self.windows:
            absent = [m for m, present in w.modalities.items() if not present]
            lines.append(
                "  "
                + f"{w.start:5.2f}–{w.end:5.2f}    "[:14]
                + "".join(f"{w.scores[n]:>{width + 1}.3f}" for n in self.label_names)
                + (f"   (no {', '.join(absent)})" if absent else "")
            )
        return "\n".join(lines)


def resolve_model(
    model: str | os.PathLike[str] | EmotionModel, heads_trained: bool | None = None
) -> tuple[EmotionModel, str, bool]:
    """(model, name, heads_trained) for :func:`predict`'s ``model`` argument.

    A folder written by ``save_pretrained`` is loaded and taken as trained; a registered name
    is built with ``pretrained=False`` (random emotion heads); a module is used as given, and
    taken as untrained unless ``heads_trained=True``.

    Raises:
        ValueError: neither a folder nor a registered name.
    """
    if isinstance(model, EmotionModel):
        name = getattr(model, "registered_name", None) or type(model).__name__
        return model, str(name), bool(heads_trained)
    path = Path(model)
    if path.is_dir():
        loaded = emofuse.load(path)
        return loaded, str(path), True if heads_trained is None else heads_trained
    name = str(model)
    if name not in emofuse.list_models():
        raise ValueError(
            f"model: expected a folder written by save_pretrained or a registered model name "
            f"(emofuse list), got {name!r}"
        )
    return emofuse.build(name), name, bool(heads_trained)


def pipeline_for(
    model: EmotionModel, source: str | os.PathLike[str] | EmotionModel | None = None
) -> tuple[InputPipeline, list[str]]:
    """(the model's input pipeline in eval mode, notes): :func:`emofuse.transforms.for_model`
    of the folder ``source`` (its saved tokenizer and feature statistics) or of the model.

    A pipeline that standardises features with training statistics nobody fitted (a registry
    name, or a folder saved without its pipeline) is rebuilt without that step, and a note
    says so.
    """
    from emofuse.transforms import for_model

    target: str | os.PathLike[str] | EmotionModel = model
    if source is not None and not isinstance(source, EmotionModel) and Path(source).is_dir():
        target = source  # the folder: its saved tokenizer and statistics
    pipeline = for_model(target)
    unfitted = [m for m, n in pipeline.normalizers.items() if not n.fitted]
    notes = []
    if unfitted:
        pipeline = for_model(model, normalize=())
        notes.append(
            f"{' and '.join(unfitted)} features are not standardised: no statistics fitted on "
            f"training clips come with this model (InputPipeline.fit, then save_pretrained "
            f"beside the model)"
        )
    return pipeline.eval(), notes


def _layout(model: EmotionModel) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """{modality: (trailing shape after (B, T), dtype)} from the model's example inputs."""
    example = model.example_inputs(batch_size=1)
    return {
        k: (tuple(v.shape[2:]), v.dtype)
        for k, v in example.items()
        if not k.endswith("_mask") and f"{k}_mask" in example
    }


def _batch(
    samples: list[dict[str, Any]], layout: Mapping[str, Any], pipeline: InputPipeline
) -> dict[str, Tensor]:
    """Collate samples, with every modality of the model present: one the pipeline left out
    becomes a step of zeros whose mask is False."""
    full = []
    for sample in samples:
        sample = {k: v for k, v in sample.items() if k in layout or k.endswith("_mask")}
        for name, (shape, dtype) in layout.items():
            if name not in sample:
                sample[name] = torch.zeros(0, *shape, dtype=dtype)
        full.append(sample)
    batch = pipeline.collate(full)
    for name in layout:
        if batch[name].shape[1] == 0:  # absent in every sample: one masked step
            batch[name] = F.pad(batch[name].movedim(1, -1), (0, 1)).movedim(-1, 1)
            batch[f"{name}_mask"] = torch.zeros(len(samples), 1, dtype=torch.bool)
    return batch


def _decision_module(model: EmotionModel) -> str | None:
    return next(
        (n for n, m in model.named_modules() if isinstance(m, AttentiveDecisionFusion)), None
    )


def _windows(duration: float, window_s: float) -> list[tuple[float, float]]:
    """Consecutive windows; a remainder shorter than half a window joins the last one."""
    count = max(1, math.floor(duration / window_s + 0.5))
    bounds = [i * window_s for i in range(count)] + [duration]
    return list(itertools.pairwise(bounds))


def predict(
    clip: str | os.PathLike[str],
    model: str | os.PathLike[str] | EmotionModel,
    *,
    transcript: str | None = None,
    window_s: float = 2.0,
    max_fps: float | None = None,
    detector: Any = None,
    heads_trained: bool | None = None,
    batch_size: int = 8,
    device: torch.device | str | None = None,
) -> Prediction:
    """Per-emotion scores for a video (or audio) file, for the whole clip and per window.

    Args:
        clip: a media file FFmpeg reads (PyAV decodes it; corrupt packets are skipped).
        model: a folder written by ``save_pretrained``, a registered name (random emotion
            heads: said in the notes) or an :class:`~emofuse.models.EmotionModel`.
        transcript: what is said in the clip (text models); scored with the whole clip.
        window_s: window length in seconds for the scores over time (> 0).
        max_fps: read at most this many frames per second (face detection is the slow part);
            default every frame.
        detector: called on each RGB frame (H, W, 3) uint8, returns an
            :class:`emofuse.video.FaceCrop`; default :class:`emofuse.video.FaceDetector`.
        heads_trained: overrides the guess of :func:`resolve_model`.
        batch_size: windows per forward pass.
        device: where the model runs (default: where its parameters are).

    Returns:
        a :class:`Prediction`; see :mod:`emofuse.predict` for what happens to missing faces,
        absent audio, corrupt packets and very short clips.

    Raises:
        FileNotFoundError: no file at ``clip``.
        ValueError: a file FFmpeg cannot read, a bad ``window_s``/``max_fps``/``model``, a
            transcript for a model without text, a model that takes pre-extracted features.
        ImportError: the ``emofuse[video]`` extra is missing.
    """
    from emofuse.video import FaceDetector, decode_clip, fill_missing_faces

    if not window_s > 0:
        raise ValueError(f"window_s: expected a positive window length in seconds, got {window_s}")
    net, name, trained = resolve_model(model, heads_trained)
    layout = _layout(net)
    if transcript is not None and "text" not in layout:
        raise ValueError(f"transcript: {name} takes no text (its inputs: {sorted(layout)})")
    pipeline, pipeline_notes = pipeline_for(net, model)
    takes_video = "video" in layout
    if takes_video and detector is None:
        detector = FaceDetector(crop_size=max(112, getattr(net.config, "face_size", 0)))
    decoded = decode_clip(
        clip, frame_fn=detector if takes_video else (lambda frame: None), max_fps=max_fps
    )
    fps = decoded.fps
    found = np.array([bool(c.found) for c in decoded.frames] if takes_video else [], dtype=bool)
    notes: list[str] = []
    if not trained:
        notes.append(
            f"{name} has untrained emotion heads (random initialisation, no emotion-trained "
            f"checkpoint exists for it): these scores mean nothing until the model is trained"
        )
    notes += pipeline_notes
    if decoded.audio is None and "audio" in layout:
        notes.append("the clip has no audio stream: audio is masked as absent")
    if takes_video and not decoded.frames:
        notes.append("the clip has no video stream: video is masked as absent")
    elif takes_video and not found.all():
        missing = int((~found).sum())
        notes.append(
            f"no face found in {missing} of {found.size} frames: each takes the face of the "
            f"nearest frame with one; a window without any face has its video masked as absent"
        )
    for stream, count in decoded.skipped_packets.items():
        notes.append(f"skipped {count} corrupt {stream} packet(s)")
    if transcript is not None:
        notes.append("the transcript has no word timing: it is scored with the whole clip only")

    def sample(start: float, end: float, text: str | None) -> tuple[dict[str, Any], float]:
        audio = None
        if decoded.audio is not None:
            rate = decoded.audio.sample_rate
            s0, s1 = round(start * rate), round(end * rate)
            audio = Waveform(decoded.audio.samples[:, s0:s1], rate)
        video, fraction = None, 0.0
        if takes_video and decoded.frames:
            i0 = min(len(decoded.frames) - 1, math.floor(start * fps + 1e-6))
            i1 = max(i0 + 1, math.ceil(end * fps - 1e-6))
            hits = found[i0:i1]
            fraction = float(hits.mean()) if hits.size else 0.0
            nearest = fill_missing_faces(hits)
            if nearest is not None:
                crops = np.stack([decoded.frames[i0 + j].image for j in nearest])
                video = torch.from_numpy(crops)
        given: dict[str, Any] = {"audio": audio, "text": text}
        if video is not None:
            given.update(video=video, fps=fps)
        given = {k: v for k, v in given.items() if v is not None}
        return (dict(pipeline(**given)) if given else {}), fraction

    spans = [(0.0, decoded.duration), *_windows(decoded.duration, window_s)]
    device = torch.device(device) if device is not None else next(net.parameters()).device
    net = net.to(device).eval()
    decision = _decision_module(net)
    segments: list[Segment] = []
    clip_attentions: dict[str, Tensor] = {}
    clip_inputs: dict[str, Tensor] = {}
    order = None
    for first in range(0, len(spans), batch_size):
        chunk = spans[first : first + batch_size]
        # the transcript goes with the whole clip (span 0) only
        made = [
            sample(start, end, transcript if first + i == 0 else None)
            for i, (start, end) in enumerate(chunk)
        ]
        batch = _batch([m[0] for m in made], layout, pipeline)
        inputs = {k: v.to(device) for k, v in batch.items() if isinstance(v, Tensor)}
        with torch.no_grad():
            out = net(**inputs, return_attentions=True)
        scores = scores_from_output(out, net.config.task).cpu()
        if scores.dim() == 1:  # regression: one value per row
            scores = scores[:, None]
        attentions = {k: v.detach().cpu() for k, v in (out.attentions or {}).items()}
        if first == 0:
            clip_attentions = {k: v[:1] for k, v in attentions.items()}
            clip_inputs = {k: v[:1].cpu() for k, v in inputs.items()}
            order = list(out.modality_logits or {}) or None
        for i, (start, end) in enumerate(chunk):
            weights = None
            if decision is not None and decision in attentions:
                row = attentions[decision][i].tolist()
                keys = (
                    order if order and len(order) == len(row) else list(map(str, range(len(row))))
                )
                weights = dict(zip(keys, row, strict=True))
            segments.append(
                Segment(
                    start,
                    end,
                    dict(zip(_label_names(net), scores[i].tolist(), strict=True)),
                    {m: bool(batch[f"{m}_mask"][i].any()) for m in layout},
                    made[i][1],
                    weights,
                )
            )
    clip_segment, windows = segments[0], segments[1:]
    absent = [m for m, present in clip_segment.modalities.items() if not present]
    for m in absent:
        if m == "audio" and decoded.audio is not None:
            notes.append("the audio is shorter than one step of the model's audio front-end")
        if m == "video" and decoded.frames and takes_video and not found.any():
            notes.append("no face found in any frame: video is masked as absent")
        if m == "text" and transcript is None:
            notes.append("no transcript given: text is masked as absent")
    return Prediction(
        clip=str(clip),
        model=name,
        task=net.config.task,
        label_names=_label_names(net),
        heads_trained=trained,
        clip_scores=clip_segment,
        windows=windows,
        notes=notes,
        duration=decoded.duration,
        fps=fps,
        skipped_packets=dict(decoded.skipped_packets),
        attentions=clip_attentions,
        inputs=clip_inputs,
        decision_modalities=order,
        attention_modules=_recording_modules(net, clip_attentions),
    )


def _recording_modules(model: EmotionModel, attentions: Mapping[str, Tensor]) -> dict[str, str]:
    """{attention key: class name of the module that recorded it} (the longest module path
    the key starts with)."""
    modules = dict(model.named_modules())
    out = {}
    for key in attentions:
        path = key.split(":")[0]
        while path and path not in modules:
            path = path.rpartition(".")[0]
        out[key] = type(modules[path]).__name__ if path else type(model).__name__
    return out


def _label_names(model: EmotionModel) -> list[str]:
    c = model.config
    if c.label_names:
        return list(c.label_names)
    if c.task == "regression" and c.num_classes == 1:
        return ["score"]
    return [f"class_{i}" for i in range(c.num_classes)]


__all__ = ["Prediction", "Segment", "pipeline_for", "predict", "resolve_model"]
