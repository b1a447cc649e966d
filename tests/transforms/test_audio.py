"""load_audio and Waveform on files written here (48 kHz WAV, stereo, FLAC, MP4, broken files)
and the shared input convention of the audio front-ends' helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from audio_files import to_int16, tone, write_encoded, write_wav

from emofuse.transforms import Waveform, load_audio, resample
from emofuse.transforms.audio import batch_clips, mono_clip


def peak_hz(samples: torch.Tensor, rate: int) -> float:
    spectrum = torch.fft.rfft(samples.double()).abs()
    return float(spectrum.argmax()) * rate / len(samples)


@pytest.fixture
def stereo_48k() -> np.ndarray:
    """(N, 2) int16: 1 kHz on the left, 3 kHz at a quarter of the level on the right."""
    left, right = tone(1000, 1.0, 48000), tone(3000, 1.0, 48000, amplitude=0.125)
    return to_int16(np.stack([left, right], axis=1))


def test_48khz_stereo_wav_loads_channels_first(tmp_path: Path, stereo_48k: np.ndarray) -> None:
    audio = load_audio(write_wav(tmp_path / "a.wav", stereo_48k, 48000))
    assert audio.sample_rate == 48000 and audio.samples.shape == (2, 48000)
    assert audio.samples.dtype == torch.float32 and audio.duration == 1.0
    torch.testing.assert_close(audio.samples, torch.from_numpy(stereo_48k.T / 32768.0).float())
    assert peak_hz(audio.samples[0], 48000) == 1000 and peak_hz(audio.samples[1], 48000) == 3000
    torch.testing.assert_close(audio.mono(), audio.samples.mean(0))


def test_resampling_48k_to_16k_keeps_a_1khz_tone_at_1khz(
    tmp_path: Path, stereo_48k: np.ndarray
) -> None:
    path = write_wav(tmp_path / "a.wav", stereo_48k[:, :1], 48000)
    audio = load_audio(path, sample_rate=16000)
    assert audio.sample_rate == 16000 and audio.samples.shape == (1, 16000)
    assert peak_hz(audio.samples[0], 16000) == 1000
    # a real (band-limited) resampler, not decimation: a 12 kHz tone above the new Nyquist
    # is filtered out instead of folding back to 4 kHz
    high = torch.from_numpy(tone(12000, 1.0, 48000)).float()
    assert resample(high, 48000, 16000)[100:-100].abs().max() < 0.01  # edges: transients
    assert load_audio(path).resample(16000).samples.shape == (1, 16000)


def test_flac_and_mp4_audio(tmp_path: Path, stereo_48k: np.ndarray) -> None:
    mono_16k = to_int16(tone(1000, 1.0, 16000))[None]
    flac = load_audio(write_encoded(tmp_path / "a.flac", mono_16k, 16000, "flac"))
    assert flac.sample_rate == 16000
    torch.testing.assert_close(flac.samples, torch.from_numpy(mono_16k / 32768.0).float())
    mp4 = load_audio(write_encoded(tmp_path / "a.mp4", stereo_48k.T.copy(), 48000, "aac"))
    assert mp4.sample_rate == 48000 and mp4.num_channels == 2
    assert abs(mp4.duration - 1.0) < 0.05  # AAC adds an encoder delay of a frame
    assert peak_hz(mp4.samples[0], 48000) == pytest.approx(1000, abs=2)


def test_broken_files_are_clear_errors(tmp_path: Path, stereo_48k: np.ndarray) -> None:
    whole = write_wav(tmp_path / "a.wav", stereo_48k, 48000).read_bytes()
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"truncated.*declares 48000 samples"):
        load_audio(truncated)
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(whole[:30])
    with pytest.raises(ValueError, match="path: could not decode"):
        load_audio(header_only)
    flac = write_encoded(tmp_path / "a.flac", stereo_48k.T.copy(), 48000, "flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(flac[: len(flac) // 2])
    with pytest.raises(ValueError, match=r"path: .*cut\.flac"):
        load_audio(tmp_path / "cut.flac")
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="stream 1"):
        load_audio(tmp_path / "a.wav", stream=1)


def test_waveform_validates_and_converts() -> None:
    pcm = torch.tensor([[-32768, 0, 16384]], dtype=torch.int16)
    assert Waveform(pcm, 16000).samples.tolist() == [[-1.0, 0.0, 0.5]]
    assert Waveform(torch.zeros(5, dtype=torch.float64), 8000).samples.shape == (1, 5)
    with pytest.raises(ValueError, match="sample_rate"):
        Waveform(torch.zeros(1, 5), 0)
    with pytest.raises(ValueError, match="sample_rate"):
        Waveform(torch.zeros(1, 5), 16000.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="samples: expected float32, float64 or int16"):
        Waveform(torch.zeros(1, 5, dtype=torch.int32), 16000)


def test_one_clip_convention() -> None:
    left, right = torch.randn(800), torch.randn(800)
    stereo = torch.stack([left, right])
    torch.testing.assert_close(mono_clip(stereo, 16000, 16000), (left + right) / 2)
    with pytest.raises(ValueError, match=r"channels-last .*pass waveform\.T"):
        mono_clip(stereo.T, 16000, 16000)
    with pytest.raises(ValueError, match=r"channels-last"):
        mono_clip(stereo.T.numpy(), 16000, 16000)  # soundfile's (N, C) float64 array
    with pytest.raises(ValueError, match="sample_rate: required"):
        mono_clip(stereo, None, 16000)
    with pytest.raises(ValueError, match="sample_rate: 8000 Hz given for a Waveform"):
        mono_clip(Waveform(stereo, 16000), 8000, 16000)
    torch.testing.assert_close(mono_clip(Waveform(stereo, 16000), None, 16000), stereo.mean(0))
    pcm = (stereo * 3000).to(torch.int16)
    torch.testing.assert_close(mono_clip(pcm, 16000, 16000), pcm.float().mean(0) / 32768)
    torch.testing.assert_close(mono_clip(stereo.double(), 16000, 16000), stereo.mean(0))
    for dtype in (torch.int32, torch.uint8, torch.float16, torch.bool):
        with pytest.raises(ValueError, match=f"waveform: expected float32.*{dtype}"):
            mono_clip(stereo.to(dtype), 16000, 16000)
    with pytest.raises(ValueError, match="waveform: expected a Waveform, a tensor"):
        mono_clip(stereo.tolist(), 16000, 16000)  # type: ignore[arg-type]


def test_batch_convention() -> None:
    clips = [torch.randn(2, 3000), torch.randn(1000), torch.zeros(0)]
    samples, lengths = batch_clips(clips, 48000, 16000)
    assert samples.shape == (3, 1000) and lengths.tolist() == [1000, 334, 0]
    torch.testing.assert_close(samples[0], resample(clips[0].mean(0), 48000, 16000))
    padded = torch.randn(2, 900)
    padded[1, 500:] = float("nan")  # padding never leaks
    out, lengths = batch_clips(padded, 16000, 16000, lengths=[900, 500])
    assert lengths.tolist() == [900, 500] and out[1, 500:].eq(0).all()
    with pytest.raises(ValueError, match=r"lengths: expected valid-sample counts in \[0, 900\]"):
        batch_clips(padded, 16000, 16000, lengths=[900, 901])
    with pytest.raises(ValueError, match="lengths: expected"):
        batch_clips(padded, 16000, 16000, lengths=[-1, 3])
    with pytest.raises(ValueError, match="lengths: only for a padded tensor batch"):
        batch_clips(clips, 16000, 16000, lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"\(B, N, C\).*transpose"):
        batch_clips(torch.randn(2, 900, 2), 16000, 16000)
    torch.testing.assert_close(
        batch_clips(torch.ones(2, 2, 900), 16000, 16000)[0], torch.ones(2, 900)
    )
