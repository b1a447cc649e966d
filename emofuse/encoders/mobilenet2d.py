"""MobileNetV2 (Sandler et al. 2018) from torchvision's blocks, as a pooled 2D encoder of
one-channel spectrogram images: the ImageNet-initialised audio CNN that installs offline
(torchvision's ``mobilenet_v2-b0353104.pth``; see :mod:`emofuse.encoders.weights`)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from emofuse.layers import checkpoint_module

OutputStride = Literal[16, 32]
# torchvision's ``features`` blocks kept for each output stride: up to the last 96-channel
# block (stride 16) or the whole network with its final 1×1 convolution (stride 32)
MOBILENET_BLOCKS: dict[int, int] = {16: 14, 32: 19}


class MobileNetV2Encoder(nn.Module):
    """torchvision's MobileNetV2 ``features`` (width 1.0) up to ``output_stride``, global average
    pooled, no classifier. The state dict keys are torchvision's (``features.<i>...``), so its
    ImageNet weights load unchanged (the RGB stem summed to ``in_channels`` planes by the
    loader).

    Args:
        in_channels: input planes (1 for spectrograms).
        output_stride: 32: the whole network, 1280 features; 16: the blocks up to the last
            stride-16 stage, 96 features. Mid-level features transfer better from images to
            spectrograms when the backbone stays frozen (see docs/results/ravdess_audio.md).

    Attributes:
        out_dim: pooled features (1280 or 96).
        gradient_checkpointing: recompute each block's activations in the backward pass
            (training only; see :func:`emofuse.encoders.set_gradient_checkpointing`).

    Inputs:
        images: (N, in_channels, H, W).
    Returns:
        (N, out_dim) pooled features.

    Raises:
        ValueError: ``in_channels < 1`` or an ``output_stride`` other than 16 and 32.
    """

    def __init__(self, *, in_channels: int = 3, output_stride: OutputStride = 32) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels: expected a positive int, got {in_channels}")
        if output_stride not in MOBILENET_BLOCKS:
            raise ValueError(f"output_stride: expected 16 or 32, got {output_stride!r}")
        from torchvision.models import mobilenet_v2  # heavy: import on use

        features = mobilenet_v2().features[: MOBILENET_BLOCKS[output_stride]]
        stem = features[0][0]
        features[0][0] = nn.Conv2d(
            in_channels, stem.out_channels, kernel_size=3, stride=2, padding=1, bias=False
        )
        nn.init.kaiming_normal_(features[0][0].weight, mode="fan_out")  # torchvision's init
        self.features = features
        self.in_channels, self.output_stride = in_channels, output_stride
        self.out_dim = 96 if output_stride == 16 else 1280
        self.gradient_checkpointing = False

    def conv_groups(self) -> list[nn.Module]:
        """torchvision's ``features`` blocks in order (14 at stride 16, 19 at stride 32), for
        freezing the first ones (``AVAttentionFusionConfig.audio_frozen_groups``)."""
        return list(self.features)

    def forward_head(self, x: Tensor) -> Tensor:
        """The last block's map (N, out_dim, h, w) → pooled features (N, out_dim)."""
        return torch.flatten(x.mean((2, 3)), 1)

    def forward(self, images: Tensor) -> Tensor:
        x, checkpointed = images, self.gradient_checkpointing and self.training
        for block in self.features:
            x = checkpoint_module(block, x, enabled=checkpointed)
        return self.forward_head(x)


__all__ = ["MOBILENET_BLOCKS", "MobileNetV2Encoder", "OutputStride"]
