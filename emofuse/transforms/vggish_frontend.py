"""VGGish's audio front-end (Hershey et al. 2017; the framing Xia et al. 2022 use, sec. 3.1.2):
waveform → non-overlapping 0.96 s log-mel examples, built on torchaudio."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchaudio
from einops import rearrange
from torch import Tensor, nn

from emofuse.layers.masks import lengths_to_mask
from emofuse.transforms.audio import AudioInput, batch_clips

SAMPLE_RATE = 16_000
WINDOW, HOP, N_FFT = 400, 160, 512  # 25 ms window, 10 ms hop, FFT of 512 points
MEL_BANDS, MEL_LOW_HZ, MEL_HIGH_HZ = 64, 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10 ms frames
MIN_SAMPLES = WINDOW + (EXAMPLE_FRAMES - 1) * HOP  # 15 600: the samples of one example


class VGGishFrontEnd(nn.Module):
    """Waveforms → VGGish log-mel examples and their mask.

    16 kHz mono (other rates are resampled), frames of 400 samples (25 ms) every 160 (10 ms),
    periodic Hann window, FFT 512, magnitude, 64 HTK mel bands over 125–7500 Hz,
    ``log(mel + 0.01)``, cut into non-overlapping examples of 96 frames (0.96 s); a trailing
    partial example is dropped and a clip shorter than 15 600 samples is zero-padded to one
    example. Frame k covers samples ``[160 k, 160 k + 400)`` as in VGGish.

    Audio follows the front-ends' convention (:mod:`emofuse.transforms.audio`): a rate travels
    with it, channels are averaged, and a clip shorter than one 25 ms window has no example (its
    row is all padding).

    The mel filters are torchaudio's (triangles linear in Hz between HTK-mel-spaced edges;
    VGGish's own are linear in mel, a difference well below a band's width).

    Inputs:
        waveform: one clip (a :class:`~emofuse.transforms.Waveform`, (N,) or (C, N)
        channels-first), a list of clips of any lengths, a padded (B, N) mono batch with
        ``lengths``, or a padded (B, C, N) batch; sample_rate: their rate in Hz (required
        unless a Waveform); lengths: (B,) valid samples per clip of a padded batch (each ≤ N).
    Returns:
        (examples (B, T, 1, 96, 64), mask (B, T) bool, True = a real example), T ≥ 1 the most
        examples of any clip (B = 1 for one clip); padded examples are zeros. Samples past a
        clip's length never reach an example, even when they are NaN or inf.

    Raises:
        ValueError: see :func:`~emofuse.transforms.audio.batch_clips`.
    """

    mel_filters: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.sample_rate = SAMPLE_RATE
        # ``pad`` centres torch.stft's 512-point frame on VGGish's 400-sample window
        self.spectrogram = torchaudio.transforms.Spectrogram(
            n_fft=N_FFT,
            win_length=WINDOW,
            hop_length=HOP,
            pad=(N_FFT - WINDOW) // 2,
            window_fn=torch.hann_window,  # periodic
            power=1.0,
            center=False,
        )
        filters = torchaudio.functional.melscale_fbanks(
            N_FFT // 2 + 1, MEL_LOW_HZ, MEL_HIGH_HZ, MEL_BANDS, SAMPLE_RATE, mel_scale="htk"
        )
        self.register_buffer("mel_filters", filters, persistent=False)  # (257, 64)

    @staticmethod
    def num_examples(num_samples: Tensor) -> Tensor:
        """Examples per clip of ``num_samples`` 16 kHz samples: none under one 400-sample
        window, else at least one."""
        num_samples = torch.as_tensor(num_samples)
        frames = 1 + (num_samples.clamp(min=MIN_SAMPLES) - WINDOW) // HOP
        return torch.where(num_samples < WINDOW, 0, frames // EXAMPLE_FRAMES)

    def forward(
        self,
        waveform: AudioInput | Sequence[AudioInput],
        sample_rate: int | None = None,
        lengths: Tensor | Sequence[int] | None = None,
    ) -> tuple[Tensor, Tensor]:
        samples, lengths = batch_clips(waveform, sample_rate, SAMPLE_RATE, lengths)
        if samples.shape[1] < MIN_SAMPLES:
            samples = nn.functional.pad(samples, (0, MIN_SAMPLES - samples.shape[1]))
        magnitude = self.spectrogram(samples)  # (B, 257, frames)
        log_mel = torch.log(rearrange(magnitude, "b f t -> b t f") @ self.mel_filters + LOG_OFFSET)
        counts = self.num_examples(lengths)
        steps = max(1, int(counts.max())) if counts.numel() else 1
        examples = rearrange(
            log_mel[:, : steps * EXAMPLE_FRAMES], "b (t f) m -> b t 1 f m", f=EXAMPLE_FRAMES
        )
        mask = lengths_to_mask(counts, steps)
        return torch.where(mask[:, :, None, None, None], examples, 0.0), mask

    batch = forward  # the same contract as the other front-ends' ``batch``


__all__ = ["MIN_SAMPLES", "SAMPLE_RATE", "VGGishFrontEnd"]
