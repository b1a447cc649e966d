"""Semantic enhancement module (SEM): text-guided cross-attention on a CNN feature map
(Xia et al. 2022, sec. 3.1.4, eqs. 1–3)."""

from __future__ import annotations

import math

from einops import einsum, rearrange
from torch import Tensor, nn


class SemanticEnhancement(nn.Module):
    """Enrich a feature map with a sentence vector (Xia et al. 2022, fig. 2, eqs. 1–3).

    - eq. 1: ``Q = Conv1x1_q(F)`` (C→C), ``K = Linear_k(I_t)``, ``V = Linear_v(I_t)`` (d_t→C; a
      1×1 convolution of a vector is a linear map);
    - eq. 2: ``a = softmax_p(<Q[:, p], K> / sqrt(C))`` over the H·W spatial positions p (a
      softmax over the single key would be identically 1), ``E_att[:, p] = a_p · V``;
    - eq. 3: ``F' = ReLU(Conv1x1_o(F + LN(E_att)))`` where LN normalises over (C, H, W)
      together (``GroupNorm(1, C)``): a LayerNorm over C alone would cancel the weights ``a_p``.

    Args:
        channels: C, the feature map's channels.
        text_dim: d_t, the width of the text vector (768 for BERT-base).

    Inputs:
        feature_map: (N, C, H, W); text: (N, d_t).
    Returns:
        the enriched map (N, C, H, W); with ``return_attention=True`` also the spatial
        attention ``a`` (N, H, W), which sums to one over (H, W).
    """

    def __init__(self, channels: int, text_dim: int) -> None:
        super().__init__()
        self.query = nn.Conv2d(channels, channels, kernel_size=1)
        self.key = nn.Linear(text_dim, channels)
        self.value = nn.Linear(text_dim, channels)
        self.norm = nn.GroupNorm(1, channels)
        self.out = nn.Conv2d(channels, channels, kernel_size=1)
        self.relu = nn.ReLU()
        self.scale = 1.0 / math.sqrt(channels)

    def forward(
        self, feature_map: Tensor, text: Tensor, *, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        h, w = feature_map.shape[-2:]
        query = rearrange(self.query(feature_map), "n c h w -> n (h w) c")
        scores = einsum(query, self.key(text), "n p c, n c -> n p") * self.scale
        weights = scores.softmax(dim=-1)
        enhanced = einsum(weights, self.value(text), "n p, n c -> n c p")
        enhanced = rearrange(enhanced, "n c (h w) -> n c h w", h=h, w=w)
        out = self.relu(self.out(feature_map + self.norm(enhanced)))
        if return_attention:
            return out, rearrange(weights, "n (h w) -> n h w", h=h, w=w)
        return out


def apply_sem(
    slots: nn.ModuleDict, group: int, x: Tensor, text: Tensor | None, maps: list[Tensor] | None
) -> Tensor:
    """Run the SEM in ``slots[str(group)]`` on ``x`` when there is one (a backbone's SEM slots
    keyed by conv group), appending its attention map to ``maps`` when that is a list."""
    key = str(group)
    if key not in slots:
        return x
    if maps is None:
        return slots[key](x, text)
    x, attention = slots[key](x, text, return_attention=True)
    maps.append(attention)
    return x


__all__ = ["SemanticEnhancement", "apply_sem"]
