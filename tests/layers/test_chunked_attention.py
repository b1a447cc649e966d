"""The CPU attention kernel with dropout (emofuse.layers.chunked_attention): the formula, its
gradient (checked numerically with dropout on), its dropout statistics, what it keeps for the
backward pass, and that the attention layers take it in training."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from emofuse.layers import MultiHeadAttention, chunked_attention, scaled_dot_product
from emofuse.layers.chunked_attention import chunked_dropout_attention


def _qkv(b: int = 2, h: int = 3, t: int = 4, s: int = 6, d: int = 5) -> list[Tensor]:
    return [torch.randn(b, h, n, d, dtype=torch.float64, requires_grad=True) for n in (t, s, s)]


def _key_bias(b: int, s: int, lengths: list[int]) -> Tensor:
    valid = torch.arange(s)[None] < torch.tensor(lengths)[:, None]
    bias = torch.randn(b, 1, 1, s, dtype=torch.float64, requires_grad=True)
    return bias, torch.where(valid[:, None, None, :], bias, float("-inf"))


@pytest.fixture(params=[1 << 18, 7], ids=["one chunk", "many chunks"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(chunked_attention, "CHUNK_ELEMENTS", request.param)
    return request.param


def test_equals_the_formula_when_nothing_is_dropped(chunk: int) -> None:
    q, k, v = _qkv()
    bias, key_bias = _key_bias(2, 6, [6, 2])
    out = chunked_dropout_attention(q, k, v, key_bias=key_bias, dropout_p=1e-300, scale=0.3)
    expected = (q @ k.transpose(-2, -1) * 0.3 + key_bias).softmax(-1) @ v
    torch.testing.assert_close(out, expected, atol=1e-14, rtol=1e-12)
    weight = torch.randn_like(out)
    grads = torch.autograd.grad((out * weight).sum(), (q, k, v, bias), retain_graph=True)
    expected_grads = torch.autograd.grad((expected * weight).sum(), (q, k, v, bias))
    for grad, ref in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, ref, atol=1e-14, rtol=1e-12)


def test_gradient_with_dropout_matches_finite_differences(chunk: int) -> None:
    """The backward pass redraws the forward pass's mask: with the seed fixed per call, the
    analytic gradient equals the numerical one of the dropped-out function."""
    q, k, v = _qkv(b=2, h=2, t=3, s=4, d=2)
    bias, _ = _key_bias(2, 4, [4, 3])
    valid = torch.tensor([[True] * 4, [True] * 3 + [False]])[:, None, None, :]

    def attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor, p: float = 0.4) -> Tensor:
        torch.manual_seed(3)
        key_bias = torch.where(valid, bias, float("-inf"))
        return chunked_dropout_attention(q, k, v, key_bias=key_bias, dropout_p=p, scale=0.7)

    assert not torch.allclose(attend(q, k, v, bias), attend(q, k, v, bias, p=1e-300))
    assert torch.autograd.gradcheck(attend, (q, k, v, bias))


def test_dropout_statistics() -> None:
    """Uniform weights over S keys and one-hot values make the output the dropped weights
    themselves: each is 0 with probability p and 1 / (S (1 − p)) otherwise."""
    b, h, t, s, p = 4, 4, 64, 128, 0.3
    q = torch.zeros(b, h, t, 8)
    k = torch.randn(b, h, s, 8)
    v = torch.eye(s).expand(b, h, s, s)
    out = chunked_dropout_attention(q, k, v, key_bias=None, dropout_p=p, scale=1.0)
    kept = 1.0 / (s * (1 - p))
    assert (
        torch.isclose(out, torch.zeros(())).logical_or(torch.isclose(out, torch.tensor(kept))).all()
    )
    dropped = (out == 0).double().mean().item()
    n = out.numel()
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert abs(out.mean().item() - 1 / s) < 5 * kept * math.sqrt(p * (1 - p) / n)
    # independent over queries, heads and calls
    again = chunked_dropout_attention(q, k, v, key_bias=None, dropout_p=p, scale=1.0)
    assert not torch.equal(out, again)
    assert not torch.equal(out[0, 0, 0], out[0, 0, 1]) and not torch.equal(out[0, 0], out[0, 1])


def test_keeps_one_byte_per_pair_for_the_backward_pass() -> None:
    """Saved for the backward pass: q, k, v, the output, a bias per key and the dropout mask
    as bool; no float map of size T_q · T_k (the textbook formula keeps three)."""
    q, k, v = (torch.randn(2, 2, 64, 4, requires_grad=True) for _ in range(3))
    mask = torch.ones(2, 1, 1, 64, dtype=torch.bool)
    saved: list[Tensor] = []

    def pack(x: Tensor) -> Tensor:
        saved.append(x)
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        out = scaled_dot_product(q, k, v, mask=mask, dropout_p=0.1)
    out.sum().backward()
    maps = [x for x in saved if x.numel() >= 64 * 64]
    assert [x.dtype for x in maps] == [torch.bool]
    assert sum(x.numel() * x.element_size() for x in saved) < 3 * 2 * 2 * 64 * 64


def test_training_attention_uses_the_kernel_and_ignores_padding() -> None:
    """MultiHeadAttention in training on a CPU: padded keys (NaN there too) change nothing, a
    query without keys gets a zero context, gradients stay finite."""
    attn = MultiHeadAttention(8, num_heads=2, dropout=0.5).train()
    x = torch.randn(3, 5, 8)
    valid = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    poisoned = torch.where(valid[..., None], x, float("nan"))
    torch.manual_seed(1)
    out = attn(x, key_padding_mask=valid)
    torch.manual_seed(1)
    again = attn(poisoned.requires_grad_(), key_padding_mask=valid)
    torch.testing.assert_close(again[:2, :2], out[:2, :2])
    torch.testing.assert_close(again[2], attn.out_proj.bias.expand(5, 8))
    again[valid].sum().backward()
    assert all(p.grad.isfinite().all() for p in attn.parameters())
    torch.manual_seed(1)
    assert not torch.allclose(
        attn(x, key_padding_mask=valid), attn.eval()(x, key_padding_mask=valid)
    )


def test_expected_output_is_the_output_without_dropout() -> None:
    q = torch.randn(1, 2, 3, 4, dtype=torch.float64)
    k, v = (torch.randn(1, 2, 4, 4, dtype=torch.float64) for _ in range(2))
    mask = torch.tensor([True, True, False, True])[None, None, None, :].expand(1, 1, 1, 4)
    expected = scaled_dot_product(q, k, v, mask=mask)
    draws = torch.stack(
        [scaled_dot_product(q, k, v, mask=mask, dropout_p=0.2) for _ in range(4000)]
    )
    spread = draws.std(0) / math.sqrt(len(draws))
    assert ((draws.mean(0) - expected).abs() <= 5 * spread + 1e-12).all()
    expected_sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(expected, expected_sdpa)
