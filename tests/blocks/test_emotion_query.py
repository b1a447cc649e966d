from __future__ import annotations

import torch

from emofuse.blocks import EmotionQueryDecoder, GroupWiseLinear
from emofuse.layers import record_attentions

MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], dtype=torch.bool)


def _decoder(layers: int = 2) -> EmotionQueryDecoder:
    return EmotionQueryDecoder(
        4, d_model=16, num_layers=layers, num_heads=2, ffn_dim=32, dropout=0.0
    ).eval()


def test_matches_torch_post_norm_decoder() -> None:
    """Eqs. 5–7 stacked N_d = 2 times are torch's post-norm decoder (no final norm) with the
    emotion queries as targets; random LayerNorm affines so that a misplaced norm shows."""
    ours = _decoder(layers=2)
    ref = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(16, 2, 32, dropout=0.0, batch_first=True), num_layers=2
    ).eval()
    for layer, torch_layer in zip(ours.decoder.layers, ref.layers, strict=True):
        layer.self_attn.load_torch_weights(torch_layer.self_attn)
        layer.cross_attn.load_torch_weights(torch_layer.multihead_attn)
        layer.ffn[0].load_state_dict(torch_layer.linear1.state_dict())
        layer.ffn[3].load_state_dict(torch_layer.linear2.state_dict())
        for i in (1, 2, 3):
            norm = getattr(torch_layer, f"norm{i}")
            torch.nn.init.normal_(norm.weight, 1.0, 0.3)
            torch.nn.init.normal_(norm.bias, 0.0, 0.3)
            getattr(layer, f"norm{i}").load_state_dict(norm.state_dict())
    memory = torch.randn(2, 6, 16)
    with torch.no_grad():
        expected = ref(ours.queries.expand(2, -1, -1), memory, memory_key_padding_mask=~MASK)
        got = ours(memory, MASK)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_shapes_attention_and_padding_invariance() -> None:
    decoder = _decoder()
    memory = torch.randn(2, 6, 16)
    with torch.no_grad():
        with record_attentions(decoder) as maps:
            emotions = decoder(memory, MASK)
        noisy = torch.where(MASK[..., None], memory, 100 * torch.randn_like(memory))
        padded = torch.cat([noisy, torch.randn(2, 3, 16)], 1)
        padded_mask = torch.cat([MASK, torch.zeros(2, 3, dtype=torch.bool)], 1)
        with record_attentions(decoder) as maps_padded:
            emotions_padded = decoder(padded, padded_mask)
        fused = decoder(memory, MASK)
    key = "decoder.layers.1.cross_attn"  # each emotion query over the memory, last layer
    weights, weights_padded = maps[key], maps_padded[key]
    assert emotions.shape == (2, 4, 16) and weights.shape == (2, 2, 4, 6)
    assert maps["decoder.layers.0.self_attn"].shape == (2, 2, 4, 4)
    torch.testing.assert_close(fused, emotions, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 4))
    assert (weights[1, :, :, 3:] == 0).all()
    torch.testing.assert_close(emotions_padded, emotions, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(weights_padded[..., :6], weights, atol=1e-5, rtol=1e-4)


def test_empty_memory_row_is_finite_and_queries_learn() -> None:
    decoder = _decoder().train()
    mask = MASK.clone()
    mask[1] = False
    emotions = decoder(torch.randn(2, 6, 16), mask)
    assert emotions.isfinite().all()
    emotions.square().sum().backward()
    assert decoder.queries.grad is not None and decoder.queries.grad.abs().sum() > 0


def test_group_wise_linear_scores_each_class_from_its_own_vector() -> None:
    head = GroupWiseLinear(3, d_model=5)
    x = torch.randn(2, 3, 5)
    expected = torch.stack(
        [torch.stack([x[b, c] @ head.weight[c] + head.bias[c] for c in range(3)]) for b in range(2)]
    )
    torch.testing.assert_close(head(x), expected)
    moved = x.clone()
    moved[:, 1] += 1.0
    changed = (head(moved) - head(x)).abs() > 0
    assert changed[:, 1].all() and not changed[:, [0, 2]].any()


def test_flop_counter_runs_under_no_grad() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    decoder = _decoder()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        decoder(torch.randn(2, 6, 16), MASK)
    assert counter.get_total_flops() > 0
