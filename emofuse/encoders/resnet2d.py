"""2D ResNet encoders from torchvision's blocks: face frames (Xia et al. 2022, with semantic
enhancement slots) and one-channel spectrogram images (Mocanu et al. 2023). With the default
widths the state dict is torchvision's ``resnet18``/``resnet34`` without ``fc``, so ImageNet or
AffectNet weights load unchanged."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, conv1x1

from emofuse.blocks.semantic_enhancement import SemanticEnhancement, apply_sem
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
        sem_after: conv groups (1–5) followed by a :class:`SemanticEnhancement` (Xia et al.
            2022: ``(3, 5)``).
        text_dim: d_t, the text vector's width (needed when ``sem_after`` is not empty).

    Attributes:
        gradient_checkpointing: recompute each conv group's activations in the backward pass
            instead of keeping them (training only; see
            :func:`emofuse.encoders.set_gradient_checkpointing`).

    Inputs:
        images: (N, in_channels, H, W); text: (N, d_t) or None.
    Returns:
        (N, widths[3]) pooled features; with ``return_attention=True`` also the SEM maps, one
        (N, H_i, W_i) per slot in ``sem_after`` order.
    """

    def __init__(
        self,
        depth: int = 18,
        *,
        in_channels: int = 3,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        sem_after: Sequence[int] = (),
        text_dim: int | None = None,
    ) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"depth: expected one of {sorted(DEPTHS)}, got {depth}")
        if len(widths) != 4:
            raise ValueError(f"widths: expected 4 stage widths, got {tuple(widths)}")
        if sem_after and text_dim is None:
            raise ValueError("text_dim: required when sem_after is not empty")
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
        group_channels = [widths[0], *widths]
        self.sem_after = tuple(sem_after)
        self.sem = nn.ModuleDict(
            {str(g): SemanticEnhancement(group_channels[g - 1], text_dim) for g in self.sem_after}  # type: ignore[arg-type]
        )
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

    def forward(
        self, images: Tensor, text: Tensor | None = None, *, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, ...]:
        maps: list[Tensor] | None = [] if return_attention else None
        x, checkpointed = images, self.gradient_checkpointing and self.training
        for group, layers in enumerate(self.conv_groups(), start=1):
            x = checkpoint_module(layers, x, enabled=checkpointed)
            x = apply_sem(self.sem, group, x, text, maps)
        x = torch.flatten(self.avgpool(x), 1)
        return (x, *maps) if maps is not None else x


__all__ = ["ResNetEncoder"]
