"""Paper building blocks (fusion modules and the like), each usable on its own."""

from emofuse.blocks.cross_modal import (
    CROSS_MODAL_ENCODERS,
    BiCrossAttention,
    BottleneckTransformer,
    BottleneckTransformerLayer,
    CrossModalLayer,
    JointTransformer,
    build_cross_modal,
)
from emofuse.blocks.decision_fusion import AttentiveDecisionFusion
from emofuse.blocks.semantic_enhancement import SemanticEnhancement

__all__: list[str] = []
__all__ += [
    "CROSS_MODAL_ENCODERS",
    "AttentiveDecisionFusion",
    "BiCrossAttention",
    "BottleneckTransformer",
    "BottleneckTransformerLayer",
    "CrossModalLayer",
    "JointTransformer",
    "SemanticEnhancement",
    "build_cross_modal",
]
