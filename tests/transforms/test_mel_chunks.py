from __future__ import annotations

import math

import pytest
import torch
import torchaudio

from emofuse.transforms import MelSpectrogramChunks


@pytest.mark.parametrize(
    ("seconds", "chunks"),
    [(0.1, 1), (1.0, 3), (1.19, 3), (1.2, 4), (2.5, 7), (6.4, 17)],
)
def test_chunk_count_per_duration(seconds: float, chunks: int) -> None:
    # 1 + T // 200 centred frames, 32 per chunk: 1 s -> 81 frames -> 3 chunks
    front = MelSpectrogramChunks()
    out = front(torch.randn(int(seconds * 16000)), 16000)
    assert out.shape == (chunks, 1, 128, 32)


@pytest.mark.filterwarnings("ignore:At least one mel filterbank")
def test_chunks_are_the_spectrogram_in_order_with_a_zero_padded_tail() -> None:
    waveform = torch.randn(16000)
    front = MelSpectrogramChunks()
    mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=200, n_mels=128)(
        waveform
    )
    chunks = front(waveform, 16000)
    assert mel.shape[-1] == 81
    torch.testing.assert_close(chunks[1, 0], mel[:, 32:64])
    torch.testing.assert_close(chunks[2, 0, :, :17], mel[:, 64:])
    assert (chunks[2, 0, :, 17:] == 0).all() and (chunks[2, 0, :, :17] > 0).any()
    # with a log, the padded tail is the log of zero power (silence), not log-power 0
    logged = MelSpectrogramChunks(log=True)(waveform, 16000)
    torch.testing.assert_close(logged[2, 0, :, :17], torch.log(mel[:, 64:] + 1e-6))
    torch.testing.assert_close(logged[2, 0, :, 17:], torch.full((128, 15), math.log(1e-6)))


def test_other_rates_are_resampled_and_channels_averaged() -> None:
    front = MelSpectrogramChunks()
    stereo = torch.randn(2, 44100)  # 1 s at 44.1 kHz
    out = front(stereo, sample_rate=44100)
    assert out.shape == (3, 1, 128, 32)
    mono = torchaudio.functional.resample(stereo.mean(0), 44100, 16000)
    torch.testing.assert_close(out, front(mono, 16000))
    assert front(torch.rand(8000) + 0.1, 16000).shape == (2, 1, 128, 32)
    assert MelSpectrogramChunks(log=True)(torch.randn(4000), 16000).isfinite().all()
    with pytest.raises(ValueError, match="waveform"):
        front(torch.randn(1, 2, 100), 16000)


def test_moves_with_its_module_to_any_device() -> None:
    front = MelSpectrogramChunks(n_mels=32).to("meta")
    out = front(torch.zeros(16000, device="meta"), 48000)
    assert out.device.type == "meta" and out.shape == (1, 1, 32, 32)
