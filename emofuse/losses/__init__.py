"""The papers' training objectives, each as a function and as an ``nn.Module``."""

from emofuse.losses.av_attention_fusion import AVAttentionFusionLoss
from emofuse.losses.polarity_triplet import PolarityTripletLoss, polarity_triplet_loss
from emofuse.losses.weighted_bce import bce_pos_weight

__all__ = [
    "AVAttentionFusionLoss",
    "PolarityTripletLoss",
    "bce_pos_weight",
    "polarity_triplet_loss",
]
