"""Writers of small media files in the formats corpora are released in (tests only)."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np


def tone(rate: int, seconds: float, channels: int, freq: float = 440.0) -> np.ndarray:
    """(channels, S) int16 sine tones, channel c at ``freq * (c + 1)``."""
    t = np.arange(int(rate * seconds)) / rate
    waves = [0.3 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]
    return (np.stack(waves) * 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """16-bit PCM WAV of (C, S) int16 samples (interleaved on disk, as released)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(samples.shape[0])
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(samples.T.copy().tobytes())
    return path


def write_flac(path: Path, samples: np.ndarray, rate: int) -> Path:
    """FLAC of (C, S) int16 samples (``ffmpeg -sample_fmt s16`` as the corpus copies are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("flac", rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(
            samples.T.reshape(1, -1).copy(), format="s16", layout=layout
        )
        frame.rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_mp4(path: Path, *, frames: int = 6, size: int = 32, audio: bool = True) -> Path:
    """An MPEG-4 video (frames of a moving bar), with an AAC tone track when ``audio``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=30)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=16000, layout="mono") if audio else None
        for i in range(frames):
            image = np.zeros((size, size, 3), np.uint8)
            image[:, (i * 4) % size : (i * 4) % size + 4] = 255
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            samples = tone(16000, frames / 30, 1).astype(np.float32) / 32767
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.rate = 16000
            for packet in sound.encode(frame):
                container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
    return path
