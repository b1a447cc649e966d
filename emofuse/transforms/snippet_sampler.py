"""Uniform snippet sampling of a face video with training augmentation (Mocanu et al. 2023,
secs. 3.1 and 4.2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from emofuse.transforms.frame_sampling import uniform_snippet_indices

# torchvision's Kinetics-400 normalisation (its r3d_18 weights)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


class SnippetSampler:
    """Face frames → N snippets of k frames, augmented in training.

    Training augmentation (sec. 4.2), one draw per clip so that a snippet stays coherent: a
    random square crop with side ``crop_scale`` × the shorter side, a horizontal flip with
    probability ``flip_p``, and a brightness factor in ``[1 − brightness, 1 + brightness]``.
    Evaluation takes the centre square. Frames are then resized to ``size`` and normalised.

    Args:
        num_snippets: N (paper: 6); frames_per_snippet: k (paper: 16); size: output side
            (paper: 224); train: augment; crop_scale: (min, max) crop side fraction;
        flip_p: flip probability; brightness: brightness jitter; mean, std: per-channel
            normalisation (torchvision's Kinetics values by default).

    Inputs:
        frames: (T, 3, H, W), uint8 in [0, 255] or float in [0, 1]; generator: makes the
        augmentation reproducible.
    Returns:
        (N, 3, k, size, size) float snippets, the model's ``video`` layout without the batch.

    Raises:
        ValueError: (call) frames not of shape (T, 3, H, W).
    """

    def __init__(
        self,
        num_snippets: int = 6,
        *,
        frames_per_snippet: int = 16,
        size: int = 224,
        train: bool = False,
        crop_scale: tuple[float, float] = (0.8, 1.0),
        flip_p: float = 0.5,
        brightness: float = 0.2,
        mean: Sequence[float] = KINETICS_MEAN,
        std: Sequence[float] = KINETICS_STD,
    ) -> None:
        self.num_snippets, self.frames_per_snippet, self.size = (
            num_snippets,
            frames_per_snippet,
            size,
        )
        self.train, self.crop_scale, self.flip_p, self.brightness = (
            train,
            crop_scale,
            flip_p,
            brightness,
        )
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)

    def __call__(self, frames: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise ValueError(f"frames: expected (T, 3, H, W), got {tuple(frames.shape)}")
        index = uniform_snippet_indices(
            len(frames), self.num_snippets, self.frames_per_snippet, device=frames.device
        )
        clip = frames[index.flatten()]
        clip = clip.float() / 255 if not clip.is_floating_point() else clip.float()
        height, width = clip.shape[-2:]
        shorter = min(height, width)
        if self.train:
            low, high = self.crop_scale
            u = torch.rand(5, generator=generator).tolist()
            side = max(1, round((low + (high - low) * u[0]) * shorter))
            top, left = round(u[1] * (height - side)), round(u[2] * (width - side))
        else:
            side, top, left = shorter, (height - shorter) // 2, (width - shorter) // 2
        clip = clip[..., top : top + side, left : left + side]
        if self.train:
            if u[3] < self.flip_p:
                clip = clip.flip(-1)
            factor = 1 + self.brightness * (2 * u[4] - 1)
            clip = (clip * factor).clamp(0, 1)
        clip = F.interpolate(
            clip, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False
        )
        clip = (clip - self.mean.to(clip.device)) / self.std.to(clip.device)
        return rearrange(clip, "(n k) c h w -> n c k h w", n=self.num_snippets)


__all__ = ["KINETICS_MEAN", "KINETICS_STD", "SnippetSampler"]
