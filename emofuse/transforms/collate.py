"""Batching variable-length step sequences with their masks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from emofuse.layers.masks import lengths_to_mask
from emofuse.transforms.audio import AudioInput, batch_clips


def collate_steps(sequences: Sequence[Tensor], *, min_steps: int = 1) -> tuple[Tensor, Tensor]:
    """Stack variable-length step sequences (frames, chunks, token ids) into one batch.

    Inputs:
        sequences: B tensors (T_b, ...) with the same trailing shape, on one device; a
        sequence may be empty (T_b = 0).
        min_steps: the batch has at least this many steps (1: a batch whose clips are all
        empty is still a well-formed model input, every row all padding).
    Returns:
        (batch (B, T, ...) zero-padded at the end, mask (B, T) bool, True = valid), both on the
        sequences' device, ``T = max(min_steps, max T_b)``.

    Raises:
        ValueError: no sequences.
    """
    if not sequences:
        raise ValueError("sequences: expected at least one sequence to collate, got none")
    lengths = torch.tensor([len(s) for s in sequences], device=sequences[0].device)
    batch = torch.nn.utils.rnn.pad_sequence(list(sequences), batch_first=True)
    if batch.shape[1] < min_steps:
        batch = F.pad(batch.movedim(1, -1), (0, min_steps - batch.shape[1])).movedim(-1, 1)
    return batch, lengths_to_mask(lengths, batch.shape[1])


def batch_per_clip(
    front: Callable[[Tensor, int], Tensor],
    waveforms: AudioInput | Sequence[AudioInput],
    sample_rate: int | None,
    target_rate: int,
    lengths: Tensor | Sequence[int] | None,
    *,
    min_steps: int = 1,
) -> tuple[Tensor, Tensor]:
    """Run a one-clip front-end over a batch (see :func:`~emofuse.transforms.audio.batch_clips`
    for the accepted layouts) and collate its step sequences.

    Returns:
        (steps (B, T, ...) zero-padded, mask (B, T) bool, True = valid), ``T >= min_steps``.
    """
    samples, counts = batch_clips(waveforms, sample_rate, target_rate, lengths)
    clips = [front(clip[:n], target_rate) for clip, n in zip(samples, counts.tolist(), strict=True)]
    return collate_steps(clips, min_steps=min_steps)


__all__ = ["batch_per_clip", "collate_steps"]
