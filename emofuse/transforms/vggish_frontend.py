"""VGGish's audio front-end (Hershey et al. 2017; the framing Xia et al. 2022 use, sec. 3.1.2):
waveform → non-overlapping 0.96 s log-mel examples, built on torchaudio."""

from __future__ import annotations

import math

import torch
import torchaudio
from einops import rearrange
from torch import Tensor, nn

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

    The mel filters are torchaudio's (triangles linear in Hz between HTK-mel-spaced edges;
    VGGish's own are linear in mel, a difference well below a band's width).

    Inputs:
        waveform: (B, N) or (N,) float samples; sample_rate: their rate in Hz;
        lengths: (B,) valid samples per clip (None: all N), for a batch of clips padded to N.
    Returns:
        (examples (B, T, 1, 96, 64), mask (B, T) bool, True = a real example), T the most
        examples of any clip; padded examples are zeros. Samples past a clip's length never
        reach an example, even when they are NaN or inf.
    """

    mel_filters: Tensor

    def __init__(self) -> None:
        super().__init__()
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
        """Examples per clip of ``num_samples`` 16 kHz samples (at least one)."""
        frames = 1 + (num_samples.clamp(min=MIN_SAMPLES) - WINDOW) // HOP
        return frames // EXAMPLE_FRAMES

    def forward(
        self, waveform: Tensor, sample_rate: int = SAMPLE_RATE, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        if waveform.dim() == 1:
            waveform = waveform[None]
        if waveform.dim() != 2 or not waveform.is_floating_point():
            raise ValueError(
                f"waveform: expected float samples of shape (B, N) or (N,), got "
                f"{tuple(waveform.shape)} {waveform.dtype}"
            )
        b, n = waveform.shape
        if lengths is None:
            lengths = torch.full((b,), n, device=waveform.device)
        lengths = torch.as_tensor(lengths, device=waveform.device)  # e.g. CPU lengths, GPU audio
        if lengths.shape != (b,) or lengths.is_floating_point():
            raise ValueError(
                f"lengths: expected ({b},) integer valid-sample counts, one per clip, got "
                f"{tuple(lengths.shape)} {lengths.dtype}"
            )
        # select, never multiply: NaN or inf past a clip's length must reach no example
        waveform = torch.where(
            torch.arange(n, device=waveform.device) < lengths[:, None], waveform, 0.0
        )
        if sample_rate != SAMPLE_RATE:
            waveform = torchaudio.functional.resample(waveform, sample_rate, SAMPLE_RATE)
            lengths = torch.ceil(lengths * (SAMPLE_RATE / sample_rate)).long()
            valid = torch.arange(waveform.shape[1], device=waveform.device) < lengths[:, None]
            waveform = torch.where(valid, waveform, 0.0)
        if waveform.shape[1] < MIN_SAMPLES:
            waveform = nn.functional.pad(waveform, (0, MIN_SAMPLES - waveform.shape[1]))
        magnitude = self.spectrogram(waveform)  # (B, 257, frames)
        log_mel = torch.log(rearrange(magnitude, "b f t -> b t f") @ self.mel_filters + LOG_OFFSET)
        counts = self.num_examples(lengths)
        steps = int(counts.max())
        examples = rearrange(
            log_mel[:, : steps * EXAMPLE_FRAMES], "b (t f) m -> b t 1 f m", f=EXAMPLE_FRAMES
        )
        mask = torch.arange(steps, device=waveform.device) < counts[:, None]
        return torch.where(mask[:, :, None, None, None], examples, 0.0), mask


def face_frame_indices(
    num_frames: int,
    fps: float,
    num_windows: int | None = None,
    *,
    training: bool = False,
    window_s: float = EXAMPLE_FRAMES * HOP / SAMPLE_RATE,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One face frame per 0.96 s window (Xia et al. 2022, sec. 4.3), so video steps align with
    the audio examples: a random frame of each window in training, the centre one otherwise.

    Args:
        num_frames: frames in the video; fps: its frame rate.
        num_windows: windows to sample (e.g. the clip's audio example count); default: the
            whole windows in the video (at least one). A window cut by the video's end samples
            within what remains; windows past the end repeat the last frame.
        training: random position within each window; else the centre.
        window_s: window length in seconds (0.96).

    Returns:
        (T,) long frame indices in ``[0, num_frames)``.
    """
    per_window = window_s * fps
    if num_windows is None:
        num_windows = max(1, math.floor(num_frames / per_window))
    start = torch.arange(num_windows, dtype=torch.float64) * per_window
    offset = (
        torch.rand(num_windows, generator=generator, dtype=torch.float64)
        if training
        else torch.full((num_windows,), 0.5, dtype=torch.float64)
    )
    # a window cut short by the end of the video samples within what is there
    length = (num_frames - start).clamp(min=0, max=per_window)
    return (start + offset * length).floor().long().clamp(0, num_frames - 1)


__all__ = ["MIN_SAMPLES", "SAMPLE_RATE", "VGGishFrontEnd", "face_frame_indices"]
