"""Spatial, channel-wise and temporal multi-head self-attention (Mocanu et al. 2023, eqs. 1–6).

The three modules are the same scaled dot-product self-attention with an output projection,
applied along a different axis of a CNN descriptor: its ``s = h·w`` positions, its ``m``
channels, or its ``N`` snippets. As in the paper there is no residual connection and no
normalisation around them; ``use_residual=True`` adds one for users who want it.
"""

from __future__ import annotations

import math

from einops import rearrange
from torch import Tensor, nn

from emofuse.layers import MultiHeadAttention, zero_padding


def _self_attention(d_model: int, num_heads: int, out_dim: int | None = None) -> MultiHeadAttention:
    # ceil(d_model / H) per head lets any width work (a 7×7 map gives s = 49 with 8 heads);
    # the output projection maps the H·ceil(d_model / H) concatenated heads back to out_dim.
    return MultiHeadAttention(
        d_model,
        num_heads=num_heads,
        head_dim=math.ceil(d_model / num_heads),
        out_dim=out_dim or d_model,
    )


class SpatialAttention(nn.Module):
    """Visual spatial (VS) self-attention over the ``s`` positions of a conv map (eqs. 1–3).

    Tokens are the positions, each a vector of the ``m`` channels; each head works in
    ``ceil(m / H)`` dims and ``W_0`` projects the concatenated heads back to ``m``.

    Args:
        d_model: channels ``m`` (token width).
        num_heads: heads ``H`` (paper: 8).
        use_residual: add the input to the output (not in the paper).

    Inputs:
        x: (B, s, m) positions × channels.
    Returns:
        D_VS (B, s, m).
    Records:
        ``attention``: (B, H, s, s).
    """

    def __init__(self, d_model: int, *, num_heads: int = 8, use_residual: bool = False) -> None:
        super().__init__()
        self.attention = _self_attention(d_model, num_heads)
        self.use_residual = use_residual

    def forward(self, x: Tensor) -> Tensor:
        out = self.attention(x)
        return x + out if self.use_residual else out


class ChannelAttention(nn.Module):
    """Visual channel-wise (VC) self-attention over the ``m`` channels (eqs. 4–5).

    The descriptor is transposed so that each channel is a token whose features are its ``s``
    spatial responses; each head works in ``ceil(s / H)`` dims and ``W_0`` (eq. 5) projects the
    concatenated heads back to ``s``, so ``s`` need not divide by ``H``.

    Args:
        num_positions: ``s = h·w`` (token width).
        num_heads: heads ``H`` (paper: 8).
        use_residual: add the input to the output (not in the paper).

    Inputs:
        x: (B, s, m) positions × channels (the layout :class:`SpatialAttention` returns).
    Returns:
        D_VC transposed back to (B, s, m).
    Records:
        ``attention``: (B, H, m, m).
    """

    def __init__(
        self, num_positions: int, *, num_heads: int = 8, use_residual: bool = False
    ) -> None:
        super().__init__()
        self.attention = _self_attention(num_positions, num_heads)
        self.use_residual = use_residual

    def forward(self, x: Tensor) -> Tensor:
        channels = rearrange(x, "b s m -> b m s")
        out = self.attention(channels)
        if self.use_residual:
            out = channels + out
        return rearrange(out, "b m s -> b s m")


class TemporalAttention(nn.Module):
    """Temporal (VT / AT) self-attention over the ``N`` snippets or audio segments (eq. 6).

    The concatenated heads are projected by ``W_o ∈ R^{m×m'}`` to the fused width ``m'``.
    Padded snippets are masked out of the keys.

    Args:
        d_model: input width ``m``.
        num_heads: heads ``H`` (paper: 8).
        out_dim: output width ``m'`` (default ``d_model``).
        use_residual: add the input to the output (not in the paper; needs ``out_dim == d_model``).

    Raises:
        ValueError: ``use_residual`` with ``out_dim != d_model``.

    Inputs:
        x: (B, N, m); mask: (B, N) bool, True = valid snippet.
    Returns:
        D_T (B, N, m').
    Records:
        ``attention``: (B, H, N, N).
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int = 8,
        out_dim: int | None = None,
        use_residual: bool = False,
    ) -> None:
        super().__init__()
        out_dim = out_dim or d_model
        if use_residual and out_dim != d_model:
            raise ValueError(
                f"use_residual: needs out_dim == d_model, got d_model={d_model} and "
                f"out_dim={out_dim}"
            )
        self.attention = _self_attention(d_model, num_heads, out_dim)
        self.use_residual = use_residual

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = zero_padding(x, mask)  # NaN or inf in padded snippets reach nothing
        out = self.attention(x, key_padding_mask=mask)
        return x + out if self.use_residual else out


__all__ = ["ChannelAttention", "SpatialAttention", "TemporalAttention"]
