"""Face crops as the frame encoders take them: sampled frames, square-cropped, resized and
normalised per channel (the images of each paper's face pipeline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

# torchvision's ImageNet statistics (ResNet-18 of Xia et al.; timm's MobileNetV3 of Takashima
# et al. uses the same ``IMAGENET_DEFAULT_MEAN/STD``)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Dai et al. 2021's face normalisation (``transforms.Normalize(mean=[159, 111, 102],
# std=[37, 33, 32])`` on 0–255 pixels), which Le et al. 2023 reuse
DAI2021_FACE_MEAN = (159 / 255, 111 / 255, 102 / 255)
DAI2021_FACE_STD = (37 / 255, 33 / 255, 32 / 255)


def check_frames(frames: Any, name: str = "video") -> Tensor:
    """``frames`` as a uint8 (T, H, W, 3) RGB tensor (a NumPy array is accepted).

    Raises:
        ValueError: anything else (the message names ``name``, the layout and what came in).
    """
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(np.ascontiguousarray(frames))
    if not isinstance(frames, Tensor):
        raise ValueError(
            f"{name}: expected uint8 (T, H, W, 3) RGB face crops (a tensor or NumPy array), "
            f"got {type(frames).__name__}"
        )
    if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"{name}: expected uint8 (T, H, W, 3) RGB face crops, got {tuple(frames.shape)} "
            f"{frames.dtype}"
        )
    if frames.shape[0] < 1 or frames.shape[1] < 1 or frames.shape[2] < 1:
        raise ValueError(
            f"{name}: expected at least one frame of at least 1×1, got {tuple(frames.shape)}"
        )
    return frames


class FaceCrops:
    """Selected frames → (T', 3, size, size) float images: the centred square of each frame
    (a face crop is already about square), resized (bilinear, antialiased) and normalised
    ``(x / 255 − mean) / std`` per channel.

    Args:
        size: output side in pixels (the model's ``face_size``).
        mean: per-channel means in [0, 1] units (ImageNet's by default).
        std: per-channel standard deviations in [0, 1] units (ImageNet's by default).

    Inputs:
        frames: uint8 (T, H, W, 3) RGB; indices: (T',) long frame indices to keep.
    Returns:
        (T', 3, size, size) float32.
    """

    def __init__(
        self,
        size: int,
        *,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        if size < 1:
            raise ValueError(f"size: expected a positive side in pixels, got {size}")
        self.size = size
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def __call__(self, frames: Tensor, indices: Tensor) -> Tensor:
        images = rearrange(frames[indices], "t h w c -> t c h w").float() / 255
        height, width = images.shape[-2:]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        images = images[..., top : top + side, left : left + side]
        images = F.interpolate(
            images, size=(self.size, self.size), mode="bilinear", antialias=True,
            align_corners=False,
        )  # fmt: skip
        return (images - self.mean) / self.std


__all__ = [
    "DAI2021_FACE_MEAN",
    "DAI2021_FACE_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "FaceCrops",
    "check_frames",
]
