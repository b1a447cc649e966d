"""Real clips made in the tests: scikit-image's astronaut photograph (a real face) animated into
frames, speech synthesised by espeak-ng, muxed with PyAV; variants with frames without a face,
no audio stream, a corrupt audio packet."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from emofuse.transforms import Waveform
from emofuse.video.sample import (
    ASTRONAUT_CENTRE,
    ASTRONAUT_ZOOM,
    photo_frames,
    synthesize_speech,
    write_clip,
)

SPEECH = "Well, that is wonderful news. I am really happy for you."


def no_face_image(size: int) -> np.ndarray:
    """A real photograph without a face (scikit-image's coffee cup), (size, size, 3) uint8."""
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.coffee()).resize((size, size)))


def speech(seconds: float) -> Waveform:
    """espeak-ng speech cut (or padded with silence) to ``seconds``. Without espeak-ng the
    test is skipped, except under CI=true, where it fails (.ci/run installs espeak-ng)."""
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("espeak-ng is not installed (apt-get install espeak-ng; .ci/run does)")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    voice = synthesize_speech(SPEECH)
    n = round(seconds * voice.sample_rate)
    samples = torch.nn.functional.pad(voice.samples, (0, max(0, n - voice.num_samples)))
    return Waveform(samples[:, :n], voice.sample_rate)


def talking_clip(
    path: Path,
    *,
    seconds: float = 3.0,
    fps: float = 10.0,
    size: int = 128,
    no_face: range = range(0),
    audio: bool = True,
) -> Path:
    """A clip of the astronaut's face; the frames in ``no_face`` show the coffee cup instead."""
    from skimage import data

    frames = photo_frames(
        data.astronaut(),
        round(seconds * fps),
        size=size,
        centre=ASTRONAUT_CENTRE,
        zoom=ASTRONAUT_ZOOM,
    )
    frames[list(no_face)] = no_face_image(size)
    return write_clip(path, frames, fps, audio=speech(seconds) if audio else None)


def corrupt_audio_packet(source: Path, target: Path, index: int = 5) -> Path:
    """``source`` remuxed into ``target`` with the payload of its ``index``-th audio packet
    replaced by random bytes of the same length (a damaged packet, as real files have)."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        seen = 0
        for packet in inp.demux():
            if packet.dts is None:  # the demuxer's flush packets
                continue
            stream = streams[packet.stream.index]
            if packet.stream.type == "audio":
                if seen == index:
                    bad = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                    bad.pts, bad.dts, bad.time_base = packet.pts, packet.dts, packet.time_base
                    bad.duration = packet.duration
                    packet = bad
                seen += 1
            packet.stream = stream
            out.mux(packet)
    return target
