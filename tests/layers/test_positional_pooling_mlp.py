from __future__ import annotations

import math

import torch

from emofuse.layers import (
    MLP,
    AttentivePooling,
    MaskedMeanPool,
    SinusoidalPositionalEncoding,
    record_attentions,
)
from emofuse.layers.functional import masked_mean, masked_softmax


def test_sinusoidal_values_match_the_formula() -> None:
    pe = SinusoidalPositionalEncoding(6, max_len=4).encoding(3)
    t, i = 2, 1
    assert math.isclose(pe[t, 2 * i].item(), math.sin(t / 10000 ** (2 * i / 6)), rel_tol=1e-5)
    assert math.isclose(pe[t, 2 * i + 1].item(), math.cos(t / 10000 ** (2 * i / 6)), rel_tol=1e-5)


def test_sinusoidal_grows_on_demand_and_is_not_saved() -> None:
    module = SinusoidalPositionalEncoding(7, max_len=4)
    short = module.encoding(4).clone()
    out = module(torch.zeros(1, 50, 7))
    assert out.shape == (1, 50, 7) and module.pe.shape[0] >= 50
    torch.testing.assert_close(module.encoding(4), short)
    assert "pe" not in module.state_dict()


def test_masked_mean_ignores_padding_and_empty_rows_give_zero() -> None:
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[5.0], [7.0], [9.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([[2.0], [0.0]]))
    torch.testing.assert_close(MaskedMeanPool()(x, mask), torch.tensor([[2.0], [0.0]]))


def test_masked_softmax_all_masked_is_zero() -> None:
    scores = torch.randn(2, 4)
    mask = torch.tensor([[True, False, True, False], [False] * 4])
    p = masked_softmax(scores, mask)
    torch.testing.assert_close(p.sum(-1), torch.tensor([1.0, 0.0]))
    assert (p[0, ~mask[0]] == 0).all()


def test_attentive_pooling_padding_invariance() -> None:
    pool = AttentivePooling(8, hidden_dim=4)
    x = torch.randn(2, 5, 8)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    with record_attentions(pool) as maps:
        pooled = pool(x, mask)
    weights = maps["AttentivePooling"]
    assert weights.shape == (2, 5) and (weights[1, 2:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    x_pad = torch.cat(
        [torch.where(mask[..., None], x, 9 * torch.randn_like(x)), torch.randn(2, 2, 8)], 1
    )
    mask_pad = torch.cat([mask, torch.zeros(2, 2, dtype=torch.bool)], 1)
    torch.testing.assert_close(pool(x_pad, mask_pad), pooled)
    with record_attentions(pool) as maps:
        empty = pool(x, torch.zeros(2, 5, dtype=torch.bool))
    assert (empty == 0).all() and (maps["AttentivePooling"] == 0).all()


def test_mlp_shapes_and_layers() -> None:
    mlp = MLP(8, hidden_dims=[16, 4], out_dim=3, activation="gelu", dropout=0.1)
    assert mlp(torch.randn(2, 7, 8)).shape == (2, 7, 3)
    assert sum(isinstance(m, torch.nn.Linear) for m in mlp) == 3
    assert MLP(8, hidden_dims=[], out_dim=2)(torch.randn(1, 8)).shape == (1, 2)
