"""Transformer encoder and decoder layers, pre-norm or post-norm, over boolean masks."""

from __future__ import annotations

from torch import Tensor, nn

from emofuse.layers.attention import MultiHeadAttention
from emofuse.layers.functional import zero_padding
from emofuse.layers.mlp import FeedForward


class TransformerEncoderLayer(nn.Module):
    """Self-attention and a feed-forward network, each with a residual (Vaswani et al. 2017).

    Post-norm: ``x = LN(x + Drop(MHA(x)))``, ``x = LN(x + Drop(FFN(x)))``.
    Pre-norm:  ``x = x + Drop(MHA(LN(x)))``, ``x = x + Drop(FFN(LN(x)))``.

    Args:
        d_model: model width; num_heads: attention heads; ffn_dim: hidden width of the FFN.
        dropout: on the residual branches and inside the FFN.
        attention_dropout: on the attention weights (default ``dropout``).
        activation: ``"relu"``, ``"gelu"`` or ``"swish"``.
        norm_first: pre-norm when True.

    Inputs:
        x: (B, T, d_model); mask: (B, T) bool, True = valid.
    Returns:
        x (B, T, d_model). Outputs at valid steps do not depend on padded steps, even when these
        hold NaN or inf; padded steps are finite on output.
    Records:
        ``self_attn``: (B, heads, T, T).
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        ffn_dim: int,
        dropout: float = 0.1,
        attention_dropout: float | None = None,
        activation: str = "relu",
        norm_first: bool = True,
    ) -> None:
        super().__init__()
        attn_drop = dropout if attention_dropout is None else attention_dropout
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads=num_heads, dropout=attn_drop)
        self.ffn = FeedForward(d_model, ffn_dim=ffn_dim, activation=activation, dropout=dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = zero_padding(x, mask)  # padded steps (even NaN) stay finite and reach nothing
        if self.norm_first:
            x = x + self.dropout1(self.self_attn(self.norm1(x), key_padding_mask=mask))
            x = x + self.dropout2(self.ffn(self.norm2(x)))
        else:
            x = self.norm1(x + self.dropout1(self.self_attn(x, key_padding_mask=mask)))
            x = self.norm2(x + self.dropout2(self.ffn(x)))
        return x


class TransformerDecoderLayer(nn.Module):
    """Self-attention over the targets, cross-attention to a memory, then an FFN (Vaswani et al.
    2017), pre-norm or post-norm as :class:`TransformerEncoderLayer`. No causal mask: every
    target (e.g. an emotion query) sees every other.

    Inputs:
        x: (B, Tq, d_model); memory: (B, Tm, d_model); mask: (B, Tq) bool or None;
        memory_mask: (B, Tm) bool, True = valid.
    Returns:
        x (B, Tq, d_model).
    Records:
        ``self_attn`` (B, heads, Tq, Tq) and ``cross_attn`` (B, heads, Tq, Tm).
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        ffn_dim: int,
        dropout: float = 0.1,
        attention_dropout: float | None = None,
        activation: str = "relu",
        norm_first: bool = True,
    ) -> None:
        super().__init__()
        attn_drop = dropout if attention_dropout is None else attention_dropout
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads=num_heads, dropout=attn_drop)
        self.cross_attn = MultiHeadAttention(d_model, num_heads=num_heads, dropout=attn_drop)
        self.ffn = FeedForward(d_model, ffn_dim=ffn_dim, activation=activation, dropout=dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
    ) -> Tensor:
        x = zero_padding(x, mask)  # padded steps (even NaN) stay finite and reach nothing

        def self_block(h: Tensor) -> Tensor:
            return self.dropout1(self.self_attn(h, key_padding_mask=mask))

        def cross_block(h: Tensor) -> Tensor:
            return self.dropout2(self.cross_attn(h, memory, key_padding_mask=memory_mask))

        if self.norm_first:
            x = x + self_block(self.norm1(x))
            x = x + cross_block(self.norm2(x))
            x = x + self.dropout3(self.ffn(self.norm3(x)))
        else:
            x = self.norm1(x + self_block(x))
            x = self.norm2(x + cross_block(x))
            x = self.norm3(x + self.dropout3(self.ffn(x)))
        return x


class _LayerStack(nn.Module):
    """``num_layers`` layers of ``layer_type`` and the final norm: the body of
    :class:`TransformerEncoder` and :class:`TransformerDecoder` (arguments as the encoder's)."""

    layer_type: type[TransformerEncoderLayer | TransformerDecoderLayer]

    def __init__(
        self,
        d_model: int,
        *,
        num_layers: int,
        num_heads: int,
        ffn_dim: int,
        dropout: float = 0.1,
        attention_dropout: float | None = None,
        activation: str = "relu",
        norm_first: bool = True,
        final_norm: bool | None = None,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            self.layer_type(
                d_model,
                num_heads=num_heads,
                ffn_dim=ffn_dim,
                dropout=dropout,
                attention_dropout=attention_dropout,
                activation=activation,
                norm_first=norm_first,
            )
            for _ in range(num_layers)
        )
        final_norm = norm_first if final_norm is None else final_norm
        self.norm = nn.LayerNorm(d_model) if final_norm and num_layers else nn.Identity()


class TransformerEncoder(_LayerStack):
    """A stack of ``num_layers`` freshly initialised :class:`TransformerEncoderLayer`, with a
    final LayerNorm when the layers are pre-norm (so the output is normalised either way).

    Args:
        d_model: width.
        num_layers: layers (``num_layers=0`` is the identity).
        num_heads: attention heads.
        ffn_dim: feed-forward hidden width.
        dropout: of each layer (see :class:`TransformerEncoderLayer`).
        attention_dropout: of each layer.
        activation: of each layer.
        norm_first: of each layer (pre-norm).
        final_norm: default ``norm_first``.

    Inputs:
        x: (B, T, d_model); mask: (B, T) bool, True = valid.
    Returns:
        x (B, T, d_model).
    Records:
        ``layers.<i>.self_attn`` (B, heads, T, T) for every layer.
    """

    layer_type = TransformerEncoderLayer

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = zero_padding(x, mask)  # padded steps (even NaN) stay finite and reach nothing
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)


class TransformerDecoder(_LayerStack):
    """A stack of :class:`TransformerDecoderLayer` over one memory, built like
    :class:`TransformerEncoder`.

    Args:
        d_model: as :class:`TransformerEncoder`.
        num_layers: as :class:`TransformerEncoder`.
        num_heads: as :class:`TransformerEncoder`.
        ffn_dim: as :class:`TransformerEncoder`.
        dropout: as :class:`TransformerEncoder`.
        attention_dropout: as :class:`TransformerEncoder`.
        activation: as :class:`TransformerEncoder`.
        norm_first: as :class:`TransformerEncoder`.
        final_norm: as :class:`TransformerEncoder`.

    Returns:
        x (B, Tq, d_model).
    Records:
        ``layers.<i>.self_attn`` (B, heads, Tq, Tq) and ``layers.<i>.cross_attn``
        (B, heads, Tq, Tm) for every layer.
    """

    layer_type = TransformerDecoderLayer

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
    ) -> Tensor:
        x = zero_padding(x, mask)  # padded steps (even NaN) stay finite and reach nothing
        for layer in self.layers:
            x = layer(x, memory, mask, memory_mask)
        return self.norm(x)


__all__ = [
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]
