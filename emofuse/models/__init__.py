"""Paper models, one file each; importing this package registers them."""

# importing each model module registers its variants
from emofuse.models import (
    av_attention_fusion,
    colearning_transformer,
    emotion_query_transformer,
    mcr,
    mer_sem_mbt,
)
from emofuse.models.base import EmotionModel, example_mask, trainable

__all__ = ["EmotionModel", "example_mask", "trainable"]
