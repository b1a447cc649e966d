"""Every shared layer compiles with ``torch.compile(fullgraph=True)`` (no graph break) and gives
the eager outputs. Tiny shapes: compilation, not the math, is what these tests pay for. The
attention layer goes through inductor (C++ code generation, ~10-20 s on 2 cores); the others
through ``aot_eager``, which traces the same full graph (dynamo and AOT autograd, where graph
breaks arise) without generating code, to keep the file fast."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from emofuse.layers import (
    AttentivePooling,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)

# Rows: full, partly padded, all padding (the finite-output path must compile too).
MASK = torch.tensor([[True] * 5, [True, True, True, False, False], [False] * 5])


def _same_as_eager(module: nn.Module, call: Callable[[nn.Module], tuple]) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    for got, want in zip(call(compiled), call(module), strict=True):
        if want is None:
            assert got is None
        else:
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_multihead_attention_with_key_padding_mask_compiles_forward_and_backward() -> None:
    attn = MultiHeadAttention(8, num_heads=2)
    x = torch.randn(3, 5, 8)
    torch._dynamo.reset()
    compiled = torch.compile(attn, fullgraph=True)  # inductor
    out = compiled(x, key_padding_mask=MASK)
    grads = torch.autograd.grad(out.square().sum(), list(attn.parameters()))
    want = attn(x, key_padding_mask=MASK)
    want_grads = torch.autograd.grad(want.square().sum(), list(attn.parameters()))
    torch.testing.assert_close(out, want, atol=1e-5, rtol=1e-4)
    for got, ref in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-4)


def test_cross_attention_with_attn_mask_compiles() -> None:
    attn = MultiHeadAttention(8, num_heads=2, kdim=6, vdim=4).eval()
    q, k, v = torch.randn(3, 4, 8), torch.randn(3, 5, 6), torch.randn(3, 5, 4)
    allowed = torch.rand(3, 4, 5) > 0.3
    _same_as_eager(
        attn,
        lambda m: m(q, k, v, key_padding_mask=MASK, attn_mask=allowed),
    )


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_layer_compiles(norm_first: bool) -> None:
    layer = TransformerEncoderLayer(8, num_heads=2, ffn_dim=16, norm_first=norm_first).eval()
    x = torch.randn(3, 5, 8)
    _same_as_eager(layer, lambda m: m(x, MASK))


def test_decoder_layer_compiles() -> None:
    layer = TransformerDecoderLayer(8, num_heads=2, ffn_dim=16).eval()
    queries, memory = torch.randn(3, 2, 8), torch.randn(3, 5, 8)
    _same_as_eager(layer, lambda m: m(queries, memory, None, MASK))


def test_attentive_pooling_compiles() -> None:
    pool = AttentivePooling(8, hidden_dim=4)
    x = torch.randn(3, 5, 8)
    _same_as_eager(pool, lambda m: m(x, MASK))


def test_positional_encoding_compiles_without_growth() -> None:
    position = SinusoidalPositionalEncoding(8, max_len=16)
    x = torch.randn(2, 5, 8)
    _same_as_eager(position, lambda m: (m(x), m.encoding(5, torch.float64)))


def test_positional_encoding_grows_inside_a_compiled_graph() -> None:
    position = SinusoidalPositionalEncoding(8, max_len=4)
    x = torch.randn(2, 10, 8)
    _same_as_eager(position, lambda m: (m(x),))
    assert position.pe.shape[0] >= 10
