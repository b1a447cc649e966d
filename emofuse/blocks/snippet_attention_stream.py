"""One stream of Mocanu et al. 2023 (sec. 3.1–3.2, fig. 1): a CNN on every snippet, spatial and
channel-wise self-attention on its feature map, then temporal self-attention over the snippets."""

from __future__ import annotations

from einops import rearrange
from torch import Tensor, nn

from emofuse.blocks.axis_attention import ChannelAttention, SpatialAttention, TemporalAttention
from emofuse.layers import run_on_valid_steps


class SnippetAttentionStream(nn.Module):
    """A backbone on every valid snippet, then spatial (VS, eqs. 1–3) and channel-wise (VC,
    eqs. 4–5) self-attention on its map, a spatial mean, and temporal self-attention (VT / AT,
    eq. 6) over the snippets, projected to ``out_dim``. The video stream of the paper uses all
    three (on a 3D ResNet's conv5 map, its short time axis averaged first); the audio stream
    has a pooled 2D ResNet and the temporal attention only.

    Args:
        backbone: maps N snippets (N, ...) to a conv map (N, backbone_dim, [t,] h, w) when
            ``num_positions`` is given, or to vectors (N, backbone_dim) when it is None.
        backbone_dim: m, the backbone's output channels.
        out_dim: m', the output width (paper: 512).
        num_heads: heads H of every attention (paper: 8).
        num_positions: s = h·w of the backbone's map, or None for a pooled backbone (then no
            spatial or channel attention).
        use_spatial: the spatial attention (ablation switch of tables 1–2).
        use_channel: the channel attention (tables 1–2).
        use_temporal: the temporal attention (tables 1–2); without it a linear layer maps the
            snippet features to ``out_dim``.
        use_residual: a residual connection around each attention (not in the paper).

    Inputs:
        snippets: (B, N, ...) the backbone's input per snippet; mask: (B, N) bool, True = valid
        snippet, or None. Padded snippets never run through the backbone, so NaN or inf there
        reaches nothing; a training call with a single valid snippet runs the backbone's
        BatchNorm on its running statistics.
    Returns:
        D_T (B, N, out_dim).
    Records:
        ``spatial_attention.attention`` (B, N, H, s, s), ``channel_attention.attention``
        (B, N, H, m, m) (zeros at padded snippets) and ``temporal.attention`` (B, H, N, N).

    Raises:
        ValueError: spatial or channel attention asked for without ``num_positions``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        backbone_dim: int,
        out_dim: int,
        num_heads: int = 8,
        num_positions: int | None = None,
        use_spatial: bool = True,
        use_channel: bool = True,
        use_temporal: bool = True,
        use_residual: bool = False,
    ) -> None:
        super().__init__()
        if num_positions is None and (use_spatial or use_channel):
            raise ValueError(
                "num_positions: the spatial and channel attentions need the s = h·w positions "
                "of the backbone's map; got None (pass use_spatial=False, use_channel=False "
                "for a pooled backbone)"
            )
        self.backbone, self.backbone_dim = backbone, backbone_dim
        self.pooled_backbone = num_positions is None
        if use_spatial:
            self.spatial_attention = SpatialAttention(
                backbone_dim, num_heads=num_heads, use_residual=use_residual
            )
        if use_channel and num_positions is not None:  # not None: checked above
            self.channel_attention = ChannelAttention(
                num_positions, num_heads=num_heads, use_residual=use_residual
            )
        self.use_spatial, self.use_channel, self.use_temporal = (
            use_spatial,
            use_channel,
            use_temporal,
        )
        self.temporal: nn.Module = (
            TemporalAttention(
                backbone_dim, num_heads=num_heads, out_dim=out_dim, use_residual=use_residual
            )
            if use_temporal
            else nn.Linear(backbone_dim, out_dim)
        )

    def snippet_descriptor(self, snippets: Tensor) -> Tensor:
        """(N, ...) snippets → (N, backbone_dim): backbone, VS and VC attention, spatial mean."""
        x = self.backbone(snippets)
        if self.pooled_backbone:
            return x
        if x.dim() == 5:  # a 3D CNN's conv5 map keeps a short time axis: average it
            x = x.mean(2)
        x = rearrange(x, "n m h w -> n (h w) m")
        if self.use_spatial:
            x = self.spatial_attention(x)
        if self.use_channel:
            x = self.channel_attention(x)
        return x.mean(1)  # spatial average pooling (sec. 3.1, temporal attention)

    def descriptors(self, snippets: Tensor, mask: Tensor | None = None) -> Tensor:
        """The first stage: (B, N, ...) snippets → (B, N, backbone_dim) descriptors, zeros at
        padded snippets (which never run through the backbone)."""
        # one valid snippet in a training batch: the backbone's BatchNorm uses running stats
        return run_on_valid_steps(self.snippet_descriptor, snippets, mask, module=self.backbone)

    def aggregate(self, descriptors: Tensor, mask: Tensor | None = None) -> Tensor:
        """The second stage: (B, N, backbone_dim) descriptors → D_T (B, N, out_dim), the
        temporal attention over the valid snippets (or the ablation's linear map)."""
        if not self.use_temporal:
            return self.temporal(descriptors)  # the ablation's linear map to m'
        return self.temporal(descriptors, mask)

    def forward(self, snippets: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.aggregate(self.descriptors(snippets, mask), mask)


__all__ = ["SnippetAttentionStream"]
