"""Per-frame image CNNs from timm (MobileNetV3 for Takashima et al. 2022, eq. 8)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import cast

from torch import Tensor, nn

from emofuse.encoders.weights import create_timm_backbone
from emofuse.layers import run_on_valid_steps


class TimmFrameEncoder(nn.Module):
    """A timm image CNN applied to every valid frame of a clip, then projected to ``out_dim``
    (``CNN()`` of Takashima et al. 2022, eq. 8).

    All valid frames of the batch go through the CNN in one call (padded frames are never
    computed, so they cannot leak, and BatchNorm statistics in training see only real frames).

    Args:
        name: timm model name (paper: ``"mobilenetv3_large_100"``).
        out_dim: output width.
        pretrained: fetch timm's weights when ``weights`` is not given (see
            :func:`emofuse.encoders.weights.create_timm_backbone`).
        weights: a local state dict, always loaded when given.
        field: the config field that names ``weights``, for error messages.

    Inputs:
        frames: (B, T, 3, H, W) images normalised as the backbone expects (timm's
        ``pretrained_cfg["mean"]``/``["std"]``); mask: (B, T) bool, True = valid, or None.
    Returns:
        (B, T, out_dim), zeros at padded frames.
    """

    def __init__(
        self,
        name: str,
        *,
        out_dim: int,
        pretrained: bool = False,
        weights: str | os.PathLike[str] | None = None,
        field: str = "frame_backbone_weights",
    ) -> None:
        super().__init__()
        self.backbone = create_timm_backbone(
            name, pretrained=pretrained, weights=weights, field=field
        )
        # MobileNetV3 keeps its 1×1 head convolution at num_classes=0: its width is the output.
        width = cast(
            int, getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features
        )
        self.proj = nn.Linear(width, out_dim)

    def encode_frames(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) → (N, out_dim)."""
        checkpointed = getattr(self.backbone, "grad_checkpointing", False)
        if not (checkpointed and self.training and images.shape[0] == 1):
            return self.proj(self.backbone(images))
        # One training frame runs on the BatchNorm running statistics (run_on_valid_steps);
        # timm would recompute it in the backward pass after that has ended, in training mode.
        # One frame's activations are not worth recomputing: keep them.
        # a timm model (it has grad_checkpointing): every one has set_grad_checkpointing
        set_checkpointing = cast(Callable[[bool], None], self.backbone.set_grad_checkpointing)
        set_checkpointing(False)
        try:
            return self.proj(self.backbone(images))
        finally:
            set_checkpointing(True)

    def forward(self, frames: Tensor, mask: Tensor | None = None) -> Tensor:
        return run_on_valid_steps(self.encode_frames, frames, mask)


__all__ = ["TimmFrameEncoder"]
