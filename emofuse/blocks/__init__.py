"""Paper building blocks (fusion modules and the like), each usable on its own."""

from emofuse.blocks.emotion_query import EmotionQueryDecoder, GroupWiseLinear
from emofuse.blocks.modality_reinforcement import (
    CrossMutualUnit,
    ModalityReinforcementLayer,
    SelfCrossUnit,
    SourceUpdate,
    source_modalities,
)
from emofuse.blocks.token_fusion import EarlyFusion, TokenFusionEncoder

__all__ = [
    "CrossMutualUnit",
    "EarlyFusion",
    "EmotionQueryDecoder",
    "GroupWiseLinear",
    "ModalityReinforcementLayer",
    "SelfCrossUnit",
    "SourceUpdate",
    "TokenFusionEncoder",
    "source_modalities",
]
