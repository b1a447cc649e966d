"""AVAttentionFusionLoss at the edges: empty batch, the meta device, malformed outputs.

Its value on ordinary batches is tested with the polarity triplet loss
(tests/losses/test_polarity_triplet.py)."""

from __future__ import annotations

import pytest
import torch

from emofuse.labels import RAVDESS_8
from emofuse.losses import AVAttentionFusionLoss
from emofuse.outputs import EmotionOutput


def _output(batch: int, classes: int = 8, dim: int = 4, device: str = "cpu") -> EmotionOutput:
    logits = torch.randn(batch, classes, device=device, requires_grad=True)
    embedding = torch.randn(batch, dim, device=device, requires_grad=True)
    return EmotionOutput(logits=logits, embedding=embedding)


@pytest.mark.parametrize("mining", ["all", "hard"])
def test_empty_batch_is_zero_with_a_zero_finite_gradient(mining: str) -> None:
    # issue #11.6: the mean cross-entropy of no sample was NaN
    out = _output(0)
    loss = AVAttentionFusionLoss(label_names=RAVDESS_8, mining=mining)(
        out, torch.zeros(0, dtype=torch.long)
    )
    loss.backward()
    assert loss.item() == 0.0
    assert out.logits.grad is not None and out.logits.grad.shape == (0, 8)
    assert out.embedding.grad is not None and out.embedding.grad.shape == (0, 4)


def test_a_single_sample_batch_is_its_cross_entropy() -> None:
    out = _output(1)
    loss = AVAttentionFusionLoss(label_names=RAVDESS_8)(out, torch.tensor([3]))
    want = torch.nn.functional.cross_entropy(out.logits, torch.tensor([3]))
    torch.testing.assert_close(loss, want)  # no triplet in one sample


def test_runs_on_the_meta_device() -> None:
    out = _output(5, device="meta")
    loss_fn = AVAttentionFusionLoss(label_names=RAVDESS_8).to("meta")
    loss = loss_fn(out, torch.zeros(5, dtype=torch.long, device="meta"))
    assert loss.device.type == "meta" and loss.shape == ()


def test_bad_outputs_and_labels_are_named() -> None:
    loss_fn = AVAttentionFusionLoss(label_names=RAVDESS_8)
    labels = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match=r"output: expected logits \(B, K\) with K = 8"):
        loss_fn(_output(3, classes=6), labels)
    with pytest.raises(ValueError, match="output: expected an EmotionOutput with an embedding"):
        loss_fn(EmotionOutput(logits=torch.randn(3, 8)), labels)
    bad_batch = EmotionOutput(logits=torch.randn(2, 8), embedding=torch.randn(3, 4))
    with pytest.raises(ValueError, match="B of the embedding"):
        loss_fn(bad_batch, labels)
    # an out-of-range class is named before cross-entropy fails on it with an IndexError
    with pytest.raises(ValueError, match=r"labels: expected class indices in \[0, 8\)"):
        loss_fn(_output(3), torch.tensor([0, 1, 8]))
    with pytest.raises(ValueError, match="labels"):
        loss_fn(_output(3), torch.tensor([0.0, 1.0, 2.0]))
