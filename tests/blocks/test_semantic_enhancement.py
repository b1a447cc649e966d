from __future__ import annotations

import math

import torch

from emofuse.blocks import SemanticEnhancement


def test_shapes_and_attention_sums_to_one_over_space() -> None:
    sem = SemanticEnhancement(8, 12)
    x, text = torch.randn(3, 8, 5, 7), torch.randn(3, 12)
    out, attention = sem(x, text, return_attention=True)
    assert out.shape == x.shape and attention.shape == (3, 5, 7)
    torch.testing.assert_close(attention.sum((1, 2)), torch.ones(3))
    assert (out >= 0).all()  # the ReLU of eq. 3
    torch.testing.assert_close(sem(x, text), out)


def test_equations_one_to_three_by_hand() -> None:
    sem = SemanticEnhancement(4, 6)
    x, text = torch.randn(2, 4, 3, 3), torch.randn(2, 6)
    q = torch.nn.functional.conv2d(x, sem.query.weight, sem.query.bias).flatten(2)  # (N, C, P)
    k, v = sem.key(text), sem.value(text)
    a = torch.softmax((q * k[:, :, None]).sum(1) / math.sqrt(4), dim=-1)  # over positions
    e = (v[:, :, None] * a[:, None, :]).reshape(2, 4, 3, 3)
    mean = e.mean((1, 2, 3), keepdim=True)
    var = e.var((1, 2, 3), unbiased=False, keepdim=True)
    ln = (e - mean) / torch.sqrt(var + sem.norm.eps)  # over (C, H, W) together
    ln = ln * sem.norm.weight[:, None, None] + sem.norm.bias[:, None, None]
    expected = torch.relu(sem.out(x + ln))
    out, attention = sem(x, text, return_attention=True)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(attention, a.reshape(2, 3, 3))


def test_text_changes_where_the_map_looks() -> None:
    sem = SemanticEnhancement(8, 4)
    x = torch.randn(1, 8, 4, 4)
    _, a1 = sem(x, torch.randn(1, 4), return_attention=True)
    _, a2 = sem(x, torch.randn(1, 4), return_attention=True)
    assert not torch.allclose(a1, a2)
    sem(x, torch.randn(1, 4)).sum().backward()
    assert all(p.grad is not None for p in sem.parameters())
