from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from emofuse.layers import MultiHeadAttention, record_attentions


def _pair(dim: int = 16, heads: int = 4, **kw) -> tuple[MultiHeadAttention, nn.MultiheadAttention]:
    ours = MultiHeadAttention(dim, num_heads=heads, **kw).eval()
    ref_kw = {k: v for k, v in kw.items() if k in ("kdim", "vdim")}
    ref = nn.MultiheadAttention(dim, heads, batch_first=True, **ref_kw).eval()
    ours.load_torch_weights(ref)
    return ours, ref


@pytest.mark.parametrize("recording", [False, True])
def test_equals_torch_multihead_attention(recording: bool) -> None:
    ours, ref = _pair()
    q, k = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    valid = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6], dtype=torch.bool)
    with record_attentions(ours) if recording else contextlib.nullcontext({}) as maps:
        out = ours(q, k, k, key_padding_mask=valid)
    ref_out, ref_weights = ref(q, k, k, key_padding_mask=~valid, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-4)
    if recording:
        torch.testing.assert_close(maps["MultiHeadAttention"], ref_weights, atol=1e-6, rtol=1e-5)
    else:
        assert maps == {}


def test_equals_torch_with_different_key_and_value_widths() -> None:
    ours, ref = _pair(kdim=12, vdim=20)
    q, k, v = torch.randn(2, 4, 16), torch.randn(2, 6, 12), torch.randn(2, 6, 20)
    torch.testing.assert_close(ours(q, k, v), ref(q, k, v)[0], atol=1e-5, rtol=1e-4)


def test_all_masked_row_is_finite_and_ignores_keys() -> None:
    attn = MultiHeadAttention(8, num_heads=2)
    x = torch.randn(2, 3, 8)
    valid = torch.tensor([[True, True, False], [False, False, False]])
    for recording in (False, True):
        with record_attentions(attn) if recording else contextlib.nullcontext({}) as maps:
            out = attn(x, key_padding_mask=valid)
        assert out.isfinite().all()
        torch.testing.assert_close(out[1], attn.out_proj.bias.expand(3, 8))
        if recording:
            weights = maps["MultiHeadAttention"]
            assert weights.isfinite().all() and (weights[1] == 0).all()
            torch.testing.assert_close(weights[0].sum(-1), torch.ones(2, 3))
    out.sum().backward()
    assert all(p.grad.isfinite().all() for p in attn.parameters())


def test_padding_invariance() -> None:
    attn = MultiHeadAttention(8, num_heads=2).eval()
    q, k = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    valid = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    base = attn(q, k, key_padding_mask=valid)
    k_padded = torch.cat([k, 100 * torch.randn(2, 4, 8)], dim=1)
    valid_padded = torch.cat([valid, torch.zeros(2, 4, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(attn(q, k_padded, key_padding_mask=valid_padded), base)
    k_scrambled = torch.where(valid[..., None], k, torch.randn_like(k))
    torch.testing.assert_close(attn(q, k_scrambled, key_padding_mask=valid), base)


def test_head_dim_for_widths_not_divisible_by_heads() -> None:
    attn = MultiHeadAttention(49, num_heads=8, head_dim=7, out_dim=49)
    assert attn(torch.randn(2, 3, 49)).shape == (2, 3, 49)
    with pytest.raises(ValueError, match="head_dim"):
        MultiHeadAttention(49, num_heads=8)


def test_attn_mask_restricts_keys() -> None:
    attn = MultiHeadAttention(8, num_heads=2)
    x = torch.randn(1, 4, 8)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    with record_attentions(attn) as maps:
        manual = attn(x, attn_mask=causal)
    assert (maps["MultiHeadAttention"][..., ~causal] == 0).all()
    fused = attn(x, attn_mask=causal)
    torch.testing.assert_close(fused, manual, atol=1e-6, rtol=1e-5)
