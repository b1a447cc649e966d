"""The output every emofuse model returns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor


@dataclass
class EmotionOutput(Mapping[str, Any]):
    """What a model's ``forward`` returns; also a read-only mapping of its non-``None`` fields.

    Attributes:
        logits: (B, num_classes), or (B, 1) for regression; pre-sigmoid / pre-softmax scores.
        embedding: (B, D) pooled multimodal representation, or ``None``.
        modality_logits: per-modality decisions ``{"audio": (B, K), ...}`` where the model
            makes them, else ``None``.
        attentions: only when ``return_attentions=True``: every map the model's modules
            recorded (:func:`emofuse.layers.record_attentions`), keyed by module path, plus a
            short suffix where a module records more than one (``"cmu.text.alpha"``).
            Attention maps are (B, heads, T_query, T_key), with the step axes first,
            (B, T, heads, T_query, T_key), for maps made per frame or snippet; fusion weights
            over modalities or branches are (B, M), pooling weights (B, T), SEM spatial maps
            (B, T, H, W). Each model card lists its keys.
    """

    logits: Tensor
    embedding: Tensor | None = None
    modality_logits: dict[str, Tensor] | None = None
    attentions: dict[str, Tensor] | None = None

    def __getitem__(self, key: str) -> Any:
        value = getattr(self, key) if key in self._names() else None
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._names() if getattr(self, name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @staticmethod
    def _names() -> tuple[str, ...]:
        return tuple(f.name for f in fields(EmotionOutput))


# Lets torch.export and torch.compile flatten the output like a tuple of tensors; the name
# lets an exported program that returns it be saved (torch.export.save).
torch.utils._pytree.register_dataclass(
    EmotionOutput, serialized_type_name="emofuse.outputs.EmotionOutput"
)
