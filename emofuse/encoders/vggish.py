"""VGGish (Hershey et al. 2017); Xia et al. 2022 put semantic enhancement modules between its
conv groups with :class:`emofuse.blocks.SemanticEnhancedBackbone`.

torchaudio dropped its VGGish in 2.9, so it is written here. The layout of ``features`` and
``embeddings`` is torchvggish's (harritaylor/torchvggish, ``torchvggish/vggish.py``), so its
released state dict (``vggish-10086976.pth``) loads unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from einops import rearrange
from torch import Tensor, nn

from emofuse.layers import checkpoint_module

EXAMPLE_FRAMES, MEL_BANDS = 96, 64  # one example: 0.96 s of 10 ms frames × 64 mel bands


class VGGish(nn.Module):
    """VGGish: four conv groups (64; 128; 256×2; 512×2 channels, 3×3 convs, ReLU, each group
    ending in a 2×2 max-pool), a channels-last flatten and FC 4096-4096-128 with ReLU.

    Args:
        channels: widths of the four conv groups (VGGish: 64, 128, 256, 512).
        fc_dims: widths of the three FC layers (VGGish: 4096, 4096, 128).

    Attributes:
        gradient_checkpointing: recompute each conv group's activations in the backward pass
            instead of keeping them (training only; see
            :func:`emofuse.encoders.set_gradient_checkpointing`).

    Stages (for :class:`emofuse.blocks.SemanticEnhancedBackbone`): ``conv_groups()``,
    ``group_channels`` = ``channels`` and ``forward_head`` (flatten and FC layers).

    Inputs:
        examples: (N, 1, 96, 64) log-mel examples (frames × mel bands).
    Returns:
        (N, fc_dims[-1]) embeddings.

    Raises:
        ValueError: not 4 ``channels`` or not 3 ``fc_dims``.
    """

    def __init__(
        self,
        channels: Sequence[int] = (64, 128, 256, 512),
        *,
        fc_dims: Sequence[int] = (4096, 4096, 128),
    ) -> None:
        super().__init__()
        if len(channels) != 4 or len(fc_dims) != 3:
            raise ValueError(
                f"channels/fc_dims: expected 4 and 3 widths, got {channels}, {fc_dims}"
            )
        layers: list[nn.Module] = []
        self._group_ends: list[int] = []  # index in ``features`` after each group's pool
        width = 1
        for out, convs in zip(channels, (1, 1, 2, 2), strict=True):
            for _ in range(convs):
                layers += [nn.Conv2d(width, out, 3, padding=1), nn.ReLU(inplace=True)]
                width = out
            layers.append(nn.MaxPool2d(2, 2))
            self._group_ends.append(len(layers))
        self.features = nn.Sequential(*layers)
        flat = width * (EXAMPLE_FRAMES // 16) * (MEL_BANDS // 16)
        self.embeddings = nn.Sequential(
            nn.Linear(flat, fc_dims[0]),
            nn.ReLU(inplace=True),
            nn.Linear(fc_dims[0], fc_dims[1]),
            nn.ReLU(inplace=True),
            nn.Linear(fc_dims[1], fc_dims[2]),
            nn.ReLU(inplace=True),
        )
        self.group_channels = tuple(channels)
        self.out_dim = fc_dims[-1]
        self.gradient_checkpointing = False

    def conv_groups(self) -> list[nn.Module]:
        """The four conv groups (slices of ``features``), for freezing and optimizer groups."""
        starts = [0, *self._group_ends[:-1]]
        return [self.features[a:b] for a, b in zip(starts, self._group_ends, strict=True)]

    def forward_head(self, x: Tensor) -> Tensor:
        """The last conv group's map (N, C, 6, 4) → embeddings (N, fc_dims[-1])."""
        # channels-last flatten, as torchvggish (and the TF original) order the FC inputs
        return self.embeddings(rearrange(x, "n c h w -> n (h w c)"))

    def forward(self, examples: Tensor) -> Tensor:
        x, checkpointed = examples, self.gradient_checkpointing and self.training
        for layers in self.conv_groups():
            x = checkpoint_module(layers, x, enabled=checkpointed)
        return self.forward_head(x)


__all__ = ["EXAMPLE_FRAMES", "MEL_BANDS", "VGGish"]
