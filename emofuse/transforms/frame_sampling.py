"""Sampling video frames at a fixed rate (Le et al. 2023 take one face per second)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def frame_indices_per_second(
    num_frames: int, fps: float, *, frames_per_second: float = 1.0
) -> Tensor:
    """Indices of the frames at ``t = 0, 1/r, 2/r, ...`` seconds (``r = frames_per_second``),
    each the frame shown at that time, for a video of ``num_frames`` frames at ``fps``.

    At an integer ``fps`` and ``r = 1`` this is ``range(0, num_frames, fps)``, the sampling of
    Dai et al.'s release. A video shorter than one interval gives its first frame.

    >>> frame_indices_per_second(95, 30).tolist()
    [0, 30, 60, 90]
    """
    if num_frames < 1:
        raise ValueError(f"num_frames: expected a positive count, got {num_frames}")
    if fps <= 0 or frames_per_second <= 0:
        raise ValueError(f"fps: expected positive rates, got fps={fps}, {frames_per_second=}")
    count = math.ceil(num_frames * frames_per_second / fps - 1e-9)
    times = torch.arange(count, dtype=torch.float64) / frames_per_second
    return (times * fps + 1e-9).floor().long().clamp(max=num_frames - 1)


__all__ = ["frame_indices_per_second"]
