from __future__ import annotations

import pytest
import torch
from einops import rearrange
from torch import nn

from emofuse.blocks import ChannelAttention, SpatialAttention, TemporalAttention
from emofuse.layers import record_attentions


def test_spatial_attention_is_multi_head_self_attention_over_positions() -> None:
    block = SpatialAttention(32, num_heads=8).eval()
    reference = nn.MultiheadAttention(32, 8, batch_first=True).eval()
    block.attention.load_torch_weights(reference)
    x = torch.randn(3, 49, 32)  # (B, s = 7·7, m)
    with record_attentions(block) as maps:
        out = block(x)
    want, want_weights = reference(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(out, want, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(maps["attention"], want_weights, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(block(x), out)  # the fused kernel outside a recording


@pytest.mark.parametrize("s", [49, 4, 16])
def test_channel_attention_attends_over_channels_for_any_width(s: int) -> None:
    block = ChannelAttention(s, num_heads=8).eval()
    assert block.attention.head_dim == -(-s // 8)  # ceil(s / H) dims per head
    x = torch.randn(2, s, 24)  # (B, s, m = 24 channels)
    with record_attentions(block) as maps:
        out = block(x)
    weights = maps["attention"]
    assert out.shape == x.shape and weights.shape == (2, 8, 24, 24)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 8, 24))
    # tokens are channels: permuting the channels permutes the output's channels
    perm = torch.randperm(24)
    torch.testing.assert_close(block(x[..., perm]), out[..., perm], atol=1e-5, rtol=1e-4)
    # and it is the same attention as a spatial one run on the transposed descriptor
    spatial = SpatialAttention(s, num_heads=8).eval()
    spatial.load_state_dict(block.state_dict())
    transposed = spatial(rearrange(x, "b s m -> b m s"))
    torch.testing.assert_close(out, rearrange(transposed, "b m s -> b s m"))


def test_temporal_attention_masks_padded_snippets_and_projects() -> None:
    block = TemporalAttention(20, num_heads=8, out_dim=12).eval()  # 20 % 8 != 0 works too
    x = torch.randn(2, 5, 20)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    with record_attentions(block) as maps:
        out = block(x, mask)
    weights = maps["attention"]
    assert out.shape == (2, 5, 12) and weights.shape == (2, 8, 5, 5)
    assert (weights[1, :, :, 3:] == 0).all()
    scrambled = x.clone()
    scrambled[1, 3:] = 100 * torch.randn(2, 20)
    torch.testing.assert_close(block(scrambled, mask)[:, :3], out[:, :3])
    empty = block(x, torch.zeros(2, 5, dtype=torch.bool))
    assert empty.isfinite().all()


def test_residual_flag() -> None:
    x = torch.randn(2, 6, 16)
    for cls, arg in ((SpatialAttention, 16), (ChannelAttention, 6), (TemporalAttention, 16)):
        plain, residual = cls(arg, num_heads=4), cls(arg, num_heads=4, use_residual=True)
        residual.load_state_dict(plain.state_dict())
        torch.testing.assert_close(residual(x), x + plain(x))
    with pytest.raises(ValueError, match="residual"):
        TemporalAttention(16, num_heads=4, out_dim=8, use_residual=True)
