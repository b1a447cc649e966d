"""Attentive decision fusion (Xia et al. 2022, sec. 3.3, eqs. 4–6)."""

from __future__ import annotations

import torch
from einops import einsum
from torch import Tensor, nn

from emofuse.layers import masked_softmax, record


class AttentiveDecisionFusion(nn.Module):
    """Weigh per-modality decisions by learned attention and sum them (eqs. 4–6).

    ``S_con = [S_1; …; S_K]`` stacks K modality decisions of M classes each;
    ``S' = tanh(W_1 S_con)`` with ``W_1`` (M×M) acting on the class axis (eq. 4);
    ``α = softmax_k(w_2ᵀ S'_k)`` with ``w_2 ∈ R^M``, one score per modality (eq. 5; the paper's
    ``W_2 ∈ R^{M×3}`` cannot give the α ∈ R^{1×3} it states, the vector reading can);
    ``output = S_con α`` (eq. 6). Works for any number of modalities (2 or 3 here).

    Args:
        num_classes: M.

    Inputs:
        decisions: (B, K, M), the K modality decisions (logits) stacked; mask: (B, K) bool,
        True = the modality is present in that row, or None (all present).
    Returns:
        fused logits (B, M). An absent modality takes no weight and its decision (even NaN)
        never reaches the output, so a row equals the fusion of its present modalities alone;
        a row with none present gives zero logits.
    Records:
        the weights α (B, K), summing to one over the present modalities (zeros for a row
        with none present).
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.project = nn.Linear(num_classes, num_classes, bias=False)  # W_1
        self.score = nn.Linear(num_classes, 1, bias=False)  # w_2

    def forward(self, decisions: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is not None:
            decisions = torch.where(mask[..., None], decisions, 0.0)
        scores = self.score(self.project(decisions).tanh()).squeeze(-1)
        weights = masked_softmax(scores, mask, dim=-1)
        record(self, weights)
        return einsum(decisions, weights, "b k m, b k -> b m")


__all__ = ["AttentiveDecisionFusion"]
