"""Paper models, one file each; importing this package registers them."""

from emofuse.models import colearning_transformer  # noqa: F401
from emofuse.models.base import EmotionModel, example_mask, trainable

__all__ = ["EmotionModel", "example_mask", "trainable"]
