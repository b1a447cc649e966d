"""A sequence of frames (face crops, spectrogram chunks) encoded frame by frame by a CNN, projected
and then contextualised by a transformer (the visual and acoustic paths of Dai et al. 2021 that
Le et al. 2023 reuse, sec. III.A)."""

from __future__ import annotations

from torch import Tensor, nn

from emofuse.layers import MLP, SinusoidalPositionalEncoding, TransformerEncoder, run_on_valid_steps


class FrameSequenceEncoder(nn.Module):
    """``backbone`` on every valid frame of the batch in one call, a projection MLP
    (``Linear → ReLU → Linear``) to ``d_model``, then a post-norm transformer encoder over the
    frames of each sample.

    Args:
        backbone: maps (N, C, H, W) to (N, backbone_dim), e.g. :class:`VGGFeatures`.
        backbone_dim: its output width; hidden_dim: the projection's hidden width.
        d_model: output width ``d``; num_layers, num_heads, ffn_dim, dropout, activation: the
            transformer (paper: 2 or 4 layers, 4 heads, FFN 2048).
        use_positional_encoding: add sinusoidal positions before the transformer (off in the paper).

    Inputs:
        x: (B, T, C, H, W); mask: (B, T) bool, True = valid, or None.
    Returns:
        features (B, T, d_model). Valid steps never depend on padded ones.
    Records:
        ``encoder.layers.<i>.self_attn`` (B, heads, T, T), and whatever the backbone records.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        backbone_dim: int,
        hidden_dim: int,
        d_model: int,
        num_layers: int,
        num_heads: int,
        ffn_dim: int,
        dropout: float = 0.1,
        activation: str = "relu",
        use_positional_encoding: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.projection = MLP(backbone_dim, hidden_dims=[hidden_dim], out_dim=d_model)
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

    def embed_frames(self, frames: Tensor) -> Tensor:
        """(N, C, H, W) → (N, d_model): backbone and projection of single frames."""
        return self.projection(self.backbone(frames))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        h = run_on_valid_steps(self.embed_frames, x, mask)
        if self.position is not None:
            h = self.position(h)
        return self.encoder(h, mask)


__all__ = ["FrameSequenceEncoder"]
