"""The audio↔video exchanges compared as cross-modal encoders in table 5 of Xia et al. 2022:
the multimodal bottleneck transformer (MBT, after UMT, Liu et al. 2022), joint attention over the
concatenated streams (Vaswani et al. 2017) and bidirectional cross-attention (MulT, Tsai et al.
2019). Each keeps two streams and lets them exchange information; for one transformer over any
subset of concatenated modalities (Takashima et al. 2022) see
:mod:`emofuse.blocks.modality_subset_transformer`.

All three share one interface, so a model switches between them by name
(:func:`build_cross_modal`):

Inputs:
    audio: (B, Ta, d_model); video: (B, Tv, d_model); audio_mask: (B, Ta), video_mask: (B, Tv) bool,
    True = valid (None = all valid). Ta and Tv may differ.
Returns:
    (audio (B, Ta, d_model), video (B, Tv, d_model)). Outputs at valid steps never depend on padded
    steps, even when these hold NaN or inf. The attention maps of every layer are recorded
    (see each class).
"""

from __future__ import annotations

import math
from typing import Literal, cast, get_args

import torch
from torch import Tensor, nn

from emofuse.config import check_choice
from emofuse.layers import (
    FeedForward,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    TransformerEncoder,
    zero_padding,
)

MODALITIES = ("audio", "video")


class _BottleneckBranch(nn.Module):
    """One modality's weights in a bottleneck layer: compression, expansion and FFN."""

    def __init__(self, d_model: int, *, num_heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm_stream, self.norm_tokens = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.compress = MultiHeadAttention(d_model, num_heads=num_heads, dropout=dropout)
        self.norm_fused = nn.LayerNorm(d_model)
        self.expand = MultiHeadAttention(d_model, num_heads=num_heads, dropout=dropout)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, ffn_dim=ffn_dim, dropout=dropout)


