"""Paper models, one file each; importing this package registers them.

Each model class and its config class are exported here, for type annotations, subclassing and
``isinstance`` checks; :func:`emofuse.build` builds them by registered name.
"""

from emofuse.models.av_attention_fusion import AVAttentionFusion, AVAttentionFusionConfig
from emofuse.models.base import EmotionModel, example_mask, trainable
from emofuse.models.colearning_transformer import (
    ColearningTransformer,
    ColearningTransformerConfig,
)
from emofuse.models.emotion_query_transformer import (
    EmotionQueryTransformer,
    EmotionQueryTransformerConfig,
)
from emofuse.models.mcr import MCR, MCRConfig
from emofuse.models.mer_sem_mbt import MerSemMbt, MerSemMbtConfig

__all__ = [
    "MCR",
    "AVAttentionFusion",
    "AVAttentionFusionConfig",
    "ColearningTransformer",
    "ColearningTransformerConfig",
    "EmotionModel",
    "EmotionQueryTransformer",
    "EmotionQueryTransformerConfig",
    "MCRConfig",
    "MerSemMbt",
    "MerSemMbtConfig",
    "example_mask",
    "trainable",
]
