"""One transformer over the concatenation of any non-empty subset of modalities (the cross-modal
transformer of Takashima et al. 2022, sec. 3.1, eqs. 7 and 11–13), and the attentive Swish
classifier on top of it (eqs. 14–16). For encoders that keep an audio and a video stream and
exchange information between them (Xia et al. 2022) see
:mod:`emofuse.blocks.audio_visual_exchange`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from emofuse.layers import AttentivePooling, TransformerEncoder, get_activation


class ModalitySegmentEmbedding(nn.Module):
    """One learned vector per modality, added to every step of that modality's sequence
    (``AddAudioSegment``/``AddVisualSegment``, eqs. 7 and 11; like BERT's segment embeddings),
    so that the shared cross-modal encoder can tell the modalities apart.

    Args:
        modalities: names, e.g. ``("audio", "video")``.
        d_model: feature width.

    Inputs:
        x: (B, T, d_model); modality: one of ``modalities``.
    Returns:
        (B, T, d_model).
    """

    def __init__(self, modalities: Sequence[str], *, d_model: int) -> None:
        super().__init__()
        self.modalities = tuple(modalities)
        self.embedding = nn.Parameter(torch.empty(len(self.modalities), d_model))
        nn.init.trunc_normal_(self.embedding, std=0.02)

    def forward(self, x: Tensor, modality: str) -> Tensor:
        return x + self.embedding[self.modalities.index(modality)]


class CrossModalTransformer(nn.Module):
    """The cross-modal encoder of Takashima et al. 2022 (eqs. 12–13): each given modality gets
    its segment embedding (eqs. 7, 11), the given sequences are concatenated along time, and
    transformer encoder blocks run over the result. With two modalities the blocks model
    audio–visual interaction; with one they map it into the shared cross-modal space. The
    same weights serve every non-empty subset of ``modalities``.

    Args:
        modalities: names in concatenation order (paper: ``("audio", "video")``).
        d_model: transformer width (paper: 128).
        num_heads: attention heads (paper: 4).
        ffn_dim: feed-forward hidden width (paper: 512).
        num_layers: transformer blocks (paper: 2).
        dropout: inside the blocks (paper: 0.1).
        activation: of the feed-forward networks (paper: ``"swish"``).
        norm_first: pre-norm blocks.

    Inputs:
        streams: ``{modality: (x (B, T_m, d_model), mask (B, T_m) bool)}`` for a non-empty subset
        of ``modalities``.
    Returns:
        (z (B, ΣT_m, d_model), mask (B, ΣT_m) bool). Steps follow the order of ``modalities``;
        padded steps never reach a valid one.
    Records:
        ``encoder.layers.<i>.self_attn`` (B, heads, ΣT_m, ΣT_m).

    Raises:
        ValueError: (forward) ``streams`` empty or naming a modality not in ``modalities``.
    """

    def __init__(
        self,
        modalities: Sequence[str],
        *,
        d_model: int,
        num_heads: int,
        ffn_dim: int,
        num_layers: int,
        dropout: float = 0.1,
        activation: str = "swish",
        norm_first: bool = True,
    ) -> None:
        super().__init__()
        self.segment = ModalitySegmentEmbedding(modalities, d_model=d_model)
        self.encoder = TransformerEncoder(
            d_model,
            num_layers=num_layers,
            num_heads=num_heads,
            ffn_dim=ffn_dim,
            dropout=dropout,
            activation=activation,
            norm_first=norm_first,
        )

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.segment.modalities

    def forward(self, streams: Mapping[str, tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        unknown = sorted(set(streams) - set(self.modalities))
        if not streams or unknown:
            raise ValueError(
                f"streams: expected a non-empty subset of {list(self.modalities)}, "
                f"got {list(streams)}"
            )
        given = [m for m in self.modalities if m in streams]
        z0 = torch.cat([self.segment(streams[m][0], m) for m in given], dim=1)  # eq. 12
        mask = torch.cat([streams[m][1] for m in given], dim=1)
        return self.encoder(z0, mask), mask  # eq. 13


class AttentiveSwishClassifier(nn.Module):
    """The multi-label classifier of Takashima et al. 2022 (eqs. 14–16): attentive pooling over
    the valid steps, a linear layer with Swish, and a linear output layer (the sigmoid of
    eq. 16 is left to the loss, which takes logits).

    Args:
        d_model: input width.
        num_classes: outputs (paper: 6).
        hidden_dim: width of the Swish layer (default ``d_model``).
        dropout: after the Swish layer.

    Inputs:
        z: (B, T, d_model); mask: (B, T) bool, True = valid.
    Returns:
        (logits (B, num_classes), pooled o (B, d_model)); an all-padding row pools to zeros.
    Records:
        ``pool``: the pooling weights (B, T).
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_classes: int,
        hidden_dim: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        hidden_dim = hidden_dim or d_model
        self.pool = AttentivePooling(d_model)  # eq. 14
        self.hidden = nn.Sequential(
            nn.Linear(d_model, hidden_dim), get_activation("swish"), nn.Dropout(dropout)
        )  # eq. 15
        self.out = nn.Linear(hidden_dim, num_classes)  # eq. 16 before the sigmoid

    def forward(self, z: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        pooled = self.pool(z, mask)
        return self.out(self.hidden(pooled)), pooled


__all__ = ["AttentiveSwishClassifier", "CrossModalTransformer", "ModalitySegmentEmbedding"]
