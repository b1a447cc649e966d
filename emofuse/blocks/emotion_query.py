"""Emotion-level embedding: learned emotion queries decoded over a fused sequence, and the
group-wise linear head that scores each emotion from its own vector (Le et al. 2023, sec. III.C,
after Query2Label, Liu et al. 2021)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from emofuse.layers import TransformerDecoder


class EmotionQueryDecoder(nn.Module):
    """``C`` learned emotion queries ``E_0`` refined by ``N_d`` post-norm decoder layers that
    attend to a memory ``F`` (Le et al. 2023, eqs. 5–7):

    ``E' = Norm(E + MHA(E, E, E))``, ``E'' = Norm(E' + MHA(E', F, F))``,
    ``E = Norm(E'' + FFN(E''))``.

    Args:
        num_queries: ``C``, one query per emotion class.
        d_model: ``d``, width of the queries and the memory (paper: 256).
        num_layers: ``N_d`` (paper: 2 on IEMOCAP, 4 on CMU-MOSEI).
        num_heads: attention heads (paper: 4); ffn_dim: FFN width (paper: 2048).
        dropout: dropout of the decoder layers; activation: FFN activation.

    Inputs:
        memory: (B, T, d_model) fused sequence; memory_mask: (B, T) bool, True = valid, or None.
    Returns:
        E (B, C, d_model). Padded memory steps never change ``E``; a row whose memory is all
        padding gets finite vectors (the queries attend to nothing).
    Records:
        ``decoder.layers.<i>.self_attn`` (B, heads, C, C) and ``decoder.layers.<i>.cross_attn``
        (B, heads, C, T): each emotion query's attention over the memory.
    """

    def __init__(
        self,
        num_queries: int,
        *,
        d_model: int,
        num_layers: int,
        num_heads: int,
        ffn_dim: int,
        dropout: float = 0.1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        # Randomly initialised and learned, as nn.Embedding initialises Query2Label's queries.
        self.queries = nn.Parameter(torch.randn(num_queries, d_model))
        self.decoder = TransformerDecoder(
            d_model,
            num_layers=num_layers,
            num_heads=num_heads,
            ffn_dim=ffn_dim,
            norm_first=False,
            dropout=dropout,
            activation=activation,
        )

    def forward(self, memory: Tensor, memory_mask: Tensor | None = None) -> Tensor:
        # a copy, not an expand view: under no_grad a view of a parameter still requires grad
        # without a grad_fn, which breaks module hooks such as FlopCounterMode's tracker
        queries = self.queries[None].repeat(memory.shape[0], 1, 1)
        return self.decoder(queries, memory, memory_mask=memory_mask)


class GroupWiseLinear(nn.Module):
    """One weight vector and bias per class: ``logit_c = <w_c, E_c> + b_c`` (the head of
    Le et al. 2023, fig. 1, as Query2Label's ``GroupWiseLinear``), vectorised over classes.

    Args:
        num_classes: ``C``; d_model: width of each class vector.

    Inputs:
        x: (B, C, d_model), one vector per class.
    Returns:
        logits (B, C).
    """

    def __init__(self, num_classes: int, *, d_model: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(d_model)  # nn.Linear's default range
        self.weight = nn.Parameter(torch.empty(num_classes, d_model).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(num_classes).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("bcd,cd->bc", x, self.weight) + self.bias


__all__ = ["EmotionQueryDecoder", "GroupWiseLinear"]
