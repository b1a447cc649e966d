"""Paper building blocks (fusion modules and the like), each usable on its own."""

from emofuse.blocks.modality_reinforcement import (
    CrossMutualUnit,
    ModalityReinforcementLayer,
    SelfCrossUnit,
    SourceUpdate,
    source_modalities,
)

__all__: list[str] = []
__all__ += [
    "CrossMutualUnit",
    "ModalityReinforcementLayer",
    "SelfCrossUnit",
    "SourceUpdate",
    "source_modalities",
]
