"""Length ↔ mask conversions shared by the front-ends, models and tests.

Masks are boolean, True = valid step, with the batch on the first axis: (B, T).
"""

from __future__ import annotations

import torch
from torch import Tensor


def lengths_to_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Mask of the first ``lengths[b]`` steps of each row.

    Args:
        lengths: (B,) integer valid-step counts, each in ``[0, max_len]``.
        max_len: T, the padded length; default ``lengths.max()`` (0 for an empty batch).

    Returns:
        (B, T) bool on ``lengths.device``, True = valid.

    Raises:
        ValueError: ``lengths`` is not a 1-D integer tensor, a count is negative or longer
            than ``max_len``, or ``max_len`` is missing for lengths on the meta device.

    >>> lengths_to_mask(torch.tensor([3, 1, 0]), 4).int().tolist()
    [[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    """
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.is_floating_point() or lengths.is_complex():
        raise ValueError(
            f"lengths: expected (B,) integer valid-step counts, got {tuple(lengths.shape)} "
            f"{lengths.dtype}"
        )
    if max_len is None:
        if lengths.device.type == "meta":
            raise ValueError("max_len: required for lengths on the meta device (no values)")
        # data-dependent: reads the lengths (pass max_len to avoid that)
        max_len = int(lengths.max()) if lengths.numel() else 0
    elif max_len < 0:
        raise ValueError(f"max_len: expected a non-negative step count, got {max_len}")
    if lengths.numel() and lengths.device.type != "meta":
        low, high = int(lengths.min()), int(lengths.max())
        if low < 0 or high > max_len:
            raise ValueError(
                f"lengths: expected counts in [0, {max_len}] (max_len), got {lengths.tolist()}"
            )
    return torch.arange(max_len, device=lengths.device) < lengths[:, None]


def mask_to_lengths(mask: Tensor) -> Tensor:
    """Valid steps per row of a left-aligned mask.

    Inputs:
        mask: (B, T) bool, True = valid.
    Returns:
        (B,) long counts on ``mask.device``.
    """
    return mask.sum(dim=1, dtype=torch.long)


def staircase_mask(batch_size: int, length: int, device: torch.device | None = None) -> Tensor:
    """A (B, T) example mask whose first row is full and each later row one step shorter
    (at least one valid step): every row length a model's example inputs exercise."""
    lengths = torch.clamp(length - torch.arange(batch_size, device=device), min=min(length, 1))
    return lengths_to_mask(lengths, length)


__all__ = ["lengths_to_mask", "mask_to_lengths", "staircase_mask"]
