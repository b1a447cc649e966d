"""The papers' training objectives, each as a function and as an ``nn.Module``."""

from emofuse.losses.av_attention_fusion import AVAttentionFusionLoss
from emofuse.losses.polarity_triplet import PolarityTripletLoss, polarity_triplet_loss

__all__: list[str] = []
__all__ += ["AVAttentionFusionLoss", "PolarityTripletLoss", "polarity_triplet_loss"]
