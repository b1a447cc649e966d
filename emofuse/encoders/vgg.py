"""VGG convolution stacks as frame and spectrogram-chunk feature extractors (Simonyan and
Zisserman 2014), built with torchvision's own ``make_layers``."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from emofuse.layers import checkpoint_module

VGG19_CONVS: tuple[int, ...] = (2, 2, 4, 4, 4)  # convolutions per stage, configuration "E"
VGG_WIDTHS: tuple[int, ...] = (64, 128, 256, 512, 512)


def vgg_layout(widths: Sequence[int], convs_per_stage: Sequence[int]) -> list[int | str]:
    """torchvision's layout list: each stage's convolutions (their widths), then ``"M"`` (a 2×2
    max-pool). ``vgg_layout(VGG_WIDTHS, VGG19_CONVS)`` is torchvision's ``cfgs["E"]``."""
    layout: list[int | str] = []
    for width, convs in zip(widths, convs_per_stage, strict=True):
        layout += [width] * convs + ["M"]
    return layout


class VGGFeatures(nn.Module):
    """A VGG convolution stack, global average pooling, no classifier.

    With the defaults this is ``torchvision.models.vgg19().features`` (same module names, so its
    state dict loads); the paper trains it from scratch on 64×64 faces (2×2 maps after the five
    pools) and on 128×32 mel-spectrogram chunks (4×1 maps), pooled to one vector each.

    Args:
        in_channels: 3 for RGB faces, 1 for spectrogram chunks.
        widths: channels of each stage; convs_per_stage: convolutions in each stage (VGG19:
            2, 2, 4, 4, 4). Each stage halves the resolution, so inputs need sides of at least
            ``2 ** len(widths)``.
        batch_norm: BatchNorm after each convolution (``vgg19_bn``); off for VGG19.

    Attributes:
        gradient_checkpointing: recompute each stage's activations in the backward pass
            instead of keeping them (training only; see
            :func:`emofuse.encoders.set_gradient_checkpointing`).

    Inputs:
        x: (N, in_channels, H, W).
    Returns:
        (N, widths[-1]).
    """

    def __init__(
        self,
        in_channels: int = 3,
        *,
        widths: Sequence[int] = VGG_WIDTHS,
        convs_per_stage: Sequence[int] = VGG19_CONVS,
        batch_norm: bool = False,
    ) -> None:
        from torchvision.models.vgg import make_layers  # heavy: import on use

        super().__init__()
        self.features = make_layers(vgg_layout(widths, convs_per_stage), batch_norm=batch_norm)
        if in_channels != 3:  # make_layers always starts from RGB
            self.features[0] = nn.Conv2d(in_channels, widths[0], kernel_size=3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = widths[-1]
        self.gradient_checkpointing = False
        for module in self.modules():  # torchvision's VGG initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def stages(self) -> list[nn.Module]:
        """The convolution stages, each ending in its max-pool (slices of ``features``)."""
        ends = [i + 1 for i, m in enumerate(self.features) if isinstance(m, nn.MaxPool2d)]
        return [self.features[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    def forward(self, x: Tensor) -> Tensor:
        if self.gradient_checkpointing and self.training:
            for stage in self.stages():
                x = checkpoint_module(stage, x)
        else:
            x = self.features(x)
        return self.pool(x).flatten(1)


__all__ = ["VGG19_CONVS", "VGG_WIDTHS", "VGGFeatures", "vgg_layout"]
