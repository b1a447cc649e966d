"""KaldiFbankDeltas: 240-dim features per 10 ms, Kaldi's frame count, batching with masks."""

from __future__ import annotations

import pytest
import torch
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as AF

from emofuse.transforms import KaldiFbankDeltas


@pytest.mark.parametrize(
    ("seconds", "frames"),
    [(1.0, 98), (0.025, 1), (0.0349, 1), (0.035, 2), (2.5, 248), (0.02, 0)],
)
def test_frame_count_follows_kaldi_snip_edges(seconds: float, frames: int) -> None:
    front = KaldiFbankDeltas()
    n = round(16000 * seconds)
    assert (1 + (n - 400) // 160 if n >= 400 else 0) == frames  # 25 ms = 400, 10 ms = 160
    assert front.num_frames(n) == frames
    feats = front(torch.randn(n), 16000)
    assert feats.shape == (frames, 240) and feats.isfinite().all()


def test_ten_seconds_is_998_frames_at_8khz_too() -> None:
    front = KaldiFbankDeltas(sample_rate=8000)
    assert front(torch.randn(80000), 8000).shape == (998, 240)


def test_layout_is_fbank_then_deltas() -> None:
    wave = torch.randn(16000)
    feats = KaldiFbankDeltas()(wave, 16000)
    fbank = kaldi.fbank(wave[None], num_mel_bins=80, frame_length=25.0, frame_shift=10.0)
    torch.testing.assert_close(feats[:, :80], fbank)
    delta = AF.compute_deltas(fbank.T).T
    torch.testing.assert_close(feats[:, 80:160], delta)
    torch.testing.assert_close(feats[:, 160:], AF.compute_deltas(delta.T).T)


def test_channels_are_averaged_and_options_pass_through() -> None:
    wave = torch.randn(2, 8000)
    front = KaldiFbankDeltas(delta_order=0, num_mel_bins=40, snip_edges=False)
    torch.testing.assert_close(front(wave, 16000), front(wave.mean(0), 16000))
    assert front(wave, 16000).shape == (front.num_frames(8000), 40) == (50, 40)
    with pytest.raises(ValueError, match="waveform"):
        front(torch.randn(1, 1, 100), 16000)


def test_batch_pads_and_masks() -> None:
    front = KaldiFbankDeltas()
    waves = [torch.randn(16000), torch.randn(8000), torch.randn(100)]
    feats, mask = front.batch(waves, 16000)
    assert feats.shape == (3, 98, 240) and mask.sum(1).tolist() == [98, 48, 0]
    torch.testing.assert_close(feats[1, :48], front(waves[1], 16000))
    assert (feats[1, 48:] == 0).all()


def test_features_stay_on_the_waveform_device() -> None:
    feats = KaldiFbankDeltas()(torch.zeros(48000, device="meta"), 48000)
    assert feats.device.type == "meta" and feats.shape == (98, 240)
