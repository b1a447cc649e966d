"""A synthetic emotion task for any model: learnable, cross-modal, with padding.

Each sample draws a label, then writes it into every input modality of the model: a fixed
pattern per class (per modality) added to noise at every valid step, or class keywords among
random filler tokens for token-id inputs. No single step, pixel or token carries the label
reliably; a model learns the task only by reading its inputs through its encoders, pooling over
valid steps, and (as every modality is noisy) gains from combining them.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from emofuse.models.base import EmotionModel
from emofuse.registry import build

_RESERVED_TOKENS = 5  # ids 0-4 are padding and special tokens in BERT-like vocabularies
_REGRESSION_RANGE = 3.0  # labels in [-3, 3], the CMU-MOSI / MOSEI sentiment scale


class SyntheticEmotion(Dataset[dict[str, Any]]):
    """Samples in a model's input layout whose label is encoded across all its modalities.

    Generated from ``model.input_specs`` and ``model.example_inputs``: every modality the model
    takes, with the example's per-step shape and time length. Per sample, each modality's time
    length is drawn in ``[ceil(min_length * T), T]`` (``collate`` pads it and builds the mask;
    pass ``lengths=dataset.fixed_lengths`` for models with ``fixed_lengths``).

    The label follows the model's ``config.task``:

    - ``"multiclass"``: ``y`` uniform in ``[0, K)``; every valid float step holds
      ``signal * P_m[y] + noise * N(0, 1)``, ``P_m`` a fixed unit-RMS pattern per class and
      modality (spatially smooth for images, so that a small CNN sees it).
    - ``"multilabel"``: ``y`` in ``{0, 1}^K``, each 1 with probability 1/2; steps hold
      ``signal * sum_k (2 y_k - 1) P_m[k] / sqrt(K)`` plus noise.
    - ``"regression"``: ``y`` uniform in ``[-3, 3]`` per target (the MOSI scale); steps hold
      ``signal * sum_k (y_k / 3) P_m[k]`` plus noise.

    Token ids (``kind="int"`` inputs): random filler ids with class keywords (ids reserved per
    class) at random positions: the class's keyword (multiclass), a positive or negative keyword
    per class (multilabel), the keyword of ``round(y)`` (regression).

    The patterns and keywords depend only on the layout and ``pattern_seed``, so datasets with
    different ``seed`` (train, validation) share the task.

    Args:
        model_or_name: an :class:`EmotionModel` or a registered name (built on the ``meta``
            device, with ``overrides``, to read its layout: no memory, no weights).
        num_samples: dataset length.
        seed: draws labels, noise and lengths (sample ``i`` is the same on every access).
        signal: amplitude of the label patterns.
        noise: standard deviation of the per-element noise.
        min_length: shortest time length, as a fraction of the layout's length.
        pattern_seed: draws the class patterns and keywords.
        **overrides: config overrides when ``model_or_name`` is a name (``task``,
            ``num_classes``, ...).

    Each sample: ``{modality: (T_i, ...) float or (L_i,) int64, "label": (), "id": int}``,
    ``label`` int64 (multiclass), float (K,) (multilabel), float () or (K,) (regression).

    Raises:
        ValueError: ``num_samples < 1``, ``min_length`` outside (0, 1], a negative ``noise``,
            a token vocabulary too small for the keywords, or a token input shorter than the
            keywords it must hold (multilabel: one per class).
    """

    def __init__(
        self,
        model_or_name: EmotionModel | str,
        num_samples: int = 256,
        seed: int = 0,
        *,
        signal: float = 1.0,
        noise: float = 1.0,
        min_length: float = 0.5,
        pattern_seed: int = 0,
        **overrides: Any,
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples: expected a positive int, got {num_samples}")
        if not 0.0 < min_length <= 1.0:
            raise ValueError(f"min_length: expected a fraction in (0, 1], got {min_length}")
        if noise < 0:
            raise ValueError(f"noise: expected a non-negative std, got {noise}")
        if isinstance(model_or_name, str):
            with torch.device("meta"):
                model = build(model_or_name, **overrides)
        elif overrides:
            raise ValueError(
                f"overrides: config overrides {sorted(overrides)} apply to a model name only; "
                "build the model with them instead"
            )
        else:
            model = model_or_name
        config = model.config
        self.task: str = config.task
        self.num_classes: int = config.num_classes
        self.num_samples, self.seed = num_samples, seed
        self.signal, self.noise, self.min_length = signal, noise, min_length
        example = model.example_inputs(batch_size=1)
        vocab = model.vocab_sizes()
        self.layout: dict[str, tuple[int, ...]] = {}
        self.kinds: dict[str, str] = {}
        self.fixed_lengths: dict[str, int] = {}
        for spec in type(model).input_specs(config):
            if spec.kind == "bool" or spec.name not in example:
                continue
            self.layout[spec.name] = tuple(example[spec.name].shape[1:])
            self.kinds[spec.name] = spec.kind
            if isinstance(spec.dims[1], int) or type(model).fixed_lengths:
                self.fixed_lengths[spec.name] = self.layout[spec.name][0]
        generator = torch.Generator().manual_seed(pattern_seed)
        self._patterns: dict[str, Tensor] = {}
        self._keywords: dict[str, tuple[Tensor, Tensor]] = {}
        for name, shape in self.layout.items():
            if self.kinds[name] == "int":
                self._keywords[name] = self._make_keywords(name, vocab.get(name), shape, generator)
            else:
                self._patterns[name] = _smooth_patterns(self.num_classes, shape[1:], generator)

    def _make_keywords(
        self, name: str, vocab_size: int | None, shape: tuple[int, ...], generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        if vocab_size is None:
            raise ValueError(f"{name}: token ids without a vocabulary size (model.vocab_sizes())")
        needed = 7 if self.task == "regression" else 2 * self.num_classes
        if vocab_size < _RESERVED_TOKENS + 2 * needed:
            raise ValueError(
                f"{name}: a vocabulary of {vocab_size} ids is too small for {needed} keywords"
            )
        if self.task == "multilabel" and shape[0] < self.num_classes:
            raise ValueError(
                f"{name}: {shape[0]} tokens cannot hold one keyword per class ({self.num_classes})"
            )
        ids = _RESERVED_TOKENS + torch.randperm(vocab_size - _RESERVED_TOKENS, generator=generator)
        keywords = ids[:needed]
        return keywords, ids[needed:]  # keywords, filler

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index: expected 0 <= index < {self.num_samples}, got {index}")
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        label, code = self._draw_label(g)
        sample: dict[str, Any] = {}
        for name, shape in self.layout.items():
            full = shape[0]
            length = int(
                torch.randint(math.ceil(self.min_length * full), full + 1, (), generator=g)
            )
            if self.kinds[name] == "int":
                sample[name] = self._tokens(name, label, max(length, self._min_tokens()), g)
            else:
                pattern = torch.einsum("k,k...->...", code, self._patterns[name])
                steps = self.noise * torch.randn(length, *shape[1:], generator=g)
                sample[name] = steps + self.signal * pattern
        sample["label"] = label
        sample["id"] = index
        return sample

    def _min_tokens(self) -> int:
        return self.num_classes if self.task == "multilabel" else 1

    def _draw_label(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        k = self.num_classes
        if self.task == "multiclass":
            label = torch.randint(k, (), generator=g)
            return label, F.one_hot(label, k).float()
        if self.task == "multilabel":
            label = torch.randint(0, 2, (k,), generator=g).float()
            return label, (2 * label - 1) / math.sqrt(k)
        value = (torch.rand(k, generator=g) * 2 - 1) * _REGRESSION_RANGE
        return (value[0] if k == 1 else value), value / _REGRESSION_RANGE

    def _tokens(self, name: str, label: Tensor, length: int, g: torch.Generator) -> Tensor:
        keywords, filler = self._keywords[name]
        tokens = filler[torch.randint(len(filler), (length,), generator=g)]
        if self.task == "multiclass":
            chosen = keywords[label].repeat(max(1, length // 3))
        elif self.task == "multilabel":
            chosen = keywords[2 * torch.arange(self.num_classes) + (1 - label.long())]
        else:
            first = label if label.dim() == 0 else label[0]
            chosen = keywords[int(first.round()) + 3].repeat(max(1, length // 3))
        positions = torch.randperm(length, generator=g)[: len(chosen)]
        tokens[positions] = chosen
        return tokens


def _smooth_patterns(num: int, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """(num, *shape) unit-RMS patterns; over 2+ trailing axes of size >= 8, drawn on a grid
    8 times coarser and upsampled bilinearly, so that convolutions with small kernels see them."""
    if len(shape) >= 2 and min(shape[-2:]) >= 8:
        coarse = (math.ceil(shape[-2] / 8), math.ceil(shape[-1] / 8))
        lead = math.prod(shape[:-2])
        grid = torch.randn(num * lead, 1, *coarse, generator=generator)
        patterns = F.interpolate(grid, size=shape[-2:], mode="bilinear", align_corners=False)
        patterns = patterns.reshape(num, *shape)
    else:
        patterns = torch.randn(num, *shape, generator=generator)
    rms = patterns.flatten(1).pow(2).mean(1).sqrt()
    return patterns / rms.view(num, *([1] * len(shape)))


__all__ = ["SyntheticEmotion"]
