"""Per-frame image CNNs from timm (MobileNetV3 for Takashima et al. 2022, eq. 8)."""

from __future__ import annotations

import os

import timm
from torch import Tensor, nn

from emofuse.hub import load_remapped, load_state_dict_file
from emofuse.layers import run_on_valid_steps


def create_timm_backbone(
    name: str,
    *,
    pretrained: bool = False,
    weights: str | os.PathLike[str] | None = None,
    argument: str = "frame_backbone",
) -> nn.Module:
    """A timm model without its classifier (``num_classes=0``): images → pooled features.

    Args:
        name: any name of ``timm.list_models()``, e.g. ``"mobilenetv3_large_100"``.
        pretrained: load weights: from ``weights`` when given, else timm's published
            (ImageNet) weights from the Hugging Face Hub.
        weights: a local ``.safetensors``/``.pth`` state dict of the same timm model (the
            classifier, which is dropped, may be present); used only when ``pretrained``.
        argument: the config field named in error messages.

    Raises:
        ValueError: an unknown name, or a weights file that does not fit the model.
        OSError: ``pretrained`` without ``weights`` and timm's weights cannot be fetched; the
            message names the file and how to pass it locally.
    """
    if not timm.is_model(name):
        raise ValueError(
            f"{argument}: expected a timm model name (timm.list_models()), got {name!r}"
        )
    if not pretrained or weights is not None:
        model = timm.create_model(name, pretrained=False, num_classes=0)
        if pretrained:
            classifier = model.pretrained_cfg.get("classifier") or "classifier"
            prefixes = tuple(
                f"{c}." for c in ([classifier] if isinstance(classifier, str) else classifier)
            )

            def rename(key: str) -> str | None:
                return None if key.startswith(prefixes) else key

            load_remapped(model, load_state_dict_file(weights), rename, source=str(weights))
        return model
    try:
        return timm.create_model(name, pretrained=True, num_classes=0)
    except OSError as error:
        cfg = timm.models.get_pretrained_cfg(name)
        where = f"model.safetensors of https://huggingface.co/{cfg.hf_hub_id if cfg else name}"
        raise OSError(
            f"{argument}: could not fetch timm's pretrained weights for {name!r} ({where}): "
            f"{error}. Offline, copy that file here and pass it as "
            f"{argument}_weights='/path/to/model.safetensors' (with pretrained=True), "
            "or build with pretrained=False."
        ) from error


class TimmFrameEncoder(nn.Module):
    """A timm image CNN applied to every valid frame of a clip, then projected to ``dim``
    (``CNN()`` of Takashima et al. 2022, eq. 8).

    All valid frames of the batch go through the CNN in one call (padded frames are never
    computed, so they cannot leak, and BatchNorm statistics in training see only real frames).

    Args:
        name: timm model name (paper: ``"mobilenetv3_large_100"``).
        dim: output width.
        pretrained, weights: see :func:`create_timm_backbone`.

    Inputs:
        frames: (B, T, 3, H, W) images normalised as the backbone expects (timm's
        ``pretrained_cfg["mean"]``/``["std"]``); mask: (B, T) bool, True = valid, or None.
    Returns:
        (B, T, dim), zeros at padded frames.
    """

    def __init__(
        self,
        name: str,
        dim: int,
        *,
        pretrained: bool = False,
        weights: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = create_timm_backbone(name, pretrained=pretrained, weights=weights)
        # MobileNetV3 keeps its 1×1 head convolution at num_classes=0: its width is the output.
        width = getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features
        self.proj = nn.Linear(width, dim)

    def encode_frames(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) → (N, dim)."""
        checkpointed = getattr(self.backbone, "grad_checkpointing", False)
        if not (checkpointed and self.training and images.shape[0] == 1):
            return self.proj(self.backbone(images))
        # One training frame runs on the BatchNorm running statistics (run_on_valid_steps);
        # timm would recompute it in the backward pass after that has ended, in training mode.
        # One frame's activations are not worth recomputing: keep them.
        self.backbone.set_grad_checkpointing(False)
        try:
            return self.proj(self.backbone(images))
        finally:
            self.backbone.set_grad_checkpointing(True)

    def forward(self, frames: Tensor, mask: Tensor | None = None) -> Tensor:
        return run_on_valid_steps(self.encode_frames, frames, mask)


__all__ = ["TimmFrameEncoder", "create_timm_backbone"]
