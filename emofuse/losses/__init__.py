"""The papers' training objectives, each as a function and as an ``nn.Module``."""

from emofuse.losses.weighted_bce import bce_pos_weight

__all__ = ["bce_pos_weight"]
