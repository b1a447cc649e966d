from __future__ import annotations

import math

import pytest
import torch

from emofuse.transforms import SpectrogramSegments


def tone(freq: float, seconds: float, rate: int) -> torch.Tensor:
    t = torch.arange(round(seconds * rate)) / rate
    return torch.sin(2 * math.pi * freq * t)


def test_segments_are_resized_one_second_images() -> None:
    front = SpectrogramSegments(6)
    segments = front(torch.randn(2, 58000), sample_rate=16000)  # 3.6 s stereo
    assert segments.shape == (6, 1, 224, 224) and segments.isfinite().all()


def test_spectrogram_geometry_and_normalisation() -> None:
    front = SpectrogramSegments(6, size=None)
    spec = front.log_spectrogram(tone(440, 3.0, 16000), 16000)
    assert spec.shape == (256, 301)  # 256 bins, one frame per 10 ms (centred frames)
    assert spec.mean().abs() < 1e-4 and (spec.std() - 1).abs() < 1e-4
    assert front.spectrogram.win_length == 512 and front.spectrogram.hop_length == 160
    segments = front(tone(440, 3.0, 16000), 16000)
    assert segments.shape == (6, 1, 256, 100)  # 100 frames = one second
    # the first and last segments start and end with the clip
    torch.testing.assert_close(segments[0, 0], spec[:, :100])
    torch.testing.assert_close(segments[-1, 0], spec[:, -100:])


@pytest.mark.parametrize("rate", [16000, 48000])
def test_a_tone_lands_in_its_frequency_bin(rate: int) -> None:
    front = SpectrogramSegments(3, size=None)
    segments = front(tone(1000.0, 2.0, rate), sample_rate=rate)
    # 16 kHz / 512-point FFT = 31.25 Hz per bin: 1 kHz is bin 32
    assert segments.mean((0, 1, 3)).argmax().item() == 32


def test_short_clip_still_gives_n_segments() -> None:
    segments = SpectrogramSegments(6, size=(64, 64))(tone(300, 0.4, 16000), 16000)
    assert segments.shape == (6, 1, 64, 64) and segments.isfinite().all()


def test_rate_too_high_for_256_bins() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        SpectrogramSegments(sample_rate=44100)


def test_log_magnitude_of_a_hamming_stft_normalised_over_the_clip() -> None:
    # noise then silence: the silent floor tells magnitude from power, the side lobes Hamming
    # from Hann, even after the per-clip normalisation
    g = torch.Generator().manual_seed(0)
    wave = torch.cat([0.1 * torch.randn(16000, generator=g), torch.zeros(16000)])
    stft = torch.stft(
        wave, 512, hop_length=160, window=torch.hamming_window(512), return_complex=True
    )
    log_magnitude = torch.log(stft.abs()[:256] + 1e-6)
    want = (log_magnitude - log_magnitude.mean()) / log_magnitude.std()
    got = SpectrogramSegments(2, size=None).log_spectrogram(wave, 16000)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_resizing_antialiases() -> None:
    # 256 frequency bins shrunk to 32 rows: each row averages its bins instead of sampling two
    wave = tone(1000.0, 2.0, 16000) + 0.01 * torch.randn(
        32000, generator=torch.Generator().manual_seed(0)
    )
    full = SpectrogramSegments(2, size=None)(wave, 16000)
    small = SpectrogramSegments(2, size=(32, 100))(wave, 16000)
    want = torch.nn.functional.interpolate(
        full, size=(32, 100), mode="bilinear", align_corners=False, antialias=True
    )
    torch.testing.assert_close(small, want)
    # the 1 kHz line (bin 32 of 256) survives as energy in row 4, not aliased away
    assert small.mean((0, 1, 3)).argmax() == 4


def test_moves_with_its_module_to_any_device() -> None:
    front = SpectrogramSegments(3, size=(32, 32)).to("meta")
    out = front(torch.zeros(32000, device="meta"), 16000)
    assert out.device.type == "meta" and out.shape == (3, 1, 32, 32)


def test_mel_bands_instead_of_linear_bins() -> None:
    front = SpectrogramSegments(4, num_mels=64, size=None)
    segments = front(tone(1000.0, 2.0, 16000), sample_rate=16000)
    assert segments.shape == (4, 1, 64, 100) and segments.isfinite().all()
    # the band whose HTK-mel centre is nearest 1 kHz holds the tone
    mel = 2595 * torch.log10(torch.tensor(1 + 1000 / 700))
    edges = torch.linspace(0, 2595 * torch.log10(torch.tensor(1 + 8000 / 700)), 66)
    assert segments.mean((0, 1, 3)).argmax().item() == int((edges[1:-1] - mel).abs().argmin())
    with pytest.raises(ValueError, match="num_mels"):
        SpectrogramSegments(4, num_mels=0)
