from __future__ import annotations

import pytest
import torch

from emofuse.layers import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    record_attentions,
)
from emofuse.layers.mlp import get_activation

VALID = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)


def _pad(x: torch.Tensor, mask: torch.Tensor, extra: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    noise = 50 * torch.randn(x.shape[0], extra, x.shape[2])
    scrambled = torch.where(mask[..., None], x, torch.randn_like(x))
    return torch.cat([scrambled, noise], 1), torch.cat(
        [mask, torch.zeros(x.shape[0], extra, dtype=torch.bool)], 1
    )


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu", "swish"])
def test_encoder_layer_padding_invariance(norm_first: bool, activation: str) -> None:
    layer = TransformerEncoderLayer(
        16, num_heads=4, ffn_dim=32, norm_first=norm_first, activation=activation
    ).eval()
    x = torch.randn(2, 5, 16)
    out = layer(x, VALID)
    padded, mask = _pad(x, VALID)
    out_padded = layer(padded, mask)
    torch.testing.assert_close(out_padded[:, :5][VALID], out[VALID], atol=1e-5, rtol=1e-4)


def test_encoder_layer_post_norm_matches_torch() -> None:
    ours = TransformerEncoderLayer(
        16, num_heads=4, ffn_dim=32, norm_first=False, dropout=0.0
    ).eval()
    ref = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True).eval()
    ours.self_attn.load_torch_weights(ref.self_attn)
    ours.ffn[0].load_state_dict(ref.linear1.state_dict())
    ours.ffn[3].load_state_dict(ref.linear2.state_dict())
    ours.norm1.load_state_dict(ref.norm1.state_dict())
    ours.norm2.load_state_dict(ref.norm2.state_dict())
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        expected = ref(x, src_key_padding_mask=~VALID)
    torch.testing.assert_close(ours(x, VALID)[VALID], expected[VALID], atol=1e-5, rtol=1e-4)


def test_dropout_is_active_in_training_only() -> None:
    layer = TransformerEncoderLayer(16, num_heads=4, ffn_dim=32, dropout=0.5)
    x = torch.randn(2, 5, 16)
    assert not torch.allclose(layer(x), layer(x))
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))


def test_activation_names() -> None:
    assert isinstance(get_activation("swish"), torch.nn.SiLU)
    with pytest.raises(ValueError, match="activation"):
        get_activation("mish2")


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_stack_records_weights_per_layer(norm_first: bool) -> None:
    enc = TransformerEncoder(
        16, num_layers=3, num_heads=4, ffn_dim=32, norm_first=norm_first
    ).eval()
    x = torch.randn(2, 5, 16)
    with record_attentions(enc) as maps:
        out = enc(x, VALID)
    assert out.shape == x.shape
    assert list(maps) == [f"layers.{i}.self_attn" for i in range(3)]
    assert maps["layers.0.self_attn"].shape == (2, 4, 5, 5)
    assert (maps["layers.0.self_attn"][1, :, :, 3:] == 0).all()
    torch.testing.assert_close(enc(x, VALID), out)
    # layers are initialised independently
    assert not torch.equal(enc.layers[0].ffn[0].weight, enc.layers[1].ffn[0].weight)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_memory_padding_invariance(norm_first: bool) -> None:
    dec = TransformerDecoder(
        16, num_layers=2, num_heads=4, ffn_dim=32, norm_first=norm_first
    ).eval()
    queries = torch.randn(2, 6, 16)
    memory = torch.randn(2, 5, 16)
    with record_attentions(dec) as maps:
        out = dec(queries, memory, memory_mask=VALID)
    cross = maps["layers.1.cross_attn"]
    assert out.shape == (2, 6, 16) and cross.shape == (2, 4, 6, 5)
    assert maps["layers.1.self_attn"].shape == (2, 4, 6, 6)
    assert (cross[1, :, :, 3:] == 0).all()
    padded, mask = _pad(memory, VALID)
    torch.testing.assert_close(dec(queries, padded, memory_mask=mask), out, atol=1e-5, rtol=1e-4)


def test_decoder_all_padding_memory_is_finite() -> None:
    layer = TransformerDecoderLayer(16, num_heads=4, ffn_dim=32)
    out = layer(
        torch.randn(2, 3, 16),
        torch.randn(2, 4, 16),
        memory_mask=torch.zeros(2, 4, dtype=torch.bool),
    )
    assert out.isfinite().all()
