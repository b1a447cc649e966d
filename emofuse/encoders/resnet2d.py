"""2D ResNet encoders from torchvision's blocks: face frames (Xia et al. 2022, who put semantic
enhancement modules between its stages with :class:`emofuse.blocks.SemanticEnhancedBackbone`)
and one-channel spectrogram images (Mocanu et al. 2023). With the default
widths the state dict is torchvision's ``resnet18``/``resnet34`` without ``fc``, so ImageNet or
AffectNet weights load unchanged."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from emofuse.layers import checkpoint_module

DEPTHS: dict[int, tuple[int, int, int, int]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
DEFAULT_WIDTHS = (64, 128, 256, 512)


class ResNetEncoder(nn.Module):
    """A 2D ResNet with BasicBlocks (He et al. 2016), global average pooled, no classifier.

    Conv groups follow Xia et al.'s naming: 1 = conv1 (7×7 conv, BN, ReLU), 2 = conv2_x
    (max-pool and ``layer1``), 3 = conv3_x (``layer2``), 4 = conv4_x (``layer3``), 5 = conv5_x
    (``layer4``).

    Args:
        depth: 18 or 34.
        in_channels: input planes (3 for faces, 1 for spectrograms).
        widths: the four stages' channels (torchvision: 64, 128, 256, 512); narrower for tiny
            variants.

    Attributes:
        gradient_checkpointing: recompute each conv group's activations in the backward pass
            instead of keeping them (training only; see
            :func:`emofuse.encoders.set_gradient_checkpointing`).

    Stages (for :class:`emofuse.blocks.SemanticEnhancedBackbone`): ``conv_groups()``,
    ``group_channels`` (widths[0], widths[0], widths[1], widths[2], widths[3]) and
    ``forward_head`` (global average pooling).

    Inputs:
        images: (N, in_channels, H, W).
    Returns:
        (N, widths[3]) pooled features.

    Raises:
        ValueError: an unbuilt ``depth`` or not 4 ``widths``.
    """

    def __init__(
        self,
        depth: int = 18,
        *,
        in_channels: int = 3,
        widths: Sequence[int] = DEFAULT_WIDTHS,
    ) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"depth: expected one of {sorted(DEPTHS)}, got {depth}")
        if len(widths) != 4:
            raise ValueError(f"widths: expected 4 stage widths, got {tuple(widths)}")
        from torchvision.models.resnet import BasicBlock, conv1x1  # heavy: import on use

        self.depth, self.in_channels, self.widths = depth, in_channels, tuple(widths)
        self.conv1 = nn.Conv2d(
            in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False
        )
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = widths[0]
        stages = []
        for i, (planes, blocks) in enumerate(zip(widths, DEPTHS[depth], strict=True)):
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or inplanes != planes:
                downsample = nn.Sequential(
                    conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes)
                )
            stage = [BasicBlock(inplanes, planes, stride, downsample)]
            stage += [BasicBlock(planes, planes) for _ in range(1, blocks)]
            stages.append(nn.Sequential(*stage))
            inplanes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self._init_like_torchvision()
        self.group_channels = (widths[0], *widths)
        self.out_dim = widths[-1]
        self.gradient_checkpointing = False

    def _init_like_torchvision(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def conv_groups(self) -> list[nn.Module]:
        """conv1 … conv5_x as modules, for freezing and optimizer groups."""
        stem = nn.Sequential(self.conv1, self.bn1, self.relu)
        return [
            stem,
            nn.Sequential(self.maxpool, self.layer1),
            self.layer2,
            self.layer3,
            self.layer4,
        ]

    def forward_head(self, x: Tensor) -> Tensor:
        """The conv5_x map (N, widths[3], h, w) → pooled features (N, widths[3])."""
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, images: Tensor) -> Tensor:
        x, checkpointed = images, self.gradient_checkpointing and self.training
        for layers in self.conv_groups():
            x = checkpoint_module(layers, x, enabled=checkpointed)
        return self.forward_head(x)


__all__ = ["ResNetEncoder"]
