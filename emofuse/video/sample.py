"""Writing clips, and a real talking-face sample clip built offline: a real photograph that
scikit-image ships (NASA's public-domain portrait of astronaut Eileen Collins,
``skimage.data.astronaut()``), slowly zoomed into frames on her head and shoulders, with a
sentence spoken by the espeak-ng speech synthesiser when it is installed.

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
        video_codec: an FFmpeg video encoder name.
        audio_codec: an FFmpeg audio encoder name.

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
                sound = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
                sound.sample_rate, sound.pts = audio.sample_rate, start
                container.mux(stream.encode(sound))
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


def photo_frames(
    image: np.ndarray,
    num_frames: int,
    *,
    size: int = 256,
    centre: tuple[float, float] = (0.5, 0.5),
    zoom: tuple[float, float] = (1.0, 0.85),
) -> np.ndarray:
    """A still photograph animated into frames: a slow zoom on a square around ``centre``.

    Args:
        image: (H, W, 3) uint8 RGB.
        num_frames: frames to make; size: their side in pixels.
        centre: (x, y) of the zoom's centre as fractions of the width and height.
        zoom: the square's side as a fraction of the shorter side, in the first and the last
            frame (1.0 → 0.85 by default: a slow push in).

    Returns:
        (num_frames, size, size, 3) uint8.

    Raises:
        ValueError: ``image`` not (H, W, 3) uint8, ``num_frames`` < 1, a zoom outside (0, 1].
    """
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    if num_frames < 1 or not all(0 < z <= 1 for z in zoom):
        raise ValueError(
            f"num_frames, zoom: expected at least one frame and zooms in (0, 1], got "
            f"{num_frames} and {zoom}"
        )
    photo = Image.fromarray(image)
    width, height = photo.size
    out = np.empty((num_frames, size, size, 3), np.uint8)
    for i in range(num_frames):
        side = min(width, height) * (zoom[0] + (zoom[1] - zoom[0]) * i / max(1, num_frames - 1))
        # the square stays inside the picture
        cx = min(max(centre[0] * width, side / 2), width - side / 2)
        cy = min(max(centre[1] * height, side / 2), height - side / 2)
        box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        out[i] = np.asarray(photo.resize((size, size), Image.Resampling.BILINEAR, box=box))
    return out


# Where the sample clip's camera points: the astronaut's head and shoulders.
ASTRONAUT_CENTRE = (0.44, 0.3)
ASTRONAUT_ZOOM = (0.6, 0.5)


@dataclass(frozen=True)
class SampleClip:
    """What :func:`sample_clip` wrote.

    Attributes:
        path: the clip.
        transcript_path: the text file beside it (``.txt``) with what is said.
        has_audio: whether the clip has speech (espeak-ng was installed).
        transcript: what is said.
        duration: the clip's length in seconds.
    """

    path: Path
    has_audio: bool
    transcript: str
    duration: float
    transcript_path: Path


def sample_clip(
    path: str | os.PathLike[str],
    *,
    text: str = SAMPLE_TEXT,
    fps: float = 25.0,
    size: int = 256,
    speech: bool = True,
) -> SampleClip:
    """Write the sample talking-face clip: scikit-image's astronaut photograph, slowly zoomed,
    and ``text`` spoken by espeak-ng (its length sets the clip's; 3 s without speech), and the
    text beside it, ``path`` with the suffix ``.txt`` (for ``emofuse predict --transcript``).

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
        raise ImportError(
            "the sample clip needs scikit-image: pip install 'emofuse[video]'"
        ) from error
    audio = None
    if speech and shutil.which("espeak-ng"):
        audio = synthesize_speech(text)
    duration = audio.duration + 0.2 if audio is not None else 3.0
    frames = photo_frames(
        data.astronaut(),
        max(1, round(duration * fps)),
        size=size,
        centre=ASTRONAUT_CENTRE,
        zoom=ASTRONAUT_ZOOM,
    )
    path = write_clip(path, frames, fps, audio=audio)
    transcript = path.with_suffix(".txt")
    transcript.write_text(text + "\n", encoding="utf-8")
    return SampleClip(path, audio is not None, text, len(frames) / fps, transcript)


__all__ = [
    "ASTRONAUT_CENTRE",
    "ASTRONAUT_ZOOM",
    "SAMPLE_TEXT",
    "SampleClip",
    "photo_frames",
    "sample_clip",
    "synthesize_speech",
    "write_clip",
]
