"""Paper building blocks (fusion modules and the like), each usable on its own."""

from emofuse.blocks.audio_visual_exchange import (
    CROSS_MODAL_ENCODERS,
    BiCrossAttention,
    BottleneckTransformer,
    BottleneckTransformerLayer,
    CrossModalLayer,
    JointTransformer,
    build_cross_modal,
)
from emofuse.blocks.axis_attention import ChannelAttention, SpatialAttention, TemporalAttention
from emofuse.blocks.cross_correlation import CrossCorrelationFusion
from emofuse.blocks.decision_fusion import AttentiveDecisionFusion
from emofuse.blocks.emotion_query import EmotionQueryDecoder, GroupWiseLinear
from emofuse.blocks.modality_reinforcement import (
    SOURCE_UPDATES,
    STRUCTURES,
    CrossMutualUnit,
    ModalityReinforcementLayer,
    ModalityReinforcementStack,
    SelfCrossUnit,
    SourceUpdate,
    source_modalities,
)
from emofuse.blocks.modality_subset_transformer import (
    AttentiveSwishClassifier,
    CrossModalTransformer,
    ModalitySegmentEmbedding,
)
from emofuse.blocks.semantic_enhancement import SemanticEnhancedBackbone, SemanticEnhancement
from emofuse.blocks.snippet_attention_stream import SnippetAttentionStream
from emofuse.blocks.token_fusion import EarlyFusion, TokenFusionEncoder

__all__ = [
    "CROSS_MODAL_ENCODERS",
    "SOURCE_UPDATES",
    "STRUCTURES",
    "AttentiveDecisionFusion",
    "AttentiveSwishClassifier",
    "BiCrossAttention",
    "BottleneckTransformer",
    "BottleneckTransformerLayer",
    "ChannelAttention",
    "CrossCorrelationFusion",
    "CrossModalLayer",
    "CrossModalTransformer",
    "CrossMutualUnit",
    "EarlyFusion",
    "EmotionQueryDecoder",
    "GroupWiseLinear",
    "JointTransformer",
    "ModalityReinforcementLayer",
    "ModalityReinforcementStack",
    "ModalitySegmentEmbedding",
    "SelfCrossUnit",
    "SemanticEnhancedBackbone",
    "SemanticEnhancement",
    "SnippetAttentionStream",
    "SourceUpdate",
    "SpatialAttention",
    "TemporalAttention",
    "TokenFusionEncoder",
    "build_cross_modal",
    "source_modalities",
]
