"""The papers' training objectives, each as a function and as an ``nn.Module``.

Every loss here gives 0, with a zero and finite gradient, on an empty batch (B = 0).
"""

from emofuse.losses.av_attention_fusion import AVAttentionFusionLoss
from emofuse.losses.polarity_triplet import PolarityTripletLoss, polarity_triplet_loss
from emofuse.losses.weighted_bce import bce_pos_weight, multilabel_bce

__all__ = [
    "AVAttentionFusionLoss",
    "PolarityTripletLoss",
    "bce_pos_weight",
    "multilabel_bce",
    "polarity_triplet_loss",
]
