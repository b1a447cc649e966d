"""Audio as the front-ends take it: samples with their sample rate, read from files with PyAV
(FFmpeg) and resampled with torchaudio.

One convention for every audio front-end (:class:`VGGishFrontEnd`, :class:`SpectrogramSegments`,
:class:`KaldiFbankDeltas`, :class:`MelSpectrogramChunks`):

- **Sample rate travels with the audio.** A front-end takes a :class:`Waveform` (which carries
  its rate) or a tensor together with ``sample_rate`` in Hz; a tensor without a rate is refused.
  Audio at another rate than the front-end works at is resampled
  (``torchaudio.functional.resample``, windowed sinc).
- **Channels first.** One clip is ``(N,)`` mono or ``(C, N)`` channels-first; channels are
  mixed down to mono by averaging. A 2-D array with more rows than columns reads as
  channels-last ``(N, C)``, the layout ``soundfile.read`` returns, and is refused: pass
  ``waveform.T``. A padded batch is ``(B, N)`` with ``lengths`` (B,) valid samples per clip, or
  ``(B, C, N)``; a list of clips of any lengths is a batch too.
- **Samples** are float32, float64 (converted to float32) or int16 (scaled by 1/32768, the
  convention of 16-bit PCM); other dtypes are refused. NumPy arrays are accepted like tensors.
- **Too short.** A clip with fewer samples than one analysis window of the front-end (a
  zero-length clip included) has no valid step: alone it gives an output with zero steps; in a
  batch its row is all padding (mask all False), and a batch always has at least one step, so
  every model takes it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio.functional as AF
from torch import Tensor

from emofuse.layers.masks import lengths_to_mask

INT16_SCALE = 32768.0  # 16-bit PCM full scale


@dataclass(frozen=True)
class Waveform:
    """Audio samples and their sample rate, as :func:`load_audio` returns them.

    Args:
        samples: (C, N) channels-first float32 samples in [-1, 1] (float64 and int16 are
            converted, a 1-D tensor is one channel).
        sample_rate: in Hz.

    Raises:
        ValueError: samples not (C, N) / of an accepted dtype, or a rate that is not a positive
            integer.
    """

    samples: Tensor
    sample_rate: int

    def __post_init__(self) -> None:
        samples = as_float_samples(self.samples, "samples")
        if samples.dim() == 1:
            samples = samples[None]
        if samples.dim() != 2:
            raise ValueError(
                f"samples: expected (C, N) channels-first samples, got {tuple(samples.shape)}"
            )
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "sample_rate", check_sample_rate(self.sample_rate))

    @property
    def num_channels(self) -> int:
        return self.samples.shape[0]

    @property
    def num_samples(self) -> int:
        return self.samples.shape[1]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate

    def mono(self) -> Tensor:
        """(N,) the channels averaged."""
        return self.samples.mean(0)

    def resample(self, sample_rate: int) -> Waveform:
        """The same audio at ``sample_rate`` Hz (windowed-sinc, ``torchaudio.functional``)."""
        sample_rate = check_sample_rate(sample_rate)
        return Waveform(resample(self.samples, self.sample_rate, sample_rate), sample_rate)

    def to(self, device: torch.device | str) -> Waveform:
        return Waveform(self.samples.to(device), self.sample_rate)


AudioInput = Waveform | Tensor | np.ndarray


def check_sample_rate(sample_rate: Any, name: str = "sample_rate") -> int:
    """``sample_rate`` as a positive int (Hz); an integral float is accepted.

    Raises:
        ValueError: anything else.
    """
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, (int, float, np.integer, np.floating))
        or sample_rate <= 0
        or int(sample_rate) != sample_rate
    ):
        raise ValueError(f"{name}: expected a positive whole number of Hz, got {sample_rate!r}")
    return int(sample_rate)


def as_float_samples(samples: Tensor | np.ndarray, name: str = "waveform") -> Tensor:
    """Samples as a float32 tensor: float32 as is, float64 converted, int16 scaled by 1/32768.

    Raises:
        ValueError: another type or dtype (int32, uint8, float16, bool, complex, ...).
    """
    if isinstance(samples, np.ndarray):
        if samples.dtype not in (np.float32, np.float64, np.int16):
            raise ValueError(
                f"{name}: expected float32, float64 or int16 samples, got a {samples.dtype} array"
            )
        samples = torch.from_numpy(np.ascontiguousarray(samples))
    if not isinstance(samples, Tensor):
        raise ValueError(
            f"{name}: expected a Waveform, a tensor or a NumPy array of samples, "
            f"got {type(samples).__name__}"
        )
    if samples.dtype == torch.int16:
        return samples.float() / INT16_SCALE
    if samples.dtype in (torch.float32, torch.float64):
        return samples.float()
    raise ValueError(
        f"{name}: expected float32, float64 or int16 samples, got {samples.dtype} (scale "
        f"other integer PCM to [-1, 1] floats first)"
    )


def _check_channels_first(shape: Sequence[int], name: str) -> None:
    channels, samples = shape[-2], shape[-1]
    if channels > samples:
        layout = "(N, C)" if len(shape) == 2 else "(B, N, C)"
        fix = "waveform.T" if len(shape) == 2 else "waveform.transpose(1, 2)"
        raise ValueError(
            f"{name}: expected channels first, {'(C, N)' if len(shape) == 2 else '(B, C, N)'}; "
            f"got {tuple(shape)}, more channels than samples, which reads as channels-last "
            f"{layout} (as soundfile.read returns it): pass {fix}"
        )


def _rate_of(waveform: AudioInput, sample_rate: int | None, name: str) -> int:
    if isinstance(waveform, Waveform):
        if sample_rate is not None and check_sample_rate(sample_rate) != waveform.sample_rate:
            raise ValueError(
                f"sample_rate: {sample_rate} Hz given for a Waveform recorded at "
                f"{waveform.sample_rate} Hz; leave sample_rate out (it travels with the Waveform)"
            )
        return waveform.sample_rate
    if sample_rate is None:
        raise ValueError(
            f"sample_rate: required with a {type(waveform).__name__} {name}; pass the rate "
            f"in Hz the samples were recorded at, or a Waveform (load_audio returns one)"
        )
    return check_sample_rate(sample_rate)


def resample(samples: Tensor, orig_rate: int, new_rate: int) -> Tensor:
    """Resample along the last axis (``torchaudio.functional.resample``, a windowed-sinc
    filter); the output has ``ceil(N · new_rate / orig_rate)`` samples."""
    if orig_rate == new_rate or samples.shape[-1] == 0:
        return samples
    return AF.resample(samples, orig_rate, new_rate)


def resampled_length(num_samples: Tensor | int, orig_rate: int, new_rate: int) -> Tensor:
    """Samples after resampling ``num_samples``: ``ceil(N · new_rate / orig_rate)``."""
    num_samples = torch.as_tensor(num_samples)
    return -((-num_samples * new_rate) // orig_rate)  # exact integer ceil


def mono_clip(
    waveform: AudioInput,
    sample_rate: int | None,
    target_rate: int,
    *,
    name: str = "waveform",
) -> Tensor:
    """One clip as mono float32 samples at ``target_rate``.

    Inputs:
        waveform: a :class:`Waveform`, or (N,) / (C, N) channels-first samples with
        ``sample_rate`` in Hz.
    Returns:
        (N',) float32 on the input's device.

    Raises:
        ValueError: no sample rate, channels-last or batched layout, unaccepted dtype.
    """
    rate = _rate_of(waveform, sample_rate, name)
    samples = waveform.samples if isinstance(waveform, Waveform) else as_float_samples(waveform)
    if samples.dim() == 2:
        _check_channels_first(samples.shape, name)
        samples = samples.mean(0)
    if samples.dim() != 1:
        raise ValueError(
            f"{name}: expected one clip, (N,) or (C, N) channels-first samples, got "
            f"{tuple(samples.shape)} (use .batch(...) for a batch)"
        )
    return resample(samples, rate, target_rate)


def batch_clips(
    waveforms: AudioInput | Sequence[AudioInput],
    sample_rate: int | None,
    target_rate: int,
    lengths: Tensor | Sequence[int] | None = None,
    *,
    name: str = "waveform",
) -> tuple[Tensor, Tensor]:
    """A batch of clips as padded mono float32 samples at ``target_rate``.

    Inputs:
        waveforms: a list of clips (each as in :func:`mono_clip`, of any lengths); one clip
        (N,), (C, N) or a :class:`Waveform` (a batch of one); a padded (B, N) mono batch with
        ``lengths``; or a padded (B, C, N) batch (``lengths`` optional).
        lengths: (B,) valid samples per clip of a padded batch, each at most N.
    Returns:
        (samples (B, N') zeros after each clip's end, lengths (B,) long at ``target_rate``), on
        the input's device.

    Raises:
        ValueError: as :func:`mono_clip`; ``lengths`` of the wrong shape, negative or longer
            than the waveform, or given for a list or a single clip.
    """
    if isinstance(waveforms, (list, tuple)):
        if lengths is not None:
            raise ValueError("lengths: only for a padded tensor batch, not a list of clips")
        clips = [
            mono_clip(w, sample_rate, target_rate, name=f"{name}[{i}]")
            for i, w in enumerate(waveforms)
        ]
        counts = torch.tensor([len(c) for c in clips])
        if clips:
            counts = counts.to(clips[0].device)
        padded = (
            torch.nn.utils.rnn.pad_sequence(clips, batch_first=True) if clips else torch.zeros(0, 0)
        )
        return padded, counts
    if not isinstance(waveforms, (Waveform, Tensor, np.ndarray)):
        raise ValueError(
            f"{name}: expected a list of clips, a Waveform, a tensor or an array, got "
            f"{type(waveforms).__name__}"
        )
    rate = _rate_of(waveforms, sample_rate, name)
    samples = waveforms.samples if isinstance(waveforms, Waveform) else as_float_samples(waveforms)
    if samples.dim() == 1 or (
        samples.dim() == 2 and (lengths is None or isinstance(waveforms, Waveform))
    ):
        if lengths is not None:
            raise ValueError(
                f"lengths: given for a single clip {tuple(samples.shape)}; a padded batch is "
                f"(B, N) or (B, C, N)"
            )
        clip = mono_clip(samples, rate, target_rate, name=name)[None]
        return clip, torch.tensor([clip.shape[1]], device=clip.device)
    if samples.dim() == 3:
        _check_channels_first(samples.shape, name)
        samples = samples.mean(1)
    if samples.dim() != 2:
        raise ValueError(
            f"{name}: expected (N,), (C, N), a (B, N) batch with lengths or (B, C, N), got "
            f"{tuple(samples.shape)}"
        )
    b, n = samples.shape
    if lengths is None:
        lengths = torch.full((b,), n, device=samples.device)
    lengths = torch.as_tensor(lengths, device=samples.device)
    if lengths.shape != (b,) or lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise ValueError(
            f"lengths: expected ({b},) integer valid-sample counts, one per clip, got "
            f"{tuple(lengths.shape)} {lengths.dtype}"
        )
    if samples.device.type != "meta" and b and (int(lengths.min()) < 0 or int(lengths.max()) > n):
        raise ValueError(
            f"lengths: expected valid-sample counts in [0, {n}] (the waveform's length), got "
            f"{lengths.tolist()}"
        )
    # select, never multiply: NaN or inf in the padding stays out of every clip
    samples = torch.where(lengths_to_mask(lengths, n), samples, 0.0)
    if rate != target_rate:
        samples = resample(samples, rate, target_rate)
        lengths = resampled_length(lengths, rate, target_rate)
        # the filter rings past each clip's end: cut there, as a clip resampled alone ends
        samples = torch.where(lengths_to_mask(lengths, samples.shape[1]), samples, 0.0)
    return samples, lengths.long()


def _wav_declared_frames(path: Path) -> int | None:
    """Sample frames a RIFF/WAVE header declares, or None if it declares none (streamed)."""
    with open(path, "rb") as file:
        if file.read(4) != b"RIFF" or file.read(4) == b"" or file.read(4) != b"WAVE":
            return None
        block_align = None
        while len(chunk := file.read(8)) == 8:
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                fmt = file.read(size + size % 2)
                block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else None
            elif chunk_id == b"data":
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            else:
                file.seek(size + size % 2, os.SEEK_CUR)
    return None


def load_audio(
    path: str | os.PathLike[str], *, sample_rate: int | None = None, stream: int = 0
) -> Waveform:
    """Decode an audio file (WAV, FLAC, MP3, the audio of an MP4 or any format FFmpeg reads)
    with PyAV.

    Args:
        path: the file.
        sample_rate: resample to this rate in Hz (``torchaudio.functional.resample``); default
            the file's own rate.
        stream: which audio stream of the file (0 = the first).

    Returns:
        a :class:`Waveform`: (C, N) float32 channels-first samples in [-1, 1], every channel
        of the file, and the rate.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file has no such audio stream, cannot be decoded, or is truncated
            (a WAV whose data ends before the length its header declares; a FLAC cut short).
    """
    import av  # PyAV bundles FFmpeg; imported here so that `import emofuse` stays light

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no audio file at {path}")
    try:
        with av.open(str(path)) as container:
            if len(container.streams.audio) <= stream:
                raise ValueError(
                    f"path: {path} has {len(container.streams.audio)} audio stream(s); "
                    f"stream {stream} asked for"
                )
            audio = container.streams.audio[stream]
            rate = audio.rate
            # planar float at the file's own rate and layout: one (C, n) array per frame
            to_float = av.AudioResampler(format="fltp")
            chunks = [
                out.to_ndarray()
                for frame in container.decode(audio)
                for out in to_float.resample(frame)
            ]
            chunks += [out.to_ndarray() for out in to_float.resample(None)]
            channels = audio.codec_context.channels
            is_wav = container.format.name == "wav"
    except av.error.FFmpegError as error:
        raise ValueError(f"path: could not decode audio from {path}: {error}") from error
    if not rate:
        raise ValueError(f"path: {path} declares no sample rate")
    samples = (
        np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), dtype=np.float32)
    )
    if is_wav:
        declared = _wav_declared_frames(path)
        if declared is not None and samples.shape[1] < declared:
            raise ValueError(
                f"path: {path} is truncated: its header declares {declared} samples per "
                f"channel, the file holds {samples.shape[1]}"
            )
    waveform = Waveform(torch.from_numpy(samples), rate)
    return waveform if sample_rate is None else waveform.resample(sample_rate)


__all__ = [
    "AudioInput",
    "Waveform",
    "as_float_samples",
    "batch_clips",
    "check_sample_rate",
    "load_audio",
    "mono_clip",
    "resample",
    "resampled_length",
]
