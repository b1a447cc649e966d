from __future__ import annotations

import pytest
import torch
from torch import nn

from emofuse.layers import MultiHeadAttention


def _pair(dim: int = 16, heads: int = 4, **kw) -> tuple[MultiHeadAttention, nn.MultiheadAttention]:
    ours = MultiHeadAttention(dim, heads, **kw).eval()
    ref_kw = {k: v for k, v in kw.items() if k in ("kdim", "vdim")}
    ref = nn.MultiheadAttention(dim, heads, batch_first=True, **ref_kw).eval()
    ours.load_torch_weights(ref)
    return ours, ref


@pytest.mark.parametrize("need_weights", [False, True])
def test_equals_torch_multihead_attention(need_weights: bool) -> None:
    ours, ref = _pair()
    q, k = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    valid = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6], dtype=torch.bool)
    out, weights = ours(q, k, k, key_padding_mask=valid, need_weights=need_weights)
    ref_out, ref_weights = ref(q, k, k, key_padding_mask=~valid, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-4)
    if need_weights:
        torch.testing.assert_close(weights, ref_weights, atol=1e-6, rtol=1e-5)
    else:
        assert weights is None


def test_equals_torch_with_different_key_and_value_widths() -> None:
    ours, ref = _pair(kdim=12, vdim=20)
    q, k, v = torch.randn(2, 4, 16), torch.randn(2, 6, 12), torch.randn(2, 6, 20)
    torch.testing.assert_close(ours(q, k, v)[0], ref(q, k, v)[0], atol=1e-5, rtol=1e-4)


def test_all_masked_row_is_finite_and_ignores_keys() -> None:
    attn = MultiHeadAttention(8, 2)
    x = torch.randn(2, 3, 8)
    valid = torch.tensor([[True, True, False], [False, False, False]])
    for need_weights in (False, True):
        out, weights = attn(x, key_padding_mask=valid, need_weights=need_weights)
        assert out.isfinite().all()
        torch.testing.assert_close(out[1], attn.out_proj.bias.expand(3, 8))
        if need_weights:
            assert (weights[1] == 0).all()
            torch.testing.assert_close(weights[0].sum(-1), torch.ones(2, 3))
    out.sum().backward()
    assert all(p.grad.isfinite().all() for p in attn.parameters())


def test_padding_invariance() -> None:
    attn = MultiHeadAttention(8, 2).eval()
    q, k = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    valid = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    base = attn(q, k, key_padding_mask=valid)[0]
    k_padded = torch.cat([k, 100 * torch.randn(2, 4, 8)], dim=1)
    valid_padded = torch.cat([valid, torch.zeros(2, 4, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(attn(q, k_padded, key_padding_mask=valid_padded)[0], base)
    k_scrambled = torch.where(valid[..., None], k, torch.randn_like(k))
    torch.testing.assert_close(attn(q, k_scrambled, key_padding_mask=valid)[0], base)


def test_head_dim_for_widths_not_divisible_by_heads() -> None:
    attn = MultiHeadAttention(49, 8, head_dim=7, out_dim=49)
    assert attn(torch.randn(2, 3, 49))[0].shape == (2, 3, 49)
    with pytest.raises(ValueError, match="head_dim"):
        MultiHeadAttention(49, 8)


def test_attn_mask_restricts_keys() -> None:
    attn = MultiHeadAttention(8, 2)
    x = torch.randn(1, 4, 8)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    _, weights = attn(x, attn_mask=causal, need_weights=True)
    assert (weights[..., ~causal] == 0).all()
    fused, _ = attn(x, attn_mask=causal)
    manual, _ = attn(x, attn_mask=causal, need_weights=True)
    torch.testing.assert_close(fused, manual, atol=1e-6, rtol=1e-5)
