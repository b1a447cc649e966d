"""CrossModalTransformer, segment embeddings and the attentive Swish classifier."""

from __future__ import annotations

import pytest
import torch

from emofuse.blocks import AttentiveSwishClassifier, CrossModalTransformer, ModalitySegmentEmbedding
from emofuse.layers import record_attentions


def _stream(b: int, t: int, lengths: list[int], dim: int = 16):
    return torch.randn(b, t, dim), torch.arange(t) < torch.tensor(lengths)[:, None]


def test_segment_embedding_adds_one_vector_per_modality() -> None:
    seg = ModalitySegmentEmbedding(("audio", "video"), d_model=8)
    x = torch.zeros(2, 3, 8)
    a, v = seg(x, "audio"), seg(x, "video")
    torch.testing.assert_close(a, seg.embedding[0].expand(2, 3, 8))
    torch.testing.assert_close(v, seg.embedding[1].expand(2, 3, 8))
    assert not torch.equal(a, v)


@pytest.mark.parametrize("subset", [("audio",), ("video",), ("audio", "video")])
def test_any_subset_shapes_and_padding_invariance(subset: tuple[str, ...]) -> None:
    block = CrossModalTransformer(
        ("audio", "video"), d_model=16, num_heads=2, ffn_dim=32, num_layers=2
    ).eval()
    full = {"audio": _stream(2, 5, [5, 3]), "video": _stream(2, 4, [2, 4])}
    streams = {m: full[m] for m in subset}
    with record_attentions(block) as maps:
        z, mask = block(streams)
    total = sum(full[m][0].shape[1] for m in subset)
    assert z.shape == (2, total, 16) and mask.shape == (2, total)
    assert list(maps) == ["encoder.layers.0.self_attn", "encoder.layers.1.self_attn"]
    assert maps["encoder.layers.0.self_attn"].shape == (2, 2, total, total)
    # Scrambling padded steps and appending more padding leaves the valid steps unchanged.
    padded = {}
    for m, (x, mk) in streams.items():
        x = torch.where(mk[..., None], x, torch.randn_like(x))
        padded[m] = (
            torch.cat([x, torch.randn(2, 3, 16)], 1),
            torch.cat([mk, mk.new_zeros(2, 3)], 1),
        )
    z2, mask2 = block(padded)
    torch.testing.assert_close(z[mask], z2[mask2], atol=1e-5, rtol=1e-4)


def test_modalities_are_concatenated_in_declared_order() -> None:
    block = CrossModalTransformer(
        ("audio", "video"), d_model=8, num_heads=2, ffn_dim=16, num_layers=0
    )  # no layers: z = z0
    a, v = _stream(1, 2, [2], 8), _stream(1, 3, [3], 8)
    z, _ = block({"video": v, "audio": a})
    torch.testing.assert_close(z[:, :2], a[0] + block.segment.embedding[0])
    torch.testing.assert_close(z[:, 2:], v[0] + block.segment.embedding[1])


def test_empty_or_unknown_subset_is_rejected() -> None:
    block = CrossModalTransformer(
        ("audio", "video"), d_model=8, num_heads=2, ffn_dim=16, num_layers=1
    )
    with pytest.raises(ValueError, match="non-empty subset"):
        block({})
    with pytest.raises(ValueError, match="text"):
        block({"text": _stream(1, 2, [2], 8)})


def test_classifier_pools_valid_steps_and_survives_all_padding() -> None:
    head = AttentiveSwishClassifier(16, num_classes=6).eval()
    z, mask = _stream(3, 5, [5, 2, 0])
    with record_attentions(head) as maps:
        logits, pooled = head(z, mask)
    weights = maps["pool"]
    assert logits.shape == (3, 6) and pooled.shape == (3, 16) and weights.shape == (3, 5)
    torch.testing.assert_close(weights.sum(1), torch.tensor([1.0, 1.0, 0.0]))
    assert (weights[1, 2:] == 0).all() and (pooled[2] == 0).all() and logits.isfinite().all()
    # eq. 15–16: Linear + Swish, then Linear
    lin = head.hidden[0]
    expected = head.out(torch.nn.functional.silu(lin(pooled)))
    torch.testing.assert_close(logits, expected)
