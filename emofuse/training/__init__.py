"""Training utilities that work across models."""

from emofuse.training.colearning import (
    CoLearning,
    colearning_loss,
    drop_modalities,
    modality_subsets,
    multilabel_bce,
)

__all__: list[str] = []
__all__ += [
    "CoLearning",
    "colearning_loss",
    "drop_modalities",
    "modality_subsets",
    "multilabel_bce",
]
