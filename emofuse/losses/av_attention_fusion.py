"""The default training objective of ``av_attention_fusion`` (Mocanu et al. 2023, sec. 3.4)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from emofuse.losses.polarity_triplet import Mining, PolarityTripletLoss
from emofuse.outputs import EmotionOutput


class AVAttentionFusionLoss(nn.Module):
    """Cross-entropy on the logits plus the polarity triplet loss on the embedding.

    The paper trains the classifier and the emotion metric loss (eq. 16) end to end without
    saying how they combine; read here as their sum ``CE + triplet_weight · L_emotion``, with
    weight 1 by default since the paper ranks neither term above the other.

    Args:
        polarities: polarity (+1, −1, 0) of each class, or
        label_names: class names (e.g. ``model.config.label_names``); exactly one of the two.
        triplet_weight: weight of the triplet term (default 1).
        alpha: passed to :class:`PolarityTripletLoss`.
        beta: passed to :class:`PolarityTripletLoss`.
        mining: passed to :class:`PolarityTripletLoss`.
        normalize: passed to :class:`PolarityTripletLoss`.

    Inputs:
        output: the model's :class:`EmotionOutput` (logits (B, K), embedding (B, D));
        labels: (B,) class indices.
    Returns:
        a scalar loss; 0 with a zero, finite gradient for an empty batch (B = 0).
    Raises:
        ValueError: when ``output`` has no embedding, its logits are not (B, K) with one class
            per polarity, or ``labels`` is not (B,) class indices in [0, K) (see
            :func:`~emofuse.losses.polarity_triplet_loss`).
    """

    def __init__(
        self,
        polarities: Sequence[int] | None = None,
        *,
        label_names: Sequence[str] | None = None,
        triplet_weight: float = 1.0,
        alpha: float = 0.2,
        beta: float = 0.2,
        mining: Mining = "all",
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.triplet = PolarityTripletLoss(
            polarities,
            label_names=label_names,
            alpha=alpha,
            beta=beta,
            mining=mining,
            normalize=normalize,
        )
        self.triplet_weight = triplet_weight

    def forward(self, output: EmotionOutput, labels: Tensor) -> Tensor:
        if output.embedding is None:
            raise ValueError("output: expected an EmotionOutput with an embedding (B, D)")
        logits, num_classes = output.logits, len(self.triplet.polarities)
        if logits.shape[-1:] != (num_classes,) or logits.shape[:-1] != output.embedding.shape[:1]:
            raise ValueError(
                f"output: expected logits (B, K) with K = {num_classes} (one per polarity) and "
                f"B of the embedding {tuple(output.embedding.shape)}, got logits "
                f"{tuple(logits.shape)}"
            )
        triplet = self.triplet(output.embedding, labels)  # checks the labels first
        # sum / count rather than "mean": the mean of no element is NaN, this is 0
        cross_entropy = F.cross_entropy(logits, labels, reduction="sum") / max(len(labels), 1)
        return cross_entropy + self.triplet_weight * triplet


__all__ = ["AVAttentionFusionLoss"]
