"""emofuse: multimodal emotion recognition models, blocks and losses for PyTorch.

>>> import emofuse
>>> model = emofuse.build("mer_sem_mbt_tiny")
>>> out = model(**model.example_inputs(batch_size=2))
"""

from emofuse import labels
from emofuse.config import ModelConfig
from emofuse.models import EmotionModel
from emofuse.outputs import EmotionOutput
from emofuse.registry import (
    Citation,
    build,
    default_config,
    list_models,
    load,
    model_info,
    register_model,
)

__version__ = "0.2.0"

__all__ = [
    "Citation",
    "EmotionModel",
    "EmotionOutput",
    "ModelConfig",
    "__version__",
    "build",
    "default_config",
    "labels",
    "list_models",
    "load",
    "model_info",
    "register_model",
]
