"""3D ResNets (Hara et al. 2018) of torchvision's video blocks, loading Hara's checkpoints.

The builder follows Hara, Kataoka and Satoh, "Can Spatiotemporal 3D CNNs Retrace the History of
2D CNNs and ImageNet?" (CVPR 2018): a 7×7×7 stem convolution with stride (1, 2, 2), batch norm,
ReLU and a 3×3×3 max-pool with stride 2, then four stages of 3D ``BasicBlock`` (depth 18, 34)
or ``Bottleneck`` (depth 50, 101, 152) with full 3×3×3 convolutions. Their Kinetics checkpoints
(github.com/kenshohara/3D-ResNets-PyTorch, shortcut type B) load through a key remap.
``stem="r3d"`` gives torchvision's ``r3d_18`` stem (3×7×7, no max-pool) so that torchvision's
Kinetics-400 weights load for depth 18.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from torch import Tensor, nn

from emofuse.layers import checkpoint_module

if TYPE_CHECKING:
    from torchvision.models.video.resnet import BasicBlock, Bottleneck

# Blocks per stage (Hara et al. 2018, table 1); depth 50 and up use Bottleneck blocks.
DEPTHS: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
DEFAULT_WIDTHS = (64, 128, 256, 512)
Stem = Literal["hara", "r3d"]


def _stem(kind: Stem, width: int) -> nn.Sequential:
    if kind == "hara":
        return nn.Sequential(
            nn.Conv3d(3, width, kernel_size=7, stride=(1, 2, 2), padding=3, bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=3, stride=2, padding=1),
        )
    return nn.Sequential(  # torchvision's BasicStem, any width
        nn.Conv3d(3, width, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
    )


def _stage(
    block: type[BasicBlock | Bottleneck], inplanes: int, planes: int, blocks: int, stride: int
) -> nn.Sequential:
    """One stage as torchvision's ``VideoResNet`` builds it, with full 3×3×3 convolutions."""
    from torchvision.models.video.resnet import Conv3DSimple

    out = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out:
        downsample = nn.Sequential(
            nn.Conv3d(inplanes, out, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm3d(out),
        )
    first = block(inplanes, planes, Conv3DSimple, stride, downsample)
    return nn.Sequential(first, *(block(out, planes, Conv3DSimple) for _ in range(1, blocks)))


class ResNet3D(nn.Module):
    """A 3D ResNet returning its conv5 feature map (no pooling, no classifier).

    Args:
        depth: 18, 34 (``BasicBlock``), 50, 101 or 152 (``Bottleneck``).
        widths: base widths of the four stages (Hara and torchvision: 64, 128, 256, 512; the
            output has ``widths[3] · expansion`` channels, 2048 for depth 101).
        stem: ``"hara"`` (7×7×7 conv + max-pool) or ``"r3d"`` (torchvision's 3×7×7, no pool).

    Attributes:
        gradient_checkpointing: recompute the stem's and each stage's activations in the
            backward pass instead of keeping them (training only; see
            :func:`emofuse.encoders.set_gradient_checkpointing`).

    Inputs:
        x: (B, 3, k, H, W) clips.
    Returns:
        (B, C, k', h, w) conv5 features; for depth 101, 16 × 224² frames give (B, 2048, 1, 7, 7).

    Raises:
        ValueError: an unbuilt ``depth``, not 4 ``widths`` or an unknown ``stem``.
    """

    # set by name in __init__ (torchvision's module names, so its and Hara's weights load)
    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(
        self, depth: int = 101, *, widths: Sequence[int] = DEFAULT_WIDTHS, stem: Stem = "hara"
    ) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"depth: expected one of {sorted(DEPTHS)}, got {depth}")
        if len(widths) != 4:
            raise ValueError(f"widths: expected 4 stage widths, got {tuple(widths)}")
        if stem not in ("hara", "r3d"):
            raise ValueError(f"stem: expected 'hara' or 'r3d', got {stem!r}")
        from torchvision.models.video.resnet import BasicBlock, Bottleneck  # heavy: on use

        block = BasicBlock if depth < 50 else Bottleneck
        # torchvision's VideoResNet hard-codes widths 64..512: build its stages at any width,
        # with its module names (so its and Hara's weights load), and initialise as it does.
        super().__init__()
        self.depth, self.widths, self.stem_kind = depth, tuple(widths), stem
        self.stem = _stem(stem, widths[0])
        inplanes = widths[0]
        for i, (width, blocks) in enumerate(zip(widths, DEPTHS[depth], strict=True)):
            stage = _stage(block, inplanes, width, blocks, stride=1 if i == 0 else 2)
            setattr(self, f"layer{i + 1}", stage)
            inplanes = width * block.expansion
        self.out_channels = widths[3] * block.expansion
        self.gradient_checkpointing = False
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        checkpointed = self.gradient_checkpointing and self.training
        for stage in (self.stem, self.layer1, self.layer2, self.layer3, self.layer4):
            x = checkpoint_module(stage, x, enabled=checkpointed)
        return x

    def output_size(self, frames: int, size: int) -> tuple[int, int, int]:
        """The conv5 (k', h, w) for ``frames`` × ``size``² clips."""
        halve = lambda n: (n - 1) // 2 + 1  # noqa: E731  (every stride-2 stage: k 3, pad 1)
        t, s = frames, halve(size)  # stem conv: stride 1 in time, 2 in space
        if self.stem_kind == "hara":
            t, s = halve(t), halve(s)  # 3×3×3 max-pool, stride 2
        for _ in range(3):
            t, s = halve(t), halve(s)
        return t, s, s


_HARA_STEM = {"conv1.": "stem.0.", "bn1.": "stem.1."}
# Inside a block Hara's convN/bnN sit apart; torchvision wraps them as convN.0 / convN.1.
_HARA_BLOCK = re.compile(r"^(layer\d\.\d+\.)(conv|bn)(\d)\.(.+)$")


def hara_to_torchvision(key: str) -> str | None:
    """Map a key of Hara et al.'s 3D ResNet to :class:`ResNet3D`'s (``None`` drops ``fc``).

    ``conv1.weight → stem.0.weight``, ``bn1.* → stem.1.*``,
    ``layer1.0.conv2.weight → layer1.0.conv2.0.weight``, ``layer1.0.bn2.* → layer1.0.conv2.1.*``;
    ``downsample.{0,1}.*`` keep their names.
    """
    key = key.removeprefix("module.")
    if key.startswith("fc."):
        return None
    for old, new in _HARA_STEM.items():
        if key.startswith(old):
            return new + key[len(old) :]
    match = _HARA_BLOCK.match(key)
    if match:
        prefix, kind, index, rest = match.groups()
        return f"{prefix}conv{index}.{0 if kind == 'conv' else 1}.{rest}"
    return key


__all__ = ["DEFAULT_WIDTHS", "DEPTHS", "ResNet3D", "hara_to_torchvision"]
