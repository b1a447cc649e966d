"""Audio front-end of Dai et al. 2021 that Le et al. 2023 reuse: a 128-band mel spectrogram cut
into chunks of 32 frames (400 ms at a 200-sample hop of 16 kHz audio), and batch collation."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchaudio
from einops import rearrange
from torch import Tensor, nn


class MelSpectrogramChunks(nn.Module):
    """Waveform → mel spectrogram (torchaudio, power 2, no log as in the authors' pipeline) →
    chunks of ``chunk_frames`` frames, the last one zero-padded on the right (padded with
    zero power before the log when ``log``, i.e. ``log(1e-6)``).

    Args:
        sample_rate: rate the spectrogram is computed at (other rates are resampled to it).
        n_mels, n_fft, hop_length: 128, 400, 200 (a 25 ms window every 12.5 ms at 16 kHz).
        chunk_frames: frames per chunk (32 = 400 ms).
        log: take ``log(mel + 1e-6)`` (not in the paper).

    Inputs:
        waveform: (T,) or (channels, T), channels averaged; sample_rate: its rate, default
        ``sample_rate``.
    Returns:
        (n_a, 1, n_mels, chunk_frames) with ``n_a = ceil((1 + T // hop_length) / chunk_frames)``
        (torchaudio centres its frames).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        n_mels: int = 128,
        n_fft: int = 400,
        hop_length: int = 200,
        chunk_frames: int = 32,
        log: bool = False,
    ) -> None:
        super().__init__()
        self.sample_rate, self.chunk_frames, self.log = sample_rate, chunk_frames, log
        with warnings.catch_warnings():
            # 128 bands over 201 FFT bins leave the lowest bands empty; the paper's setting
            warnings.filterwarnings("ignore", message="At least one mel filterbank")
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
            )

    def forward(self, waveform: Tensor, sample_rate: int | None = None) -> Tensor:
        if waveform.dim() == 2:
            waveform = waveform.mean(0)
        if waveform.dim() != 1:
            raise ValueError(
                f"waveform: expected (T,) or (channels, T), got {tuple(waveform.shape)}"
            )
        if sample_rate is not None and sample_rate != self.sample_rate:
            waveform = torchaudio.functional.resample(waveform, sample_rate, self.sample_rate)
        mel = self.mel(waveform)  # (n_mels, frames)
        # pad the power spectrogram, so that with ``log`` the tail is silence, not log-power 0
        mel = F.pad(mel, (0, -mel.shape[-1] % self.chunk_frames))
        if self.log:
            mel = torch.log(mel + 1e-6)
        return rearrange(mel, "m (n t) -> n 1 m t", t=self.chunk_frames)


def collate_steps(sequences: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Stack variable-length step sequences (frames, chunks, token ids) into one batch.

    Inputs:
        sequences: B tensors (T_b, ...) with the same trailing shape.
    Returns:
        (batch (B, max T_b, ...) zero-padded at the end, mask (B, max T_b) bool, True = valid).
    """
    lengths = torch.tensor([len(s) for s in sequences])
    batch = nn.utils.rnn.pad_sequence(list(sequences), batch_first=True)
    mask = torch.arange(batch.shape[1]) < lengths[:, None]
    return batch, mask


__all__ = ["MelSpectrogramChunks", "collate_steps"]
