"""NaN or inf in padded steps reaches no output and no gradient of the shared layers: masks
select (``torch.where``), never multiply (``0 · NaN = NaN``). Each case runs once with zeros and
once with NaN, inf and -inf in its padded steps; outputs, parameter gradients and input
gradients must be finite and equal. Masks pad at the start, in the middle and at the end, and
one row is all padding."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from helpers import PaddingCase, check_padding_case, padding_mask
from torch import Tensor

from emofuse.layers import (
    AttentivePooling,
    MaskedMeanPool,
    MultiHeadAttention,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    masked_mean,
    masked_softmax,
    zero_padding,
)

B, D = 4, 8


def _x(length: int, dim: int = D) -> Tensor:
    return torch.randn(B, length, dim)


def _seq(length: int) -> tuple[Tensor, Tensor]:
    return _x(length), padding_mask(length)


CASES: dict[str, Callable[[], PaddingCase]] = {
    "masked_mean": lambda: (None, [_seq(6)], lambda _, xs: masked_mean(xs[0], padding_mask(6))),
    "masked_mean_of_maps": lambda: (
        None,
        [(torch.randn(B, 5, 2, 3), padding_mask(5))],
        lambda _, xs: masked_mean(xs[0], padding_mask(5)),
    ),
    "masked_softmax": lambda: (
        None,
        [(torch.randn(B, 6), padding_mask(6))],
        lambda _, xs: masked_softmax(xs[0], padding_mask(6)),
    ),
    "zero_padding": lambda: (None, [_seq(6)], lambda _, xs: zero_padding(xs[0], padding_mask(6))),
    "MaskedMeanPool": lambda: (
        MaskedMeanPool(),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "AttentivePooling": lambda: (
        AttentivePooling(D),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "AttentivePooling_mlp": lambda: (
        AttentivePooling(D, hidden_dim=4),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "MultiHeadAttention_self": lambda: (
        MultiHeadAttention(D, num_heads=2),
        [_seq(6)],
        lambda m, xs: m(xs[0], key_padding_mask=padding_mask(6)),
    ),
    "MultiHeadAttention_cross": lambda: (
        MultiHeadAttention(D, num_heads=2, kdim=6, vdim=5),
        [(_x(3), None), (_x(7, 6), padding_mask(7)), (_x(7, 5), padding_mask(7))],
        lambda m, xs: m(xs[0], xs[1], xs[2], key_padding_mask=padding_mask(7)),
    ),
    "TransformerEncoderLayer_pre_norm": lambda: (
        TransformerEncoderLayer(D, num_heads=2, ffn_dim=16),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "TransformerEncoderLayer_post_norm": lambda: (
        TransformerEncoderLayer(D, num_heads=2, ffn_dim=16, norm_first=False),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "TransformerEncoder": lambda: (
        TransformerEncoder(D, num_layers=2, num_heads=2, ffn_dim=16),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "TransformerDecoderLayer": lambda: (
        TransformerDecoderLayer(D, num_heads=2, ffn_dim=16, norm_first=False),
        [_seq(5), _seq(6)],
        lambda m, xs: m(xs[0], xs[1], padding_mask(5), padding_mask(6)),
    ),
    "TransformerDecoder": lambda: (
        TransformerDecoder(D, num_layers=2, num_heads=2, ffn_dim=16),
        [(_x(3), None), _seq(6)],
        lambda m, xs: m(xs[0], xs[1], memory_mask=padding_mask(6)),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_nonfinite_padding_reaches_no_output_or_gradient(name: str) -> None:
    check_padding_case(CASES[name]())


def test_masked_mean_of_the_issue_example() -> None:
    x = torch.tensor([[1.0, 3.0, -float("inf")]])
    assert masked_mean(x, torch.tensor([[True, True, False]])).item() == 2.0
