"""Reading a clip's frames and audio with PyAV (it bundles FFmpeg), as real files come: corrupt
packets are skipped one at a time and counted, never fatal.

Frames are put on a constant-rate grid (each grid step takes the decoded frame shown at that
time), so a skipped or variable-rate frame never shifts the frames after it; a skipped audio
packet is replaced by silence of its duration, so the audio after it stays in sync.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import torch

from emofuse.transforms.audio import Waveform

FrameT = TypeVar("FrameT")
# Demuxing errors in a row after which the rest of the file is given up as unreadable.
MAX_CONSECUTIVE_ERRORS = 100


@dataclass
class DecodedClip(Generic[FrameT]):
    """What :func:`decode_clip` read from a file.

    Attributes:
        frames: one entry per step of a constant-rate grid, in time order: the RGB frame
            (H, W, 3) uint8, or what ``frame_fn`` made of it. Empty when the file has no video.
        fps: the grid's rate in frames per second (the stream's average rate, or ``max_fps``);
            0.0 without video.
        audio: the first audio stream, (C, N) float32 at the file's rate; ``None`` when the
            file has no audio stream.
        duration: the clip's length in seconds (the longer of video and audio).
        skipped_packets: corrupt packets skipped per stream (``"video"``, ``"audio"``) and
            unreadable stretches of the container (``"container"``).
    """

    frames: list[FrameT]
    fps: float
    audio: Waveform | None
    duration: float
    skipped_packets: dict[str, int] = field(default_factory=dict)

    @property
    def frame_times(self) -> np.ndarray:
        """(T,) the time of each grid step in seconds from the start."""
        return np.arange(len(self.frames)) / self.fps if self.frames else np.zeros(0)


def _packets(container: Any, streams: list[Any], skipped: dict[str, int]) -> Iterator[Any]:
    """Demux, resuming after an unreadable stretch of the file (FFmpeg resyncs on the next
    packet); gives up after MAX_CONSECUTIVE_ERRORS errors in a row."""
    import av

    errors = 0
    while errors < MAX_CONSECUTIVE_ERRORS:
        try:
            for packet in container.demux(*streams):
                errors = 0
                yield packet
            return
        except av.error.EOFError:
            return
        except av.error.FFmpegError:
            errors += 1
            skipped["container"] = skipped.get("container", 0) + 1


def decode_clip(
    path: str | os.PathLike[str],
    *,
    frame_fn: Callable[[np.ndarray], FrameT] | None = None,
    max_fps: float | None = None,
) -> DecodedClip[Any]:
    """Decode the first video and the first audio stream of a media file.

    Args:
        path: any file FFmpeg reads (MP4, MKV, WebM, AVI, MOV, a WAV or MP3 alone ...).
        frame_fn: applied to each kept RGB frame (H, W, 3) uint8 as it is decoded, e.g. a face
            cropper, so full frames are never held in memory; its results fill ``frames``.
        max_fps: keep at most this many frames per second (the grid's rate); default every
            frame at the stream's rate.

    Returns:
        a :class:`DecodedClip`. A packet the decoder rejects is skipped and counted in
        ``skipped_packets``; an audio packet is replaced by silence of its duration.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: FFmpeg cannot open the file, it has neither video nor audio, or
            ``max_fps`` is not positive.
    """
    import av  # imported here so that `import emofuse` stays light

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no media file at {path}")
    if max_fps is not None and not max_fps > 0:
        raise ValueError(f"max_fps: expected a positive rate, got {max_fps!r}")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise ValueError(f"path: FFmpeg cannot open {path} as a media file: {error}") from error
    skipped: dict[str, int] = {}
    with container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise ValueError(f"path: {path} has neither a video nor an audio stream")
        rate = float(video.average_rate or video.guessed_rate or 25) if video else 0.0
        fps = min(rate, max_fps) if max_fps else rate
        kept: list[Any] = []
        times: list[float] = []
        next_time = -np.inf  # the next grid time a kept frame must reach (max_fps)
        chunks: list[np.ndarray] = []
        audio_rate = audio.rate if audio is not None else 0
        channels = (audio.codec_context.channels or 1) if audio is not None else 0
        to_float = av.AudioResampler(format="fltp") if audio is not None else None
        for packet in _packets(container, [s for s in (video, audio) if s is not None], skipped):
            kind = "video" if packet.stream is video else "audio"
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                skipped[kind] = skipped.get(kind, 0) + 1
                if kind == "audio" and packet.duration and packet.time_base:
                    silence = round(float(packet.duration * packet.time_base) * audio_rate)
                    chunks.append(np.zeros((channels, silence), np.float32))
                continue
            for frame in frames:
                if kind == "audio":
                    assert to_float is not None
                    chunks += [out.to_ndarray() for out in to_float.resample(frame)]
                    continue
                time = float(frame.time) if frame.time is not None else len(times) / rate
                if max_fps and time < next_time - 0.5 / rate:
                    continue
                next_time = max(next_time + 1.0 / fps, time + 0.5 / rate)
                rgb = frame.to_ndarray(format="rgb24")
                kept.append(frame_fn(rgb) if frame_fn is not None else rgb)
                times.append(time)
        if to_float is not None:
            chunks += [out.to_ndarray() for out in to_float.resample(None)]
    waveform = None
    if audio is not None:
        samples = np.concatenate(chunks, 1) if chunks else np.zeros((channels, 0), np.float32)
        waveform = Waveform(torch.from_numpy(samples), audio_rate)
    grid: list[Any] = []
    video_duration = 0.0
    if kept:
        start = min(times)
        order = np.argsort(times, kind="stable")
        stamps = np.asarray(times)[order] - start
        video_duration = float(stamps[-1]) + 1.0 / rate
        steps = max(1, round(video_duration * fps))
        # each grid step takes the last decoded frame shown at or before its time
        index = np.searchsorted(stamps, np.arange(steps) / fps + 1e-6, side="right") - 1
        grid = [kept[order[i]] for i in index.clip(0)]
    duration = max(video_duration, waveform.duration if waveform is not None else 0.0)
    return DecodedClip(grid, fps if grid else 0.0, waveform, duration, skipped)


__all__ = ["DecodedClip", "decode_clip"]
