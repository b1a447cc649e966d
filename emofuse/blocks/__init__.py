"""Paper building blocks (fusion modules and the like), each usable on its own."""

from emofuse.blocks.cross_modal_transformer import (
    AttentiveSwishClassifier,
    CrossModalTransformer,
    ModalitySegmentEmbedding,
)

__all__: list[str] = []
__all__ += ["AttentiveSwishClassifier", "CrossModalTransformer", "ModalitySegmentEmbedding"]
