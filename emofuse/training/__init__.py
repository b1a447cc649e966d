"""Training: the papers' recipes as data and one loop for every model (on Lightning Fabric).

- :class:`Recipe`, :func:`recipe_for`: each registered model's paper recipe, any field
  overridable (from Python or ``key=value`` strings).
- :func:`fit`: train with a recipe on one CPU or GPU, or several processes (DDP); the best
  model written with ``save_pretrained``, exact resume from the last checkpoint.
- :func:`fit_seeds`: one run per seed and their mean ± std.
- :class:`CoLearning`: Takashima et al.'s interactive co-learning (a recipe option).
"""

from emofuse.training.colearning import (
    MODES,
    CoLearning,
    colearning_loss,
    drop_modalities,
    modality_subsets,
    multilabel_bce,
    subset_name,
)
from emofuse.training.monitor import MONITORS, monitors_for
from emofuse.training.recipes import (
    PAPER_RECIPES,
    Recipe,
    parse_overrides,
    recipe_for,
)
from emofuse.training.trainer import FitResult, SeedTable, fit, fit_seeds

__all__ = [
    "MODES",
    "MONITORS",
    "PAPER_RECIPES",
    "CoLearning",
    "FitResult",
    "Recipe",
    "SeedTable",
    "colearning_loss",
    "drop_modalities",
    "fit",
    "fit_seeds",
    "modality_subsets",
    "monitors_for",
    "multilabel_bce",
    "parse_overrides",
    "recipe_for",
    "subset_name",
]
