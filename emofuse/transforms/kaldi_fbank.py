"""Kaldi-compatible log-mel filter banks with Δ and ΔΔ (Takashima et al. 2022, sec. 4.2:
80 log-mel coefficients + delta + acceleration, 10 ms frame shift → 240 dims per step)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as AF
from einops import rearrange
from torch import Tensor, nn

from emofuse.transforms.audio import AudioInput, check_sample_rate, mono_clip
from emofuse.transforms.collate import batch_per_clip


class KaldiFbankDeltas(nn.Module):
    """Waveform → Kaldi log-mel filter bank (``torchaudio.compliance.kaldi.fbank``) with its
    deltas and delta-deltas (``torchaudio.functional.compute_deltas``, Kaldi's 2-frame window),
    stacked as ``[fbank, Δ, ΔΔ]``. The fbank and Δ equal Kaldi's ``add-deltas``; ΔΔ is Δ of Δ,
    which equals Kaldi's in the interior but not in the first and last four frames (Kaldi
    replicates the edge fbank frames, ``compute_deltas`` the edge Δ frames).

    Audio follows the front-ends' convention (:mod:`emofuse.transforms.audio`): a rate travels
    with it, other rates are resampled to ``sample_rate``, channels are averaged, a clip shorter
    than one window has no frame.

    Args:
        sample_rate: rate in Hz the features are computed at (16 kHz in the paper).
        num_mel_bins: mel bands (paper: 80).
        frame_length: window in ms (25).
        frame_shift: hop in ms (10).
        delta_order: 0 (fbank only), 1 (+Δ) or 2 (+Δ+ΔΔ, paper).
        delta_window: frames of the delta regression window (5 = Kaldi's ``--delta-window=2``).
        fbank_kwargs: further options of ``kaldi.fbank`` (``dither``, ``snip_edges``, ...).

    Inputs:
        waveform: one clip, a :class:`~emofuse.transforms.Waveform` or (N,) / (C, N) samples;
        sample_rate: its rate in Hz (required unless a Waveform). Kaldi tools read 16-bit
        integers, so pass int16 samples scaled by 32768 as floats (``x.float()``) to match
        Kaldi's fbank values exactly.
    Returns:
        (T, num_mel_bins · (1 + delta_order)) with ``T`` = :meth:`num_frames` (N at
        ``sample_rate``).

    Raises:
        ValueError: see :func:`~emofuse.transforms.audio.mono_clip`.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        num_mel_bins: int = 80,
        frame_length: float = 25.0,
        frame_shift: float = 10.0,
        delta_order: int = 2,
        delta_window: int = 5,
        **fbank_kwargs: Any,
    ) -> None:
        super().__init__()
        if delta_order not in (0, 1, 2):
            raise ValueError(f"delta_order: expected 0, 1 or 2, got {delta_order}")
        self.sample_rate = check_sample_rate(sample_rate)
        self.num_mel_bins = num_mel_bins
        self.frame_length, self.frame_shift = frame_length, frame_shift
        self.delta_order, self.delta_window = delta_order, delta_window
        self.fbank_kwargs = fbank_kwargs

    @property
    def dim(self) -> int:
        """Features per frame."""
        return self.num_mel_bins * (1 + self.delta_order)

    @property
    def window_samples(self) -> int:
        """Samples in one analysis window at ``sample_rate``."""
        return int(self.sample_rate * self.frame_length * 0.001)

    def num_frames(self, num_samples: int) -> int:
        """Frames for ``num_samples`` samples at ``sample_rate``: none under one window, else
        Kaldi's count (with ``snip_edges``: ``1 + (N - window) // shift``; without it
        ``round(N / shift)``)."""
        window = self.window_samples
        shift = int(self.sample_rate * self.frame_shift * 0.001)
        if num_samples < window:
            return 0
        if not self.fbank_kwargs.get("snip_edges", True):
            return (num_samples + shift // 2) // shift
        return 1 + (num_samples - window) // shift

    def forward(self, waveform: AudioInput, sample_rate: int | None = None) -> Tensor:
        mono = mono_clip(waveform, sample_rate, self.sample_rate)[None]
        if self.num_frames(mono.shape[-1]) == 0:  # shorter than one window
            return mono.new_zeros(0, self.dim)
        feats = kaldi.fbank(
            mono,
            num_mel_bins=self.num_mel_bins,
            frame_length=self.frame_length,
            frame_shift=self.frame_shift,
            sample_frequency=float(self.sample_rate),
            **self.fbank_kwargs,
        )
        stack = [rearrange(feats, "t f -> f t")]
        for _ in range(self.delta_order):
            stack.append(AF.compute_deltas(stack[-1], win_length=self.delta_window))
        return rearrange(torch.cat(stack, dim=0), "f t -> t f")

    def batch(
        self,
        waveforms: AudioInput | Sequence[AudioInput],
        sample_rate: int | None = None,
        lengths: Tensor | Sequence[int] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Features of several clips, padded.

        Inputs:
            waveforms: a list of clips of any lengths, or a padded (B, N) / (B, C, N) batch
            with ``lengths`` (B,) valid samples (see
            :func:`~emofuse.transforms.audio.batch_clips`); sample_rate: their rate in Hz.
        Returns:
            (features (B, T, dim) zero-padded, mask (B, T) bool, True = real frame, T ≥ 1),
            ready as a model's ``audio`` and ``audio_mask``.
        """
        return batch_per_clip(self, waveforms, sample_rate, self.sample_rate, lengths)


__all__ = ["KaldiFbankDeltas"]
