"""Decoding audio files as released (WAV, FLAC, the audio stream of MP4), with PyAV."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import av
import numpy as np
import torch
from torch import Tensor


def read_audio(
    path: str | os.PathLike[str], *, sample_rate: int | None = None, mono: bool = False
) -> tuple[Tensor, int]:
    """Decode the first audio stream of a file.

    Args:
        path: a WAV, FLAC, MP3, MP4 ... file (anything FFmpeg reads).
        sample_rate: resample to this rate in Hz (FFmpeg's resampler, ``swresample``);
            ``None`` keeps the file's rate.
        mono: average the channels into one (the downmix of Kaldi, torchaudio and librosa).

    Returns:
        ``(waveform, sample_rate)``: (C, S) float32 in [-1, 1], channels first (C = 1 with
        ``mono``), and its rate in Hz.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a file FFmpeg cannot decode, one without an audio stream, or a truncated
            one (fewer samples than its header declares); the error names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such audio file")
    if sample_rate is not None and sample_rate < 1:
        raise ValueError(f"sample_rate: expected a positive rate in Hz, got {sample_rate}")
    _check_riff_size(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ValueError(f"{path}: no audio stream")
            stream = container.streams.audio[0]
            rate = sample_rate or stream.rate
            resampler = av.AudioResampler(format="fltp", rate=rate)
            chunks: list[np.ndarray] = []
            decoded = 0
            for frame in container.decode(stream):
                decoded += frame.samples
                chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray() for f in resampler.resample(None))
            declared = _declared_samples(stream)
    except av.error.FFmpegError as error:
        raise ValueError(
            f"{path}: not a readable audio file (truncated or corrupted?): {error}"
        ) from error
    if declared is not None and decoded < declared:
        raise ValueError(
            f"{path}: truncated: decoded {decoded} of the {declared} samples its header declares"
        )
    if not chunks:
        raise ValueError(f"{path}: the audio stream holds no samples")
    waveform = torch.from_numpy(np.concatenate(chunks, axis=1).astype(np.float32, copy=False))
    if mono:
        waveform = waveform.mean(0, keepdim=True)
    return waveform, rate


def _declared_samples(stream: av.audio.stream.AudioStream) -> int | None:
    if stream.duration is None or stream.time_base is None or stream.rate is None:
        return None
    return int(stream.duration * stream.time_base * stream.rate)


def _check_riff_size(path: Path) -> None:
    """FFmpeg sizes a WAV by the bytes present, so a cut file decodes silently shorter: compare
    the RIFF header's declared size with the file's."""
    with path.open("rb") as file:
        header = file.read(12)
    if len(header) == 12 and header[:4] == b"RIFF" and header[8:12] == b"WAVE":
        declared = struct.unpack("<I", header[4:8])[0] + 8
        actual = path.stat().st_size
        if actual < declared:
            raise ValueError(
                f"{path}: truncated: {actual} bytes, its RIFF header declares {declared}"
            )


__all__ = ["read_audio"]
