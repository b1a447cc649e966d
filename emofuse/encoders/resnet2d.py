"""ResNet-18 frame encoder from torchvision's blocks, with optional semantic enhancement slots
(Xia et al. 2022). At ``width=64`` its state dict is torchvision's ``resnet18`` without ``fc``,
so ImageNet or AffectNet ResNet-18 weights load unchanged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, conv1x1

from emofuse.blocks.semantic_enhancement import SemanticEnhancement, apply_sem
from emofuse.hub import PathLike, load_remapped, load_state_dict_file


class ResNetEncoder(nn.Module):
    """A 2D ResNet with BasicBlocks (He et al. 2016), global average pooled, no classifier.

    Conv groups follow the paper's naming: 1 = conv1 (7×7 conv, BN, ReLU), 2 = conv2_x (max-pool
    and ``layer1``), 3 = conv3_x (``layer2``), 4 = conv4_x (``layer3``), 5 = conv5_x (``layer4``).

    Args:
        layers: BasicBlocks per stage (ResNet-18: 2, 2, 2, 2).
        width: channels of the first stage (torchvision: 64; stages use 1, 2, 4, 8 × width).
        sem_after: conv groups (1–5) followed by a :class:`SemanticEnhancement` (Xia et al.
            2022: ``(3, 5)``).
        text_dim: d_t, the text vector's width (needed when ``sem_after`` is not empty).

    Inputs:
        frames: (N, 3, H, W); text: (N, d_t) or None.
    Returns:
        (N, 8 · width) pooled features; with ``return_attention=True`` also the SEM maps, one
        (N, H_i, W_i) per slot in ``sem_after`` order.
    """

    def __init__(
        self,
        layers: Sequence[int] = (2, 2, 2, 2),
        width: int = 64,
        *,
        sem_after: Sequence[int] = (),
        text_dim: int | None = None,
    ) -> None:
        super().__init__()
        if sem_after and text_dim is None:
            raise ValueError("text_dim: required when sem_after is not empty")
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        widths = [width * 2**i for i in range(4)]
        inplanes = width
        stages = []
        for i, (planes, blocks) in enumerate(zip(widths, layers, strict=True)):
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
        group_channels = [width, *widths]
        self.sem_after = tuple(sem_after)
        self.sem = nn.ModuleDict(
            {str(g): SemanticEnhancement(group_channels[g - 1], text_dim) for g in self.sem_after}  # type: ignore[arg-type]
        )
        self.out_dim = widths[-1]

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
        self, frames: Tensor, text: Tensor | None = None, *, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, ...]:
        maps: list[Tensor] | None = [] if return_attention else None
        x = frames
        for group, layers in enumerate(self.conv_groups(), start=1):
            x = apply_sem(self.sem, group, layers(x), text, maps)
        x = torch.flatten(self.avgpool(x), 1)
        return (x, *maps) if maps is not None else x

    def load_torchvision(self, state: Mapping[str, Tensor] | PathLike) -> None:
        """Load a torchvision ResNet state dict (ImageNet, or e.g. an AffectNet ResNet-18), a
        mapping or a file; its classifier ``fc.*`` is dropped (any class count)."""
        if not isinstance(state, Mapping):
            state = load_state_dict_file(state)
        backbone = nn.ModuleDict(
            {
                n: m
                for n, m in self.named_children()
                if n not in ("sem", "relu", "maxpool", "avgpool")
            }
        )
        load_remapped(
            backbone,
            state,
            lambda key: None if key.startswith("fc.") else key,
            source="ResNet state dict",
        )


__all__ = ["ResNetEncoder"]
