"""Paper models, one file each; importing this package registers them."""

from emofuse.models import mer_sem_mbt  # noqa: F401  (registers mer_sem_mbt*)
from emofuse.models.base import EmotionModel, example_mask, trainable

__all__ = ["EmotionModel", "example_mask", "trainable"]
