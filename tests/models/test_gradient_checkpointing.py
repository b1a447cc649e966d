"""``gradient_checkpointing=True`` on the models with large backbones: the backbones recompute
their activations in the backward pass, and loss, gradients and batch-norm statistics are those
of the plain model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import emofuse

# model → its backbones (module paths) that checkpointing must reach
BACKBONES = {
    "mer_sem_mbt_tiny": ("audio_encoder", "video_encoder", "text_encoder"),
    "av_attention_fusion_tiny": ("video_backbone", "audio_backbone"),
    "emotion_query_transformer_tiny": (
        "video_encoder.backbone",
        "audio_encoder.backbone",
    ),  # ALBERT: transformers cannot checkpoint it (its layers share weights)
    "colearning_transformer_tiny": ("frame_encoder.backbone",),
}


def _train_step(model: nn.Module, name: str) -> tuple[torch.Tensor, dict[str, int]]:
    """One training forward and backward; the loss and each backbone's layer calls."""
    calls = dict.fromkeys(BACKBONES[name], 0)
    handles = []
    for path in calls:
        for layer in model.get_submodule(path).modules():
            if isinstance(layer, nn.Conv2d | nn.Conv3d | nn.Linear):

                def count(*_: object, path: str = path) -> None:
                    calls[path] += 1

                handles.append(layer.register_forward_hook(count))
    model.train()
    inputs = model.example_inputs(2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)  # the same dropout draws in both models
    loss = model(**inputs).logits.square().mean()
    loss.backward()
    for handle in handles:
        handle.remove()
    return loss.detach(), calls


@pytest.mark.parametrize("name", list(BACKBONES))
def test_checkpointing_keeps_loss_and_gradients(name: str) -> None:
    plain = emofuse.build(name)
    checkpointed = emofuse.build(name, gradient_checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    want, plain_calls = _train_step(plain, name)
    got, checkpointed_calls = _train_step(checkpointed, name)
    for path in BACKBONES[name]:  # recomputed in the backward pass
        assert checkpointed_calls[path] > plain_calls[path], path
    torch.testing.assert_close(got, want)
    for (key, p), q in zip(plain.named_parameters(), checkpointed.parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None), key
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, msg=key)
    if name != "colearning_transformer_tiny":  # timm's recomputation updates them again
        for (key, b), c in zip(plain.named_buffers(), checkpointed.buffers(), strict=True):
            torch.testing.assert_close(c, b, msg=key)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_checkpointing_with_a_single_valid_frame_in_the_batch(name: str) -> None:
    """One valid frame: the frame CNNs run on their running statistics
    (``batch_norm_running_stats``), and their recomputation in the backward pass must too."""
    plain = emofuse.build(name)
    checkpointed = emofuse.build(name, gradient_checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    inputs = plain.example_inputs(2, generator=torch.Generator().manual_seed(0))
    for key in [k for k in inputs if f"{k}_mask" in inputs]:
        inputs[f"{key}_mask"][:] = False
        inputs[f"{key}_mask"][0, 0] = True
    losses = []
    for model in (plain, checkpointed):
        model.train()
        torch.manual_seed(1)
        loss = model(**inputs).logits.square().mean()
        loss.backward()
        losses.append(loss.detach())
    torch.testing.assert_close(losses[1], losses[0])
    for (key, p), q in zip(plain.named_parameters(), checkpointed.parameters(), strict=True):
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, msg=key)
