"""Writers of small media files in the formats corpora are released in (tests only)."""

from __future__ import annotations

import csv
import pickle
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


# Corpus layouts written small, as each release lays them out.


def write_ravdess_speech(root: Path, actors=(1, 2), *, flac: bool = False) -> list[str]:
    """Audio-only speech files of ``actors`` in the release layout: all 8 emotions, both
    intensities (neutral normal only), statement 1, repetition 1; 48 kHz mono 16-bit."""
    names = []
    for actor in actors:
        for emotion in range(1, 9):
            for intensity in (1,) if emotion == 1 else (1, 2):
                name = f"03-01-{emotion:02d}-{intensity:02d}-01-01-{actor:02d}"
                samples = tone(48000, 0.1, 1, freq=100.0 * emotion)
                folder = root / f"Actor_{actor:02d}"
                if flac:
                    write_flac(folder / f"{name}.flac", samples, 48000)
                else:
                    write_wav(folder / f"{name}.wav", samples, 48000)
                names.append(name)
    return names


MELD_HEADER = [
    "Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
    "Season", "Episode", "StartTime", "EndTime",
]  # fmt: skip
MELD_ROWS = [
    # typographic apostrophes and quotes, commas inside quoted fields, as released
    ["1", "also I was the point person on my company’s transition, you know.", "Chandler",
     "neutral", "neutral", "0", "0", "8", "21", "00:16:16,059", "00:16:21,731"],
    ["2", "You must’ve had your hands full.", "The Interviewer", "neutral", "neutral", "0", "1",
     "8", "21", "00:16:21,940", "00:16:23,442"],
    ["3", "“Oh my God!” – that’s great…", "Monica", "joy", "positive", "0", "2", "8", "21",
     "00:16:23,500", "00:16:24,000"],
    ["4", "Why, why would you do that?!", "Ross", "anger", "negative", "1", "0", "2", "3",
     "00:01:00,000", "00:01:02,100"],
]  # fmt: skip


def write_meld_csv(path: Path, rows: list[list[str]], header: list[str] = MELD_HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)  # quotes only fields that need it, as the release does
        writer.writerow(header)
        writer.writerows(rows)
    return path


# mcr_tiny's layout: text (6, 12), video (9, 5), audio (7, 6)
MMSA_TEXT, MMSA_VISION, MMSA_AUDIO = 12, 5, 6


def mmsa_split(n: int, rng: np.random.Generator, *, aligned: bool) -> dict:
    lengths_t = rng.integers(2, 7, n)
    mask = (np.arange(6)[None] < lengths_t[:, None]).astype(np.float64)
    part = {
        "raw_text": np.array([f"clip {i}, said “so”" for i in range(n)], dtype=object),
        "id": np.array([f"03bSnISJMiM$_${i}" for i in range(n)], dtype=object),
        "text": (rng.normal(size=(n, 6, MMSA_TEXT)) * mask[..., None]).astype(np.float32),
        "text_bert": np.stack([rng.integers(100, 2000, (n, 6)) * mask, mask, 0 * mask], 1),
        "audio": rng.normal(size=(n, 6 if aligned else 7, MMSA_AUDIO)).astype(np.float32),
        "vision": rng.normal(size=(n, 6 if aligned else 9, MMSA_VISION)).astype(np.float32),
        "regression_labels": rng.uniform(-3, 3, n).astype(np.float32),
        "classification_labels": rng.integers(0, 3, n).astype(np.float64),
        "annotations": np.array(["Positive"] * n, dtype=object),
    }
    if not aligned:
        part["audio_lengths"] = rng.integers(1, 8, n).tolist()
        part["vision_lengths"] = rng.integers(1, 10, n).tolist()
    part["audio"][0, 0, 0] = -np.inf  # as MOSEI's COVAREP features hold
    return part


def write_mmsa(path: Path, *, aligned: bool = False, n: int = 5) -> Path:
    rng = np.random.default_rng(0)
    data = {s: mmsa_split(n, rng, aligned=aligned) for s in ("train", "valid", "test")}
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path
