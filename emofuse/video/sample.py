"""Writing clips, and a real talking-face sample clip built offline: a real photograph that
scikit-image ships (NASA's public-domain portrait of astronaut Eileen Collins,
``skimage.data.astronaut()``), slowly zoomed into frames, with the sentence spoken by the
espeak-ng speech synthesiser when it is installed.

Nothing is downloaded: the photograph is inside the scikit-image wheel and espeak-ng is a
system package (``apt-get install espeak-ng``). Without espeak-ng the clip has no audio stream,
and a prediction on it says that audio is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from emofuse.transforms.audio import Waveform, load_audio

SAMPLE_TEXT = "I can't believe we finally made it. This is the best day of my life!"


def write_clip(
    path: str | os.PathLike[str],
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    *,
    audio: Waveform | None = None,
    video_codec: str = "libx264",
    audio_codec: str = "aac",
) -> Path:
    """Encode RGB frames (and audio) into a media file with PyAV.

    Args:
        path: the output; its extension picks the container (``.mp4``, ``.mkv``, ...).
        frames: (T, H, W, 3) uint8 RGB, or an iterable of (H, W, 3) frames of one size;
            H and W even (H.264's 4:2:0 sampling).
        fps: frames per second.
        audio: the sound track (any rate and channel count); ``None`` writes no audio stream.
        video_codec, audio_codec: FFmpeg encoder names.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: no frames, frames not (H, W, 3) uint8 of one even size, ``fps`` not
            positive.
    """
    import av

    if not fps > 0:
        raise ValueError(f"fps: expected a positive rate, got {fps!r}")
    path = Path(path)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("frames: expected at least one (H, W, 3) uint8 frame, got none")
    height, width = first.shape[:2]
    if first.shape != (height, width, 3) or first.dtype != np.uint8 or height % 2 or width % 2:
        raise ValueError(
            f"frames: expected (H, W, 3) uint8 RGB frames with even H and W, got "
            f"{first.shape} {first.dtype}"
        )
    with av.open(str(path), "w") as container:
        video = container.add_stream(video_codec, rate=Fraction(fps).limit_denominator(1001))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if audio is not None:  # every stream is added before the first packet is written
            layout = "mono" if audio.num_channels == 1 else "stereo"
            samples = audio.samples if audio.num_channels <= 2 else audio.samples.mean(0, True)
            stream = container.add_stream(audio_codec, rate=audio.sample_rate)
            stream.layout = layout
        for index, rgb in enumerate([first, *frames]):
            if rgb.shape != first.shape or rgb.dtype != np.uint8:
                raise ValueError(
                    f"frames: frame {index} is {rgb.shape} {rgb.dtype}, the first {first.shape}"
                )
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            planar = np.ascontiguousarray(samples.numpy(), dtype=np.float32)
            step = 1024
            for start in range(0, planar.shape[1], step):
                chunk = np.ascontiguousarray(planar[:, start : start + step])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
                frame.sample_rate, frame.pts = audio.sample_rate, start
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    return path


def synthesize_speech(text: str, *, voice: str = "en-us", words_per_minute: int = 150) -> Waveform:
    """Speak ``text`` with espeak-ng (a formant synthesiser; a system package, offline).

    Returns:
        the speech as a :class:`~emofuse.transforms.Waveform` (mono, espeak-ng's 22050 Hz).

    Raises:
        FileNotFoundError: espeak-ng is not installed (``apt-get install espeak-ng``).
        ValueError: empty ``text``, or espeak-ng failed (its message included).
    """
    if not text.strip():
        raise ValueError("text: expected something to say, got an empty string")
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise FileNotFoundError("espeak-ng: not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        run = subprocess.run(
            [binary, "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if run.returncode != 0 or not wav.is_file():
            raise ValueError(f"espeak-ng: failed ({run.returncode}): {run.stderr.strip()}")
        return load_audio(wav)


def photo_frames(image: np.ndarray, num_frames: int, *, size: int = 256) -> np.ndarray:
    """A still photograph animated into frames: a slow zoom towards the centre of the upper
    half (where a portrait's face is), 100 % → 85 % of the picture over the clip.

    Inputs:
        image: (H, W, 3) uint8 RGB.
    Returns:
        (num_frames, size, size, 3) uint8.
    """
    from PIL import Image

    photo = Image.fromarray(image)
    width, height = photo.size
    side = min(width, height)
    out = np.empty((num_frames, size, size, 3), np.uint8)
    for i in range(num_frames):
        zoom = 1.0 - 0.15 * i / max(1, num_frames - 1)
        crop = side * zoom
        cx, cy = width / 2, min(height / 2, side / 2) - (1 - zoom) * side / 2
        cy = max(cy, crop / 2)
        box = (cx - crop / 2, cy - crop / 2, cx + crop / 2, cy + crop / 2)
        out[i] = np.asarray(photo.resize((size, size), Image.Resampling.BILINEAR, box=box))
    return out


@dataclass(frozen=True)
class SampleClip:
    """What :func:`sample_clip` wrote: the file, whether it has speech, and what is said."""

    path: Path
    has_audio: bool
    transcript: str
    duration: float


def sample_clip(
    path: str | os.PathLike[str],
    *,
    text: str = SAMPLE_TEXT,
    fps: float = 25.0,
    size: int = 256,
    speech: bool = True,
) -> SampleClip:
    """Write the sample talking-face clip: scikit-image's astronaut photograph, slowly zoomed,
    and ``text`` spoken by espeak-ng (its length sets the clip's; 3 s without speech).

    Args:
        path: the output file (``.mp4``: H.264 video, AAC audio).
        text: what is said; fps, size: frame rate and side of the square frames.
        speech: synthesise speech when espeak-ng is installed; ``False`` writes no audio.

    Raises:
        ImportError: scikit-image missing (``pip install 'emofuse[video]'``).
    """
    try:
        from skimage import data
    except ImportError as error:
        raise ImportError("the sample clip needs scikit-image: pip install 'emofuse[video]'") from error
    audio = None
    if speech and shutil.which("espeak-ng"):
        audio = synthesize_speech(text)
    duration = audio.duration + 0.2 if audio is not None else 3.0
    frames = photo_frames(data.astronaut(), max(1, round(duration * fps)), size=size)
    write_clip(path, frames, fps, audio=audio)
    return SampleClip(Path(path), audio is not None, text, len(frames) / fps)


__all__ = [
    "SAMPLE_TEXT",
    "SampleClip",
    "photo_frames",
    "sample_clip",
    "synthesize_speech",
    "write_clip",
]
