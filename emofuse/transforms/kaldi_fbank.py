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
from torch.nn.utils.rnn import pad_sequence


class KaldiFbankDeltas(nn.Module):
    """Waveform → Kaldi log-mel filter bank (``torchaudio.compliance.kaldi.fbank``) with its
    deltas and delta-deltas (``torchaudio.functional.compute_deltas``, Kaldi's 2-frame window),
    stacked as ``[fbank, Δ, ΔΔ]``. The fbank and Δ equal Kaldi's ``add-deltas``; ΔΔ is Δ of Δ,
    which equals Kaldi's in the interior but not in the first and last four frames (Kaldi
    replicates the edge fbank frames, ``compute_deltas`` the edge Δ frames).

    Args:
        sample_rate: of the waveform in Hz.
        num_mel_bins: mel bands (paper: 80).
        frame_length, frame_shift: window and hop in ms (25 and 10).
        delta_order: 0 (fbank only), 1 (+Δ) or 2 (+Δ+ΔΔ, paper).
        delta_window: frames of the delta regression window (5 = Kaldi's ``--delta-window=2``).
        fbank_kwargs: further options of ``kaldi.fbank`` (``dither``, ``snip_edges``, ...).

    Inputs:
        waveform: (N,) or (C, N) samples; channels are averaged. Kaldi tools read 16-bit
        integers, so scale floats in [-1, 1] by 32768 to match Kaldi's fbank values exactly.
    Returns:
        (T, num_mel_bins · (1 + delta_order)) with ``T`` = :meth:`num_frames` (N).
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
        self.sample_rate, self.num_mel_bins = sample_rate, num_mel_bins
        self.frame_length, self.frame_shift = frame_length, frame_shift
        self.delta_order, self.delta_window = delta_order, delta_window
        self.fbank_kwargs = fbank_kwargs

    @property
    def dim(self) -> int:
        """Features per frame."""
        return self.num_mel_bins * (1 + self.delta_order)

    def num_frames(self, num_samples: int) -> int:
        """Frames for ``num_samples`` samples (Kaldi's count with ``snip_edges``:
        ``1 + (N - window) // shift`` for ``N >= window``, else 0; without it
        ``round(N / shift)``)."""
        window = int(self.sample_rate * self.frame_length * 0.001)
        shift = int(self.sample_rate * self.frame_shift * 0.001)
        if not self.fbank_kwargs.get("snip_edges", True):
            return (num_samples + shift // 2) // shift
        return 1 + (num_samples - window) // shift if num_samples >= window else 0

    def forward(self, waveform: Tensor) -> Tensor:
        if waveform.dim() not in (1, 2):
            raise ValueError(
                f"waveform: expected (N,) or (C, N) samples, got shape {tuple(waveform.shape)}"
            )
        mono = waveform.reshape(-1, waveform.shape[-1]).mean(0, keepdim=True)
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

    def batch(self, waveforms: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Features of several waveforms, padded.

        Inputs:
            waveforms: B tensors (N_b,) or (C, N_b) of any lengths.
        Returns:
            (features (B, T_max, dim) zero-padded, mask (B, T_max) bool, True = real frame),
            ready as a model's ``audio`` and ``audio_mask``.
        """
        feats = [self(w) for w in waveforms]
        padded = pad_sequence(feats, batch_first=True)
        # the mask lives with the features (a CUDA batch gets a CUDA mask)
        lengths = torch.tensor([f.shape[0] for f in feats], device=padded.device)
        return padded, torch.arange(padded.shape[1], device=padded.device) < lengths[:, None]


__all__ = ["KaldiFbankDeltas"]
