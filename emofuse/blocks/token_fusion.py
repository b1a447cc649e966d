"""Fusion of several modalities' token sequences: one transformer over their concatenation with
a classification token (Le et al. 2023, sec. III.B), and the early-fusion baseline it replaces
(table 5)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from emofuse.layers import SinusoidalPositionalEncoding, TransformerEncoder, masked_mean


class TokenFusionEncoder(nn.Module):
    """``F^0 = concat(E_cls, T, I, A)`` through ``L_e`` post-norm encoder layers (eqs. 3–4):
    ``F' = Norm(MSA(F) + F)``, ``F = Norm(FFN(F') + F')``. Every token attends to every valid
    token of every modality; the key-padding masks of the modalities are concatenated (the
    authors re-pack the tokens to drop padding, which this equals).

    Args:
        d_model: ``d`` (paper: 256); num_layers: ``L_e`` (paper: 2 on IEMOCAP, 4 on CMU-MOSEI);
        num_heads: heads (paper: 4); ffn_dim: FFN width (paper: 2048); dropout, activation.
        use_positional_encoding: add sinusoidal positions to each modality's tokens, counted
            within the modality (off in the paper and the authors' release).

    Inputs:
        sequences: M tensors (B, n_m, d_model); masks: M bools (B, n_m), True = valid.
    Returns:
        (F (B, 1 + Σ n_m, d_model) with the CLS token first, its mask (B, 1 + Σ n_m) with the CLS
        always valid).
    Records:
        ``encoder.layers.<i>.self_attn``: (B, heads, n_s, n_s) over ``[CLS; modalities]``.
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_layers: int,
        num_heads: int,
        ffn_dim: int,
        dropout: float = 0.1,
        activation: str = "relu",
        use_positional_encoding: bool = False,
    ) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, d_model))  # as nn.Embedding initialises it
        self.position = SinusoidalPositionalEncoding(d_model) if use_positional_encoding else None
        self.encoder = TransformerEncoder(
            d_model,
            num_layers=num_layers,
            num_heads=num_heads,
            ffn_dim=ffn_dim,
            norm_first=False,
            dropout=dropout,
            activation=activation,
        )

    def forward(
        self, sequences: Sequence[Tensor], masks: Sequence[Tensor]
    ) -> tuple[Tensor, Tensor]:
        if self.position is not None:
            sequences = [self.position(x) for x in sequences]
        batch = sequences[0].shape[0]
        cls = self.cls_token.expand(batch, -1, -1).to(sequences[0].dtype)
        tokens = torch.cat([cls, *sequences], dim=1)
        mask = torch.cat([masks[0].new_ones(batch, 1), *masks], dim=1)
        return self.encoder(tokens, mask), mask


class EarlyFusion(nn.Module):
    """The early-fusion baseline of Le et al. 2023 (table 5; "concatenated high-level features
    from all modalities", sec. I): each modality is pooled over its valid steps and the M
    vectors are stacked, with no interaction between modalities before the classifier.

    Inputs:
        sequences: M tensors (B, n_m, d_model); masks: M bools (B, n_m), True = valid.
    Returns:
        (the pooled modalities (B, M, d_model), their mask (B, M), True where the modality has a
        valid step). Flattened, the first output is the concatenated feature vector.
    """

    def forward(
        self, sequences: Sequence[Tensor], masks: Sequence[Tensor]
    ) -> tuple[Tensor, Tensor]:
        pooled = torch.stack([masked_mean(x, m) for x, m in zip(sequences, masks, strict=True)], 1)
        present = torch.stack([m.any(1) for m in masks], 1)
        return pooled, present


__all__ = ["EarlyFusion", "TokenFusionEncoder"]
