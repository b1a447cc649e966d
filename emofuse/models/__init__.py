"""Paper models, one file each; importing this package registers them."""

from emofuse.models import av_attention_fusion, emotion_query_transformer, mcr, mer_sem_mbt  # noqa: F401  (registers them)
from emofuse.models.base import EmotionModel, example_mask, trainable

__all__ = ["EmotionModel", "example_mask", "trainable"]
