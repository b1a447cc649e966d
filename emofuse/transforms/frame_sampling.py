"""Choosing which video frames a model sees: one frame per second (Le et al. 2023), one face per
0.96 s audio window (Xia et al. 2022) and uniform snippets over the clip (Mocanu et al. 2023)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

VGGISH_WINDOW_S = 0.96  # one VGGish example: 96 frames of 10 ms


def frame_indices_per_second(
    num_frames: int,
    fps: float,
    *,
    frames_per_second: float = 1.0,
    device: torch.device | str | None = None,
) -> Tensor:
    """Indices of the frames at ``t = 0, 1/r, 2/r, ...`` seconds (``r = frames_per_second``),
    each the frame shown at that time, for a video of ``num_frames`` frames at ``fps``
    (Le et al. 2023, sec. 4.1: one face per second).

    At an integer ``fps`` and ``r = 1`` this is ``range(0, num_frames, fps)``, the sampling of
    Dai et al.'s release. A video shorter than one interval gives its first frame.

    Returns:
        (T,) long frame indices in ``[0, num_frames)`` on ``device``.

    Raises:
        ValueError: ``num_frames`` < 1, or a rate that is not positive.

    >>> frame_indices_per_second(95, 30).tolist()
    [0, 30, 60, 90]
    """
    if num_frames < 1:
        raise ValueError(f"num_frames: expected a positive count, got {num_frames}")
    if fps <= 0 or frames_per_second <= 0:
        raise ValueError(f"fps: expected positive rates, got fps={fps}, {frames_per_second=}")
    count = math.ceil(num_frames * frames_per_second / fps - 1e-9)
    times = torch.arange(count, dtype=torch.float64) / frames_per_second
    return (times * fps + 1e-9).floor().long().clamp(max=num_frames - 1).to(device)


def face_frame_indices(
    num_frames: int,
    fps: float,
    num_windows: int | None = None,
    *,
    training: bool = False,
    window_s: float = VGGISH_WINDOW_S,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """One face frame per 0.96 s window (Xia et al. 2022, sec. 4.3), so video steps align with
    the audio examples of :class:`~emofuse.transforms.VGGishFrontEnd`: a random frame of each
    window in training, the centre one otherwise.

    Args:
        num_frames: frames in the video; fps: its frame rate.
        num_windows: windows to sample (e.g. the clip's audio example count); default: the
            whole windows in the video (at least one). A window cut by the video's end samples
            within what remains; windows past the end repeat the last frame.
        training: random position within each window; else the centre.
        window_s: window length in seconds (0.96).
        generator: makes the training draw reproducible.
        device: where the indices go.

    Returns:
        (T,) long frame indices in ``[0, num_frames)``.

    Raises:
        ValueError: ``num_frames`` < 1 or a rate or window that is not positive.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames: expected a positive count, got {num_frames}")
    if fps <= 0 or window_s <= 0:
        raise ValueError(f"fps: expected a positive rate and window, got fps={fps}, {window_s=}")
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
    return (start + offset * length).floor().long().clamp(0, num_frames - 1).to(device)


def uniform_snippet_indices(
    num_frames: int,
    num_snippets: int,
    frames_per_snippet: int,
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """Frame indices of N non-overlapping snippets of k frames spread over the whole clip
    (Mocanu et al. 2023, sec. 3.1).

    The N·k keyframes sit at the centres of N·k equal slices of the clip, so consecutive
    keyframes are ``num_frames / (N·k)`` frames apart (frames repeat in a clip shorter than N·k).

    Returns:
        (N, k) long tensor, non-decreasing in reading order, on ``device``.

    Raises:
        ValueError: ``num_frames`` < 1.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames: expected a positive frame count, got {num_frames}")
    total = num_snippets * frames_per_snippet
    positions = ((torch.arange(total) + 0.5) * num_frames / total).long()
    return positions.clamp(max=num_frames - 1).view(num_snippets, frames_per_snippet).to(device)


__all__ = ["face_frame_indices", "frame_indices_per_second", "uniform_snippet_indices"]
