"""Attention maps are recorded while a context is active, never returned
(:mod:`emofuse.layers.recording`)."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from torch import nn

import emofuse
from emofuse.layers import (
    MultiHeadAttention,
    TransformerEncoder,
    is_recording,
    record,
    record_attentions,
)
from emofuse.layers import recording as recording_module

VALID = torch.tensor([[True] * 5, [True, True, False, False, False], [False] * 5])


def test_recorded_map_equals_the_explicit_softmax() -> None:
    attn = MultiHeadAttention(8, num_heads=2).eval()
    q, k = torch.randn(3, 4, 8), torch.randn(3, 5, 8)
    with record_attentions(attn) as maps:
        out = attn(q, k, key_padding_mask=VALID)
    heads = lambda x: x.unflatten(-1, (2, 4)).transpose(1, 2)  # noqa: E731
    scores = heads(attn.q_proj(q)) @ heads(attn.k_proj(k)).transpose(-2, -1) / math.sqrt(4)
    want = scores.masked_fill(~VALID[:, None, None], -math.inf).softmax(-1)
    weights = maps["MultiHeadAttention"]
    assert weights.shape == (3, 2, 4, 5)
    torch.testing.assert_close(weights[:2], want[:2])
    assert (weights[2] == 0).all()  # an all-padding row: zeros, not NaN
    # the explicit path gives the fused kernel's output
    torch.testing.assert_close(out, attn(q, k, key_padding_mask=VALID), atol=1e-6, rtol=1e-5)


def test_recording_is_off_by_default_and_leaves_no_state() -> None:
    encoder = TransformerEncoder(8, num_layers=2, num_heads=2, ffn_dim=16).eval()
    x = torch.randn(2, 5, 8)
    assert not is_recording()
    with record_attentions(encoder) as maps:
        assert is_recording()
        encoder(x, VALID[:2])
    assert not is_recording() and len(maps) == 2
    encoder(x, VALID[:2])  # runs without recording: the finished dict does not grow
    assert len(maps) == 2
    with pytest.raises(RuntimeError, match="boom"), record_attentions(encoder):
        raise RuntimeError("boom")
    assert not is_recording()
    assert recording_module._recorders == [] and recording_module._unpackers == []


def test_keys_are_module_paths_of_the_recorded_root() -> None:
    outer = nn.ModuleDict(
        {"stack": TransformerEncoder(8, num_layers=2, num_heads=2, ffn_dim=16)}
    ).eval()
    x = torch.randn(2, 5, 8)
    with record_attentions(outer) as from_outer, record_attentions(outer["stack"]) as inner:
        outer["stack"](x)
    assert list(from_outer) == ["stack.layers.0.self_attn", "stack.layers.1.self_attn"]
    assert list(inner) == ["layers.0.self_attn", "layers.1.self_attn"]
    assert (
        dict(outer.named_modules())["stack.layers.0.self_attn"]
        is outer["stack"].layers[0].self_attn
    )
    # a module outside the recorded root records nothing there
    with record_attentions(outer["stack"].layers[1]) as only_second:
        outer["stack"](x)
    assert list(only_second) == ["self_attn"]


class _TwoMaps(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        record(self, x.softmax(-1), "first")
        record(self, x.softmax(-2), "second")
        return x


def test_suffixes_and_repeated_calls() -> None:
    module = nn.Sequential(_TwoMaps())
    x = torch.randn(2, 3)
    with record_attentions(module) as maps:
        module(x)
        module(2 * x)  # a second call keeps both
    assert list(maps) == ["0.first", "0.second", "0.first:1", "0.second:1"]
    torch.testing.assert_close(maps["0.first:1"], (2 * x).softmax(-1))


def test_return_attentions_is_added_once_by_the_model_base_class() -> None:
    model = emofuse.build("mcr_tiny").eval()
    inputs = model.example_inputs(batch_size=2)
    signature = inspect.signature(type(model).forward)
    assert signature.parameters["return_attentions"].default is False
    with torch.no_grad():
        plain, recorded = model(**inputs), model(**inputs, return_attentions=True)
    assert plain.attentions is None and recorded.attentions
    torch.testing.assert_close(recorded.logits, plain.logits)
    assert not is_recording()
