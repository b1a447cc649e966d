from __future__ import annotations

import pytest
import torch

from emofuse.blocks import EarlyFusion, TokenFusionEncoder
from emofuse.layers import masked_mean, record_attentions

LENGTHS = (5, 3, 4)  # text, video, audio


def _inputs() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    sequences = [torch.randn(2, n, 16) for n in LENGTHS]
    masks = [torch.arange(n) < torch.tensor([[n], [n - 2]]) for n in LENGTHS]
    return sequences, masks


def _pad(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.where(mask[..., None], x, 50 * torch.randn_like(x))
    extra = torch.zeros(x.shape[0], 2, dtype=torch.bool)
    return torch.cat([x, torch.randn(x.shape[0], 2, x.shape[2])], 1), torch.cat([mask, extra], 1)


def _fusion(positions: bool = False) -> TokenFusionEncoder:
    return TokenFusionEncoder(
        16, num_layers=2, num_heads=2, ffn_dim=32, dropout=0.0, use_positional_encoding=positions
    ).eval()


def test_layout_cls_first_and_concatenated_mask() -> None:
    fusion = _fusion()
    sequences, masks = _inputs()
    with torch.no_grad(), record_attentions(fusion) as maps:
        fused, mask = fusion(sequences, masks)
    n_s = 1 + sum(LENGTHS)
    assert list(maps) == ["encoder.layers.0.self_attn", "encoder.layers.1.self_attn"]
    weights = maps["encoder.layers.1.self_attn"]
    assert fused.shape == (2, n_s, 16) and weights.shape == (2, 2, n_s, n_s)
    torch.testing.assert_close(mask, torch.cat([torch.ones(2, 1, dtype=torch.bool), *masks], 1))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, n_s))
    mask = mask[:, None]  # over heads
    assert (weights[~mask[:, None, :].expand_as(weights)] == 0).all()


@pytest.mark.parametrize("positions", [False, True])
@pytest.mark.parametrize("which", [0, 1, 2, None])
def test_padding_invariance_in_every_modality(which: int | None, positions: bool) -> None:
    fusion = _fusion(positions)
    sequences, masks = _inputs()
    padded_seq, padded_masks = list(sequences), list(masks)
    for m in range(3) if which is None else [which]:
        padded_seq[m], padded_masks[m] = _pad(sequences[m], masks[m])
    with torch.no_grad():
        fused, mask = fusion(sequences, masks)
        fused_p, mask_p = fusion(padded_seq, padded_masks)
    for b in range(2):
        torch.testing.assert_close(fused_p[b][mask_p[b]], fused[b][mask[b]], atol=1e-5, rtol=1e-4)


def _load_torch_encoder(ours: TokenFusionEncoder, ref: torch.nn.TransformerEncoder) -> None:
    """Copy a torch post-norm encoder stack into ours, with random LayerNorm affines so that a
    norm in the wrong place (pre-norm, or an extra final norm) cannot cancel out."""
    for layer, torch_layer in zip(ours.encoder.layers, ref.layers, strict=True):
        for norm in (torch_layer.norm1, torch_layer.norm2):
            torch.nn.init.normal_(norm.weight, 1.0, 0.3)
            torch.nn.init.normal_(norm.bias, 0.0, 0.3)
        layer.self_attn.load_torch_weights(torch_layer.self_attn)
        layer.ffn[0].load_state_dict(torch_layer.linear1.state_dict())
        layer.ffn[3].load_state_dict(torch_layer.linear2.state_dict())
        layer.norm1.load_state_dict(torch_layer.norm1.state_dict())
        layer.norm2.load_state_dict(torch_layer.norm2.state_dict())


def test_eqs_3_4_are_a_post_norm_encoder_over_cls_text_video_audio() -> None:
    """F^0 = [CLS; T; I; A] through L_e layers of Norm(x + MSA(x)), Norm(x + FFN(x)): torch's
    post-norm encoder stack (no final norm) with the concatenated key-padding masks."""
    fusion = _fusion()
    ref = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True),
        num_layers=2,
        enable_nested_tensor=False,
    ).eval()
    _load_torch_encoder(fusion, ref)
    sequences, masks = _inputs()
    tokens = torch.cat([fusion.cls_token.expand(2, -1, -1), *sequences], 1)
    mask = torch.cat([torch.ones(2, 1, dtype=torch.bool), *masks], 1)
    with torch.no_grad():
        expected = ref(tokens, src_key_padding_mask=~mask)
        fused, fused_mask = fusion(sequences, masks)
    torch.testing.assert_close(fused_mask, mask)
    torch.testing.assert_close(fused[mask], expected[mask], atol=1e-5, rtol=1e-4)


def test_tokens_attend_across_modalities_and_order_needs_positions() -> None:
    sequences, masks = _inputs()
    masks = [torch.ones_like(m) for m in masks]
    changed_video = [sequences[0], torch.randn_like(sequences[1]), sequences[2]]
    flipped = [sequences[0], sequences[1].flip(1), sequences[2]]
    text = slice(1, 1 + LENGTHS[0])
    with torch.no_grad():
        plain = _fusion()
        fused = plain(sequences, masks)[0]
        assert not torch.allclose(plain(changed_video, masks)[0][:, text], fused[:, text])
        # without positions the fusion is order-agnostic within a modality (sec. III.B) ...
        torch.testing.assert_close(plain(flipped, masks)[0][:, 0], fused[:, 0])
        # ... and sinusoidal positions make it order-aware
        positioned = _fusion(positions=True)
        assert not torch.allclose(
            positioned(flipped, masks)[0][:, 0], positioned(sequences, masks)[0][:, 0]
        )


def test_all_padding_row_keeps_a_finite_cls() -> None:
    sequences, masks = _inputs()
    masks = [m.clone() for m in masks]
    for m in masks:
        m[1] = False
    with torch.no_grad():
        fused, mask = _fusion()(sequences, masks)
    assert fused.isfinite().all() and mask[1].tolist() == [True] + [False] * sum(LENGTHS)


def test_early_fusion_pools_each_modality() -> None:
    sequences, masks = _inputs()
    masks[2] = masks[2].clone()
    masks[2][1] = False
    pooled, present = EarlyFusion()(sequences, masks)
    assert pooled.shape == (2, 3, 16)
    for m in range(3):
        torch.testing.assert_close(pooled[:, m], masked_mean(sequences[m], masks[m]))
    assert present.tolist() == [[True, True, True], [True, True, False]]
    assert (pooled[1, 2] == 0).all()
