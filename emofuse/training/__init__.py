"""Training utilities that work across models."""

from emofuse.training.colearning import (
    MODES,
    CoLearning,
    colearning_loss,
    drop_modalities,
    modality_subsets,
    multilabel_bce,
    subset_name,
)

__all__ = [
    "MODES",
    "CoLearning",
    "colearning_loss",
    "drop_modalities",
    "modality_subsets",
    "multilabel_bce",
    "subset_name",
]
