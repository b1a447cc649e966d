"""Audio front-end of Dai et al. 2021 that Le et al. 2023 reuse: a 128-band mel spectrogram cut
into chunks of 32 frames (400 ms at a 200-sample hop of 16 kHz audio)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchaudio
from einops import rearrange
from torch import Tensor, nn

from emofuse.transforms.audio import AudioInput, check_sample_rate, mono_clip
from emofuse.transforms.collate import batch_per_clip


class MelSpectrogramChunks(nn.Module):
    """Waveform → mel spectrogram (torchaudio, power 2, no log as in the authors' pipeline) →
    chunks of ``chunk_frames`` frames, the last one zero-padded on the right (padded with
    zero power before the log when ``log``, i.e. ``log(1e-6)``).

    Audio follows the front-ends' convention (:mod:`emofuse.transforms.audio`): a rate travels
    with it, other rates are resampled to ``sample_rate``, channels are averaged, a clip shorter
    than one ``n_fft`` window has no chunk.

    Args:
        sample_rate: rate in Hz the spectrogram is computed at (16 kHz in the paper).
        n_mels: mel bands (128).
        n_fft: FFT window in samples (400: 25 ms at 16 kHz).
        hop_length: hop in samples (200: 12.5 ms at 16 kHz).
        chunk_frames: frames per chunk (32 = 400 ms).
        log: take ``log(mel + 1e-6)`` (not in the paper).

    Inputs:
        waveform: one clip, a :class:`~emofuse.transforms.Waveform` or (N,) / (C, N) samples;
        sample_rate: its rate in Hz (required unless a Waveform).
    Returns:
        (n_a, 1, n_mels, chunk_frames) with ``n_a = ceil((1 + N // hop_length) / chunk_frames)``
        for N samples at ``sample_rate`` (torchaudio centres its frames); 0 when N < n_fft.

    Raises:
        ValueError: see :func:`~emofuse.transforms.audio.mono_clip`.
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
        self.sample_rate = check_sample_rate(sample_rate)
        self.n_mels, self.n_fft = n_mels, n_fft
        self.chunk_frames, self.log = chunk_frames, log
        with warnings.catch_warnings():
            # 128 bands over 201 FFT bins leave the lowest bands empty; the paper's setting
            warnings.filterwarnings("ignore", message="At least one mel filterbank")
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
            )

    def forward(self, waveform: AudioInput, sample_rate: int | None = None) -> Tensor:
        mono = mono_clip(waveform, sample_rate, self.sample_rate)
        if mono.shape[0] < self.n_fft:  # shorter than one window
            return mono.new_zeros(0, 1, self.n_mels, self.chunk_frames)
        mel = self.mel(mono)  # (n_mels, frames)
        # pad the power spectrogram, so that with ``log`` the tail is silence, not log-power 0
        mel = F.pad(mel, (0, -mel.shape[-1] % self.chunk_frames))
        if self.log:
            mel = torch.log(mel + 1e-6)
        return rearrange(mel, "m (n t) -> n 1 m t", t=self.chunk_frames)

    def batch(
        self,
        waveforms: AudioInput | Sequence[AudioInput],
        sample_rate: int | None = None,
        lengths: Tensor | Sequence[int] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Chunks of several clips, padded.

        Inputs:
            waveforms: a list of clips of any lengths, or a padded (B, N) / (B, C, N) batch
            with ``lengths`` (B,) valid samples (see
            :func:`~emofuse.transforms.audio.batch_clips`); sample_rate: their rate in Hz.
        Returns:
            (chunks (B, T, 1, n_mels, chunk_frames) zero-padded, mask (B, T) bool, True = a
            real chunk, T ≥ 1), ready as a model's ``audio`` and ``audio_mask``.
        """
        return batch_per_clip(self, waveforms, sample_rate, self.sample_rate, lengths)


__all__ = ["MelSpectrogramChunks"]
