"""Audio files written in the test, as users hand them over: WAV (stdlib ``wave``), FLAC and
MP4 (PyAV)."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import av
import numpy as np


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    """(N,) float64 sine."""
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * math.pi * freq * t)


def to_int16(samples: np.ndarray) -> np.ndarray:
    return np.round(samples * 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """``samples``: (N, C) channels-last int16, the layout of a WAV file's frames."""
    samples = samples.reshape(len(samples), -1)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(samples.shape[1])
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(samples.astype("<i2").tobytes())
    return path


def write_encoded(path: Path, samples: np.ndarray, rate: int, codec: str) -> Path:
    """``samples``: (C, N) int16 channels-first; ``codec`` "flac" (.flac) or "aac" (.mp4)."""
    layout = {1: "mono", 2: "stereo"}[samples.shape[0]]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        encoder_format = stream.codec_context.format.name
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples.T.reshape(1, -1)), format="s16", layout=layout
        )
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=encoder_format, layout=layout, rate=rate)
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(converted):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
