"""Switch activation checkpointing on or off for every backbone inside a model."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol, cast

from torch import nn

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class _CheckpointedStages(Protocol):
    """An emofuse backbone that checkpoints its own stages."""

    gradient_checkpointing: bool


def set_gradient_checkpointing(module: nn.Module, enabled: bool = True) -> None:
    """Turn activation checkpointing of the backbones inside ``module`` on or off: during
    training their stages keep only their inputs and recompute their activations in the backward
    pass, trading about one more forward pass of the backbones for their activation memory.
    Outputs and gradients do not change.

    - emofuse backbones (:class:`VGGish`, :class:`ResNetEncoder`, :class:`ResNet3D`,
      :class:`VGGFeatures`): their ``gradient_checkpointing`` flag, one segment per stage
      (:func:`emofuse.layers.checkpoint_module`);
    - Hugging Face models that support it: layer by layer, through transformers' own
      ``activation_checkpointing_enable`` (non-reentrant; ``gradient_checkpointing_enable``
      before transformers 5); the others (ALBERT, whose layers share one set of weights) are
      left as they are;
    - timm models: ``set_grad_checkpointing`` (timm recomputes block by block; its batch norms
      update their running statistics again when recomputed).
    """
    # Only an imported transformers can have built a Hugging Face model: no import here.
    transformers = sys.modules.get("transformers")
    if transformers is not None and isinstance(module, transformers.PreTrainedModel):
        if module.supports_gradient_checkpointing:
            _set_hf_checkpointing(module, enabled)
        return
    set_grad_checkpointing = getattr(module, "set_grad_checkpointing", None)
    if callable(set_grad_checkpointing):  # a timm model
        set_grad_checkpointing(enabled)
        return
    if isinstance(getattr(module, "gradient_checkpointing", None), bool):
        cast(_CheckpointedStages, module).gradient_checkpointing = enabled
    for child in module.children():
        set_gradient_checkpointing(child, enabled)


def _set_hf_checkpointing(model: PreTrainedModel, enabled: bool) -> None:
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
        if enabled:
            model.activation_checkpointing_enable({"use_reentrant": False})
        else:
            model.activation_checkpointing_disable()
    elif enabled:
        model.gradient_checkpointing_enable({"use_reentrant": False})
    else:
        model.gradient_checkpointing_disable()


__all__ = ["set_gradient_checkpointing"]
