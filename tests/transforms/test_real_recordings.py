"""Opt-in: the front-ends on RAVDESS as users hold it (48 kHz WAV as released, two of them
stereo, and the 16 kHz FLAC conversion). Set ``EMOFUSE_DATA`` to the shared data folder (the
one holding ``ravdess/``); ``.ci/run`` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from emofuse.transforms import (
    KaldiFbankDeltas,
    MelSpectrogramChunks,
    SpectrogramSegments,
    VGGishFrontEnd,
    load_audio,
)

DATA = os.environ.get("EMOFUSE_DATA")
pytestmark = pytest.mark.skipif(
    not DATA, reason="opt-in: set EMOFUSE_DATA to the folder holding ravdess/ (real recordings)"
)
STEREO = {"03-01-02-01-01-02-01", "03-01-08-01-02-02-01"}  # per the data README


@pytest.fixture(scope="module")
def ravdess() -> Path:
    root = Path(DATA or "") / "ravdess"
    if not (root / "speech-as-released").is_dir() or not (root / "speech-16k").is_dir():
        pytest.fail(f"EMOFUSE_DATA={DATA}: expected ravdess/speech-as-released and speech-16k")
    return root


def test_released_wavs_and_their_flac_conversion_are_the_same_speech(ravdess: Path) -> None:
    wavs = sorted((ravdess / "speech-as-released").glob("Actor_*/*.wav"))
    assert len(wavs) == 32
    for wav in wavs:
        released = load_audio(wav)
        assert released.sample_rate == 48000
        assert released.num_channels == (2 if wav.stem in STEREO else 1), wav
        flac = load_audio(ravdess / "speech-16k" / wav.parent.name / f"{wav.stem}.flac")
        assert flac.sample_rate == 16000 and flac.num_channels == 1
        ours = released.resample(16000).mono()  # torchaudio's resampler, our mixdown
        assert abs(len(ours) - flac.num_samples) <= 1, wav
        n = min(len(ours), flac.num_samples)
        error = (ours[:n] - flac.mono()[:n]).norm() / flac.mono()[:n].norm()
        assert error < 0.02, (wav, float(error))  # FFmpeg's conversion agrees within 2 %


def test_every_flac_clip_decodes(ravdess: Path) -> None:
    flacs = sorted((ravdess / "speech-16k").glob("Actor_*/*.flac"))
    assert len(flacs) == 1440
    for path in flacs[::12]:  # 120 clips over all 24 actors
        audio = load_audio(path)
        assert audio.sample_rate == 16000 and audio.num_channels == 1
        assert 2.8 < audio.duration < 5.4 and audio.samples.abs().max() <= 1, path


@pytest.mark.parametrize(
    "front",
    [
        VGGishFrontEnd(),
        SpectrogramSegments(6),
        KaldiFbankDeltas(),
        MelSpectrogramChunks(),
    ],
    ids=lambda front: type(front).__name__,
)
def test_front_ends_read_the_stereo_48k_release_as_its_16k_mono_form(
    ravdess: Path, front: torch.nn.Module
) -> None:
    stem = "03-01-02-01-01-02-01"
    released = load_audio(ravdess / "speech-as-released" / "Actor_01" / f"{stem}.wav")
    flac = load_audio(ravdess / "speech-16k" / "Actor_01" / f"{stem}.flac")
    got, got_mask = front.batch([released])
    want, want_mask = front.batch([flac])
    assert got.shape == want.shape and got_mask.tolist() == want_mask.tolist()
    assert got_mask.all() and got.isfinite().all()
    # the same features up to the two resamplers' difference (largest in the log spectrogram
    # of near-silence: 0.97 measured)
    assert torch.corrcoef(torch.stack([got.flatten(), want.flatten()]))[0, 1] > 0.95
    with pytest.raises(ValueError, match="channels-last"):
        front(released.samples.T.numpy(), 48000)  # as soundfile.read returns it
