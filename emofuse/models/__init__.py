"""Paper models, one file each; importing this package registers them."""

from emofuse.models import av_attention_fusion  # noqa: F401  (registers av_attention_fusion*)
from emofuse.models.base import EmotionModel, example_mask, trainable

__all__ = ["EmotionModel", "example_mask", "trainable"]
