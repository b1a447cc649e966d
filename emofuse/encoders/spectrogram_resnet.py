"""A 2D ResNet (He et al. 2016) on torchvision's ``ResNet`` for one-channel spectrogram images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, ResNet

DEPTHS: dict[int, tuple[int, int, int, int]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
DEFAULT_WIDTHS = (64, 128, 256, 512)


class SpectrogramResNet(ResNet):
    """torchvision's ResNet-18/34 with ``in_channels`` input planes, returning its conv5 map.

    Global pooling and the classifier are removed (Mocanu et al. 2023, sec. 3.2). ``widths``
    narrows the stages for small variants; the default is torchvision's exact layout, so its
    ImageNet weights load (the first convolution averaged over RGB for one channel).

    Args:
        depth: 18 or 34.
        in_channels: input planes (1 for a spectrogram).
        widths: widths of the four stages (torchvision: 64, 128, 256, 512).

    Inputs:
        x: (B, in_channels, F, T) spectrogram images.
    Returns:
        (B, widths[3], F/32, T/32) conv5 features (7 × 7 for 224 × 224).
    """

    def __init__(
        self, depth: int = 18, *, in_channels: int = 1, widths: Sequence[int] = DEFAULT_WIDTHS
    ) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"depth: expected one of {sorted(DEPTHS)}, got {depth}")
        if len(widths) != 4:
            raise ValueError(f"widths: expected 4 stage widths, got {tuple(widths)}")
        # ResNet.__init__ hard-codes widths 64..512; build with its _make_layer instead,
        # setting the attributes that method reads, and initialise as it does.
        nn.Module.__init__(self)
        self.depth, self.in_channels, self.widths = depth, in_channels, tuple(widths)
        self._norm_layer, self.groups, self.base_width, self.dilation = nn.BatchNorm2d, 1, 64, 1
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (width, blocks) in enumerate(zip(widths, DEPTHS[depth], strict=True)):
            stage = self._make_layer(BasicBlock, width, blocks, stride=1 if i == 0 else 2)
            setattr(self, f"layer{i + 1}", stage)
        self.out_channels = widths[3]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def load_imagenet_state(self, state: Mapping[str, Tensor]) -> None:
        """Load a torchvision ImageNet state dict: ``fc`` dropped, ``conv1`` averaged over its
        three RGB planes and repeated to ``in_channels``."""
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        rgb = state["conv1.weight"]
        state["conv1.weight"] = rgb.mean(1, keepdim=True).expand(-1, self.in_channels, -1, -1)
        self.load_state_dict(state)

    def load_torchvision_imagenet(self) -> None:
        """torchvision's ImageNet weights for this depth (default widths only)."""
        from torchvision.models import ResNet18_Weights, ResNet34_Weights

        if self.widths != DEFAULT_WIDTHS:
            raise ValueError(
                f"audio_backbone: ImageNet weights need widths {DEFAULT_WIDTHS}, got {self.widths}"
            )
        weights = {18: ResNet18_Weights, 34: ResNet34_Weights}[self.depth].IMAGENET1K_V1
        try:
            state = weights.get_state_dict(progress=False)
        except Exception as error:  # network or cache failure: one clear message
            raise OSError(
                f"audio_backbone: could not fetch torchvision's resnet{self.depth} ImageNet "
                f"weights ({error}); use pretrained=False offline."
            ) from error
        self.load_imagenet_state(state)


__all__ = ["SpectrogramResNet"]