class BottleneckTransformerLayer(nn.Module):
    """One two-stage exchange through the bottleneck tokens (Xia et al. 2022, sec. 3.2; UMT).

    For each modality m (separate weights per modality), with ``PE_m`` the sine-cosine table of
    m's own length, added to queries and keys only:

    1. compression: ``tokens += Σ_m MHA_m(q=LN(tokens), k=LN(x_m)+PE_m, v=LN(x_m))``, keys
       masked by m's padding mask;
    2. expansion: ``x_m += MHA'_m(q=LN(x_m)+PE_m, k=v=LN(tokens))`` (query: the stream before
       this layer's update);
    3. ``x_m += FFN_m(LN(x_m))``; the tokens have no FFN.

    No audio step attends to a video step: the tokens carry all cross-modal information.

    Inputs:
        streams: {"audio": (B, Ta, d_model), "video": (B, Tv, d_model)}; masks: the same keys,
        (B, T_m) bool or None; tokens: (B, N_b, d_model); positions: {m: (T_m, d_model)}.
    Returns:
        (streams, tokens), updated.
    Records:
        ``branches.<m>.compress`` (B, heads, N_b, T_m) and ``branches.<m>.expand``
        (B, heads, T_m, N_b) for m = audio, video.
    """

    def __init__(self, d_model: int, *, num_heads: int, ffn_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.branches = nn.ModuleDict(
            {
                m: _BottleneckBranch(d_model, num_heads=num_heads, ffn_dim=ffn_dim, dropout=dropout)
                for m in MODALITIES
            }
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        streams: dict[str, Tensor],
        masks: dict[str, Tensor | None],
        tokens: Tensor,
        positions: dict[str, Tensor],
    ) -> tuple[dict[str, Tensor], Tensor]:
        branches = {m: cast(_BottleneckBranch, b) for m, b in self.branches.items()}
        streams = {m: zero_padding(x, masks[m]) for m, x in streams.items()}
        normed = {m: branches[m].norm_stream(x) for m, x in streams.items()}
        fused = tokens
        for m, branch in branches.items():
            context = branch.compress(
                branch.norm_tokens(tokens),
                normed[m] + positions[m],
                normed[m],
                key_padding_mask=masks[m],
            )
            fused = fused + self.dropout(context)  # tokens + att_audio + att_video, a sum
        out = {}
        for m, branch in branches.items():
            context = branch.expand(normed[m] + positions[m], branch.norm_fused(fused))
            x = streams[m] + self.dropout(context)
            out[m] = x + self.dropout(branch.ffn(branch.norm_ffn(x)))
        return out, fused


class BottleneckTransformer(nn.Module):
    """Multimodal bottleneck transformer (Xia et al. 2022, sec. 3.2 and fig. 3, after UMT).

    ``num_bottlenecks`` learnable tokens (init ``randn / sqrt(d_model)``) are expanded per batch,
    updated by ``num_layers`` :class:`BottleneckTransformerLayer` and discarded at the end.

    Args:
        d_model: d_m, the width of both streams (paper: 64).
        num_bottlenecks: N_b, the tokens that carry all audio↔video information (paper: 4).
        num_heads: attention heads (paper: 8).
        num_layers: bottleneck layers (paper: 1).
        ffn_dim: FFN hidden width (default ``4 * d_model``).
        dropout: on attention weights and residual branches.

    Inputs / Returns: see :mod:`emofuse.blocks.audio_visual_exchange`.
    Records:
        ``layers.<i>.branches.<m>.compress`` (B, heads, N_b, T_m) and
        ``layers.<i>.branches.<m>.expand`` (B, heads, T_m, N_b).
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_bottlenecks: int = 4,
        num_heads: int = 8,
        num_layers: int = 1,
        ffn_dim: int | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(num_bottlenecks, d_model) / math.sqrt(d_model))
        self.position = SinusoidalPositionalEncoding(d_model)
        self.layers = nn.ModuleList(
            BottleneckTransformerLayer(
                d_model, num_heads=num_heads, ffn_dim=ffn_dim or 4 * d_model, dropout=dropout
            )
            for _ in range(num_layers)
        )

    def forward(
        self,
        audio: Tensor,
        video: Tensor,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        audio, video = zero_padding(audio, audio_mask), zero_padding(video, video_mask)
        streams = {"audio": audio, "video": video}
        masks = {"audio": audio_mask, "video": video_mask}
        # each stream's positions come from its own length: audio and video may differ
        positions = {m: self.position.encoding(x.shape[1], x.dtype) for m, x in streams.items()}
        # a copy: a view of a parameter made under no_grad trips FlopCounterMode's module tracker
        tokens = self.tokens.repeat(audio.shape[0], 1, 1)
        for layer in self.layers:
            streams, tokens = layer(streams, masks, tokens, positions)
        return streams["audio"], streams["video"]


class JointTransformer(nn.Module):
    """Joint attention (table 5, "JointAtt"): one pre-norm transformer over the temporally
    concatenated streams ``[audio + PE_a; video + PE_v]``, masks concatenated alike, so every
    step attends to every valid step of both modalities.

    Args:
        d_model: width of both streams, as :class:`BottleneckTransformer`.
        num_heads: attention heads.
        num_layers: transformer layers.
        ffn_dim: FFN hidden width (default ``4 * d_model``).
        dropout: on attention weights and residual branches.

    Inputs / Returns: see :mod:`emofuse.blocks.audio_visual_exchange`.
    Records:
        ``encoder.layers.<i>.self_attn`` (B, heads, Ta + Tv, Ta + Tv).
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int = 8,
        num_layers: int = 1,
        ffn_dim: int | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.position = SinusoidalPositionalEncoding(d_model)
        self.encoder = TransformerEncoder(
            d_model,
            num_layers=num_layers,
            num_heads=num_heads,
            ffn_dim=ffn_dim or 4 * d_model,
            dropout=dropout,
            final_norm=False,
        )

    def forward(
        self,
        audio: Tensor,
        video: Tensor,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        ta = audio.shape[1]
        audio, video = zero_padding(audio, audio_mask), zero_padding(video, video_mask)
        x = torch.cat([self.position(audio), self.position(video)], dim=1)
        mask = None
        if audio_mask is not None or video_mask is not None:
            mask = torch.cat([_full(audio_mask, audio), _full(video_mask, video)], dim=1)
        x = self.encoder(x, mask)
        return x[:, :ta], x[:, ta:]


class CrossModalLayer(nn.Module):
    """A MulT crossmodal layer (Tsai et al. 2019, sec. 3.2), pre-norm: the target attends to the
    source, ``x += MHA(q=LN(x), k=v=LN(source))``, then ``x += FFN(LN(x))``.

    Inputs:
        x: (B, Tx, d_model); source: (B, Ts, d_model); source_mask: (B, Ts) bool or None.
    Returns:
        x (B, Tx, d_model).
    Records:
        ``attention`` (B, heads, Tx, Ts).
    """

    def __init__(self, d_model: int, *, num_heads: int, ffn_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.norm_query, self.norm_source = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attention = MultiHeadAttention(d_model, num_heads=num_heads, dropout=dropout)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, ffn_dim=ffn_dim, dropout=dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, source: Tensor, source_mask: Tensor | None) -> Tensor:
        context = self.attention(
            self.norm_query(x), self.norm_source(source), key_padding_mask=source_mask
        )
        x = x + self.dropout(context)
        return x + self.dropout(self.ffn(self.norm_ffn(x)))


class BiCrossAttention(nn.Module):
    """Bidirectional cross-attention (table 5, "Bi-CrossAtt", MulT style): a branch of
    :class:`CrossModalLayer` s reinforcing audio with video (video → audio) and one reinforcing
    video with audio; every layer attends to the other modality's (position-encoded) input.

    Args:
        d_model: width of both streams, as :class:`BottleneckTransformer`.
        num_heads: attention heads.
        num_layers: transformer layers.
        ffn_dim: FFN hidden width (default ``4 * d_model``).
        dropout: on attention weights and residual branches.

    Inputs / Returns: see :mod:`emofuse.blocks.audio_visual_exchange`.
    Records:
        ``audio_from_video.<i>.attention`` (B, heads, Ta, Tv) and
        ``video_from_audio.<i>.attention`` (B, heads, Tv, Ta).
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int = 8,
        num_layers: int = 1,
        ffn_dim: int | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.position = SinusoidalPositionalEncoding(d_model)
        hidden = ffn_dim or 4 * d_model

        def branch() -> nn.ModuleList:
            return nn.ModuleList(
                CrossModalLayer(d_model, num_heads=num_heads, ffn_dim=hidden, dropout=dropout)
                for _ in range(num_layers)
            )

        self.audio_from_video, self.video_from_audio = branch(), branch()

    def forward(
        self,
        audio: Tensor,
        video: Tensor,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        audio, video = zero_padding(audio, audio_mask), zero_padding(video, video_mask)
        audio, video = self.position(audio), self.position(video)
        a, v = audio, video
        for layer in self.audio_from_video:
            a = layer(a, video, video_mask)
        for layer in self.video_from_audio:
            v = layer(v, audio, audio_mask)
        return a, v


def _full(mask: Tensor | None, x: Tensor) -> Tensor:
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask


CrossModalKind = Literal["mbt", "joint", "bicross", "none"]
CROSS_MODAL_ENCODERS: tuple[CrossModalKind, ...] = get_args(CrossModalKind)


def build_cross_modal(
    kind: str,
    *,
    d_model: int,
    num_heads: int = 8,
    num_layers: int = 1,
    num_bottlenecks: int = 4,
    ffn_dim: int | None = None,
    dropout: float = 0.1,
) -> nn.Module | None:
    """The cross-modal encoder named ``kind`` (one of :data:`CROSS_MODAL_ENCODERS`); ``"none"``
    gives ``None`` (no audio↔video interaction, the MER-SEM row of table 3). The other
    arguments are those of :class:`BottleneckTransformer` (``num_bottlenecks`` only for MBT).

    Raises:
        ValueError: an unknown ``kind``.
    """
    check_choice("cross_modal", kind, CROSS_MODAL_ENCODERS)
    if kind == "mbt":
        return BottleneckTransformer(
            d_model,
            num_bottlenecks=num_bottlenecks,
            num_heads=num_heads,
            num_layers=num_layers,
            ffn_dim=ffn_dim,
            dropout=dropout,
        )
    if kind == "joint":
        return JointTransformer(
            d_model, num_heads=num_heads, num_layers=num_layers, ffn_dim=ffn_dim, dropout=dropout
        )
    if kind == "bicross":
        return BiCrossAttention(
            d_model, num_heads=num_heads, num_layers=num_layers, ffn_dim=ffn_dim, dropout=dropout
        )
    return None


__all__ = [
    "CROSS_MODAL_ENCODERS",
    "BiCrossAttention",
    "BottleneckTransformer",
    "BottleneckTransformerLayer",
    "CrossModalKind",
    "CrossModalLayer",
    "JointTransformer",
    "build_cross_modal",
]
