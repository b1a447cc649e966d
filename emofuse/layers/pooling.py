"""Pooling a masked sequence into one vector."""

from __future__ import annotations

from torch import Tensor, nn

from emofuse.layers.functional import masked_mean, masked_softmax, zero_padding
from emofuse.layers.recording import record


class MaskedMeanPool(nn.Module):
    """Mean over valid steps. Inputs: x (B, T, D), mask (B, T) bool. Returns (B, D); an
    all-padding row gives zeros."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return masked_mean(x, mask, dim=1)


class AttentivePooling(nn.Module):
    """A learned score per step, softmax over the valid steps, weighted sum:
    ``a = softmax_t(wᵀ tanh(W x_t))``, ``y = Σ_t a_t x_t`` (``hidden_dim=None`` scores with one
    linear layer, ``a = softmax_t(wᵀ x_t + b)``).

    Args:
        d_model: feature width; hidden_dim: width of the scoring MLP, or None for a linear
            score.

    Inputs:
        x: (B, T, d_model); mask: (B, T) bool, True = valid.
    Returns:
        pooled (B, d_model); an all-padding row gives zeros. Padded steps never reach an output,
        even when they hold NaN or inf.
    Records:
        the pooling weights a (B, T), zeros at padded steps.
    """

    def __init__(self, d_model: int, *, hidden_dim: int | None = None) -> None:
        super().__init__()
        if hidden_dim is None:
            self.score: nn.Module = nn.Linear(d_model, 1)
        else:
            self.score = nn.Sequential(
                nn.Linear(d_model, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, 1)
            )

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = zero_padding(x, mask)  # NaN/inf in padding must reach neither output nor gradient
        weights = masked_softmax(self.score(x).squeeze(-1), mask, dim=-1)
        record(self, weights)
        return (weights.unsqueeze(-1) * x).sum(1)


__all__ = ["AttentivePooling", "MaskedMeanPool"]
