from __future__ import annotations

import math

import pytest
import torch

from emofuse.transforms import VGGishFrontEnd


def _sine(freq: float, seconds: float, rate: int = 16_000) -> torch.Tensor:
    t = torch.arange(round(seconds * rate), dtype=torch.float64) / rate
    return torch.sin(2 * math.pi * freq * t).float()


def _htk_mel(hz: float) -> float:
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def test_a_1khz_tone_lands_in_the_band_the_htk_formula_predicts() -> None:
    low, high = _htk_mel(125.0), _htk_mel(7500.0)
    centres = [low + (i + 1) * (high - low) / 65 for i in range(64)]  # 64 bands, 66 edges
    expected = min(range(64), key=lambda i: abs(centres[i] - _htk_mel(1000.0)))
    assert expected == 19  # 1 kHz = 1000 mel; band 19 peaks at 981 mel, band 20 at 1021
    examples, mask = VGGishFrontEnd()(_sine(1000.0, 2.0), 16_000)
    assert examples.shape == (1, 2, 1, 96, 64) and mask.all()
    spectrum = examples[0, :, 0].mean((0, 1))
    assert int(spectrum.argmax()) == expected
    assert spectrum[expected] > spectrum[40] + 5  # far bands sit at the log floor


@pytest.mark.parametrize(
    ("seconds", "examples"), [(0.2, 1), (0.975, 1), (1.9, 1), (1.935, 2), (10.0, 10)]
)
def test_number_of_examples_per_duration(seconds: float, examples: int) -> None:
    samples = round(seconds * 16_000)
    frames = 1 + (max(samples, 15_600) - 400) // 160  # VGGish framing, short clips padded
    assert frames // 96 == examples
    out, mask = VGGishFrontEnd()(torch.randn(samples), 16_000)
    assert out.shape == (1, examples, 1, 96, 64) and mask.all()


def test_framing_matches_a_hand_computed_frame() -> None:
    x = torch.randn(16_000, dtype=torch.float64).float()
    front = VGGishFrontEnd()
    examples, _ = front(x, 16_000)
    k = 37  # frame k covers samples [160 k, 160 k + 400)
    window = torch.hann_window(400, periodic=True)
    magnitude = torch.fft.rfft(x[160 * k : 160 * k + 400] * window, n=512).abs()
    expected = torch.log(magnitude @ front.mel_filters + 0.01)
    torch.testing.assert_close(examples[0, 0, 0, k], expected, atol=1e-4, rtol=1e-4)


def test_batch_of_clips_of_different_lengths_and_sample_rates() -> None:
    front = VGGishFrontEnd()
    long, short = torch.randn(3 * 16_000), torch.randn(16_000 + 4_000)
    batch = torch.stack([long, torch.cat([short, torch.randn(len(long) - len(short))])])
    examples, mask = front(batch, 16_000, lengths=torch.tensor([len(long), len(short)]))
    assert examples.shape == (2, 3, 1, 96, 64)
    assert mask.tolist() == [[True, True, True], [True, False, False]]
    alone, _ = front(short, 16_000)
    torch.testing.assert_close(examples[1, :1], alone[0], atol=1e-4, rtol=1e-4)
    assert (examples[1, 1:] == 0).all()
    resampled, mask44 = front(_sine(1000.0, 2.0, rate=44_100), sample_rate=44_100)
    assert resampled.shape == (1, 2, 1, 96, 64) and mask44.all()
    assert int(resampled[0, :, 0].mean((0, 1)).argmax()) == 19
    with pytest.raises(ValueError, match="waveform"):
        front(torch.zeros(2, 2, 2, 100), 16_000)
    with pytest.raises(ValueError, match=r"lengths: expected \(2,\)"):
        front(batch, 16_000, lengths=torch.tensor([len(long)]))


@pytest.mark.parametrize("sample_rate", [16_000, 22_050])
def test_nonfinite_samples_past_a_clip_length_reach_no_example(sample_rate: int) -> None:
    """Samples past ``lengths`` are padding: NaN or inf there gives the examples of zeros."""
    waveform = _sine(440.0, 2.5, sample_rate).repeat(2, 1)
    lengths = torch.tensor([waveform.shape[1], sample_rate * 3 // 2])
    past = torch.arange(waveform.shape[1]) >= lengths[:, None]
    front = VGGishFrontEnd()
    want, want_mask = front(waveform.masked_fill(past, 0.0), sample_rate, lengths)
    for value in (float("nan"), float("inf")):
        got, mask = front(waveform.masked_fill(past, value), sample_rate, lengths)
        assert got.isfinite().all()
        torch.testing.assert_close(got, want)
        assert torch.equal(mask, want_mask)
