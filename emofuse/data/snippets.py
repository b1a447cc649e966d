"""A random subset of each training clip's snippets: augmentation for snippet models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset


class RandomSnippets(Dataset[dict[str, Any]]):
    """The samples of ``dataset`` with ``k`` of their N snippets, drawn anew at each read.

    A snippet model (``av_attention_fusion``: N one-second spectrogram segments and N face
    snippets per clip, Mocanu et al. 2023, sec. 3) reads a clip as a sequence along the first
    axis of each modality tensor. Wrapping the training set in ``RandomSnippets(train, k)`` shows
    the model another ``k`` of them every epoch, kept in time order: augmentation that also cuts
    a step's cost by about N / k. Evaluate on the unwrapped dataset (every snippet): the models
    pool over their valid snippets, so a clip of ``k`` or of N snippets is a valid input. This is
    emofuse's training aid, not part of the paper's recipe.

    The draw comes from the global torch generator, whose state :func:`emofuse.training.fit`
    seeds and saves in its checkpoints, so a seeded run repeats and a resumed run continues it.

    Args:
        dataset: a map-style dataset of sample dicts (an :mod:`emofuse.data` dataset with its
            transform, or any list of dicts).
        k: snippets kept per sample; a sample with at most ``k`` valid snippets keeps all.
        keys: the modalities to subset, e.g. ``("audio", "video")``, each (N, ...) with the same
            N (one draw for all, so aligned snippets stay aligned). A ``<key>_mask`` (N,) bool
            in the sample is subset with them and only its valid snippets are drawn.

    Raises:
        ValueError: ``k`` below 1 or no ``keys`` (at construction); at a read, a key missing
            from the sample, a tensor without a snippet axis, or keys with different N.
    """

    def __init__(
        self, dataset: Dataset[Any] | Sequence[Any], k: int, *, keys: Sequence[str] = ("audio",)
    ) -> None:
        if k < 1:
            raise ValueError(f"k: expected at least one snippet per sample, got {k}")
        if isinstance(keys, str) or not keys:
            raise ValueError(f"keys: expected a sequence of modality names, got {keys!r}")
        self.dataset, self.k, self.keys = dataset, k, tuple(keys)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]  # map-style: has a length

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.dataset[index]
        lengths = {key: _snippet_count(sample, key) for key in self.keys}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                f"keys: expected the same number of snippets N in {list(self.keys)}, got "
                f"{lengths} (sample {index})"
            )
        n = lengths[self.keys[0]]
        valid = torch.ones(n, dtype=torch.bool)
        for key in self.keys:
            mask = sample.get(f"{key}_mask")
            if mask is not None:
                valid &= torch.as_tensor(mask, dtype=torch.bool)
        candidates = valid.nonzero().flatten()
        if len(candidates) <= self.k:
            return dict(sample)
        keep = candidates[torch.randperm(len(candidates))[: self.k]].sort().values
        out = dict(sample)
        for key in self.keys:
            out[key] = sample[key][keep]
            if f"{key}_mask" in sample:
                out[f"{key}_mask"] = torch.as_tensor(sample[f"{key}_mask"])[keep]
        return out


def _snippet_count(sample: Mapping[str, Any], key: str) -> int:
    if key not in sample:
        raise ValueError(f"keys: {key!r} is not in the sample (its keys: {sorted(sample)})")
    value = sample[key]
    if not isinstance(value, Tensor) or value.dim() < 1:
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"{key}: expected a (N, ...) tensor of snippets, got {shape}")
    return int(value.shape[0])


__all__ = ["RandomSnippets"]
