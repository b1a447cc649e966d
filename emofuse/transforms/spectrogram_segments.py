"""Log-magnitude spectrogram images cut into one-second segments (Mocanu et al. 2023, sec. 4.2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchaudio
from einops import rearrange
from torch import Tensor, nn

from emofuse.transforms.audio import AudioInput, check_sample_rate, mono_clip
from emofuse.transforms.collate import batch_per_clip


class SpectrogramSegments(nn.Module):
    """Waveform → N one-second log-spectrogram images for the 2D CNN.

    Hamming window of 32 ms, hop of 10 ms, an FFT giving ``num_bins`` = 256 frequency bins (a
    512-point FFT at 16 kHz gives 257; the Nyquist bin is dropped), log magnitude, mean/variance
    normalisation over the clip. With ``num_mels``, the rows are instead that many log mel
    bands of the same FFT (power, HTK mel scale over 0 Hz to the Nyquist frequency): smaller
    images for a CNN on a CPU. ``num_segments`` one-second windows are spread uniformly over
    the whole clip (they overlap when the clip is shorter than ``num_segments`` seconds, as
    RAVDESS's ~3.8 s clips are for N = 6; a clip under one second is padded with the clip
    mean), and each is resized to ``size`` (bilinear, antialiased).

    Audio follows the front-ends' convention (:mod:`emofuse.transforms.audio`): a rate travels
    with it, other rates are resampled to ``sample_rate``, channels are averaged, a clip shorter
    than one analysis window (32 ms) has no segment.

    Args:
        num_segments: N (paper: 6).
        sample_rate: rate in Hz the spectrogram works at (16 kHz in the paper).
        window_ms: analysis window in ms (paper: 32).
        hop_ms: hop in ms (paper: 10).
        num_bins: frequency bins kept (paper: 256).
        segment_seconds: length of each segment (paper: 1 s).
        num_mels: log mel bands instead of the ``num_bins`` linear bins (not in the paper);
            ``None``: the paper's linear bins.
        size: (height, width) of the output images (the CNN's input, paper: 224 × 224), or
            ``None`` to keep (num_bins or num_mels, frames per segment).

    Inputs:
        waveform: one clip, a :class:`~emofuse.transforms.Waveform` or (N,) / (C, N) samples;
        sample_rate: its rate in Hz (required unless a Waveform).
    Returns:
        (num_segments, 1, height, width) segments, frequency on the height axis (bin 0 = 0 Hz
        on row 0); (0, 1, height, width) for a clip shorter than one window.

    Raises:
        ValueError: see :func:`~emofuse.transforms.audio.mono_clip`; at construction, a
            ``sample_rate`` whose window does not fit the FFT.
    """

    def __init__(
        self,
        num_segments: int = 6,
        *,
        sample_rate: int = 16000,
        window_ms: float = 32.0,
        hop_ms: float = 10.0,
        num_bins: int = 256,
        segment_seconds: float = 1.0,
        num_mels: int | None = None,
        size: tuple[int, int] | None = (224, 224),
    ) -> None:
        super().__init__()
        sample_rate = check_sample_rate(sample_rate)
        if num_mels is not None and num_mels < 1:
            raise ValueError(f"num_mels: expected a positive int or None, got {num_mels}")
        win_length = round(sample_rate * window_ms / 1000)
        n_fft = 2 * num_bins
        if win_length > n_fft:
            raise ValueError(
                f"sample_rate: a {window_ms} ms window at {sample_rate} Hz has {win_length} "
                f"samples, more than the {n_fft}-point FFT giving {num_bins} bins; use 16000 Hz"
            )
        self.num_segments, self.sample_rate, self.size = num_segments, sample_rate, size
        self.num_mels = num_mels
        self.num_bins = num_bins if num_mels is None else num_mels  # rows of each image
        self.win_length = win_length
        self.segment_frames = round(segment_seconds * 1000 / hop_ms)
        self.spectrogram = torchaudio.transforms.Spectrogram(
            n_fft=n_fft,
            win_length=win_length,
            hop_length=round(sample_rate * hop_ms / 1000),
            window_fn=torch.hamming_window,
            power=1.0 if num_mels is None else 2.0,  # magnitude, or power for mel bands
        )
        self.mel_scale = (
            None
            if num_mels is None
            else torchaudio.transforms.MelScale(num_mels, sample_rate, n_stft=num_bins + 1)
        )

    def log_spectrogram(self, waveform: AudioInput, sample_rate: int | None = None) -> Tensor:
        """The clip's normalised log-magnitude spectrogram (log mel power with ``num_mels``),
        (num_bins or num_mels, frames); (rows, 0) for a clip shorter than one window."""
        mono = mono_clip(waveform, sample_rate, self.sample_rate)
        if mono.shape[0] < self.win_length:
            return mono.new_zeros(self.num_bins, 0)
        spec = self.spectrogram(mono)
        spec = spec[: self.num_bins] if self.mel_scale is None else self.mel_scale(spec)
        spec = torch.log(spec + 1e-6)
        return (spec - spec.mean()) / spec.std().clamp(min=1e-5)

    def forward(self, waveform: AudioInput, sample_rate: int | None = None) -> Tensor:
        spec = self.log_spectrogram(waveform, sample_rate)
        if spec.shape[1] == 0:  # shorter than one window: no segment
            height, width = self.size or (self.num_bins, self.segment_frames)
            return spec.new_zeros(0, 1, height, width)
        length = self.segment_frames
        if spec.shape[1] < length:  # zeros are the clip mean after normalisation
            spec = F.pad(spec, (0, length - spec.shape[1]))
        starts = torch.linspace(0, spec.shape[1] - length, self.num_segments).round().long()
        frames = starts[:, None] + torch.arange(length)  # (N, segment_frames)
        segments = rearrange(spec[:, frames.to(spec.device)], "f n t -> n 1 f t")
        if self.size is not None:
            # 256 bins → 224 rows shrinks: antialias, or rows alias between bins
            segments = F.interpolate(
                segments, size=self.size, mode="bilinear", align_corners=False, antialias=True
            )
        return segments

    def batch(
        self,
        waveforms: AudioInput | Sequence[AudioInput],
        sample_rate: int | None = None,
        lengths: Tensor | Sequence[int] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Segments of several clips, padded.

        Inputs:
            waveforms: a list of clips of any lengths, or a padded (B, N) / (B, C, N) batch
            with ``lengths`` (B,) valid samples (see
            :func:`~emofuse.transforms.audio.batch_clips`); sample_rate: their rate in Hz.
        Returns:
            (segments (B, num_segments, 1, height, width), mask (B, num_segments) bool, True =
            a real segment; a clip shorter than a window is a row of padding), ready as a
            model's ``audio`` and ``audio_mask`` (the video gives the same number of snippets).
        """
        return batch_per_clip(
            self, waveforms, sample_rate, self.sample_rate, lengths, min_steps=self.num_segments
        )


__all__ = ["SpectrogramSegments"]
