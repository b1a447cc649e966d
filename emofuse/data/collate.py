"""Batching samples of different lengths: padding, masks, labels and ids (one function).

A sample is a mapping such as an :mod:`emofuse.data` dataset yields: modality tensors whose
first axis is time (``audio`` (T, F), ``video`` (T, C, H, W), ``text`` (L,) token ids ...), an
optional ``<modality>_mask`` (T,) bool of its own, a ``label`` and an ``id``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Sampler

from emofuse.layers.masks import lengths_to_mask

RESERVED = ("label", "id")


def collate(
    samples: Sequence[Mapping[str, Any]],
    *,
    padding_value: float | Mapping[str, float] = 0.0,
    lengths: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Pad every modality along its time axis, build its mask, stack labels, keep ids.

    Use as ``DataLoader(dataset, collate_fn=collate)``; bind options with
    ``functools.partial(collate, lengths={"text": 50})``.

    Args:
        samples: mappings with the same keys. Each tensor with at least one axis (other than
            ``label``) is a modality of shape (T, ...): float sequences (T, F), image sequences
            (T, C, H, W), token ids (L,). A ``<modality>_mask`` (T,) bool in a sample is padded
            with ``False`` and used as given; otherwise the mask marks the sample's T steps.
            ``label``: a number or tensor, stacked. ``id`` and every non-tensor value: kept as
            a list in sample order.
        padding_value: the value padded steps hold, for all modalities or per modality name
            (masks, not this value, tell padding apart: models never read padded steps).
        lengths: pad a modality to this many steps instead of the batch's longest (models with
            ``fixed_lengths``, e.g. ``mcr``, take their configured lengths).

    Returns:
        ``{modality: (B, T_max, ...), "<modality>_mask": (B, T_max) bool (True = valid),
        "label": (B, ...), "id": [B ids], other keys: [B values]}``.

    Raises:
        ValueError: an empty batch, samples with different keys, a modality whose trailing
            axes or dtype differ between samples, a mask whose length is not its modality's,
            or a sample longer than its ``lengths`` entry.
    """
    if not samples:
        raise ValueError("samples: expected at least one sample, got an empty sequence")
    keys = list(samples[0])
    for index, sample in enumerate(samples):
        if list(sample) != keys and set(sample) != set(keys):
            raise ValueError(
                f"samples[{index}]: expected the keys of samples[0] {sorted(keys)}, "
                f"got {sorted(sample)}"
            )
    lengths = dict(lengths or {})
    batch: dict[str, Any] = {}
    modalities = [
        k
        for k in keys
        if k not in RESERVED
        and not k.endswith("_mask")
        and isinstance(samples[0][k], Tensor)
        and samples[0][k].dim() >= 1
    ]
    for name in modalities:
        value = (
            padding_value.get(name, 0.0) if isinstance(padding_value, Mapping) else padding_value
        )
        batch[name], batch[f"{name}_mask"] = _pad(
            name, [s[name] for s in samples], value, lengths.get(name),
            [s.get(f"{name}_mask") for s in samples],
        )  # fmt: skip
    for key in keys:
        if key in batch or (key.endswith("_mask") and key[: -len("_mask")] in modalities):
            continue
        values = [s[key] for s in samples]
        batch[key] = _stack_labels(values) if key == "label" else values
    return batch


def _pad(
    name: str,
    tensors: list[Tensor],
    value: float,
    length: int | None,
    masks: list[Tensor | None],
) -> tuple[Tensor, Tensor]:
    first = tensors[0]
    hint = (
        "; a raw waveform (C, S) has no time axis first: turn it into a front-end's features "
        "(the dataset's transform=) before collating"
        if name == "audio"
        else ""
    )
    for index, tensor in enumerate(tensors):
        if tensor.dim() < 1 or tensor.shape[1:] != first.shape[1:] or tensor.dtype != first.dtype:
            raise ValueError(
                f"samples[{index}][{name!r}]: expected (T, {', '.join(map(str, first.shape[1:]))})"
                f" {first.dtype} like samples[0], got {tuple(tensor.shape)} {tensor.dtype}{hint}"
            )
    steps = [t.shape[0] for t in tensors]
    longest = max(steps)
    if length is not None and longest > length:
        index = steps.index(longest)
        raise ValueError(
            f"samples[{index}][{name!r}]: {longest} steps, longer than lengths[{name!r}] = {length}"
        )
    total = longest if length is None else length
    padded = first.new_full((len(tensors), total, *first.shape[1:]), value)
    valid = lengths_to_mask(torch.tensor(steps), total)
    for index, (tensor, mask) in enumerate(zip(tensors, masks, strict=True)):
        padded[index, : tensor.shape[0]] = tensor
        if mask is not None:
            if mask.shape != (tensor.shape[0],):
                raise ValueError(
                    f"samples[{index}]['{name}_mask']: expected ({tensor.shape[0]},) bool, "
                    f"got {tuple(mask.shape)}"
                )
            valid[index, : tensor.shape[0]] = mask.bool()
    return padded, valid


def _stack_labels(values: list[Any]) -> Tensor:
    if all(isinstance(v, Tensor) for v in values):
        return torch.stack(values)
    return torch.as_tensor(values)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of samples of similar length, so that little of each batch is padding.

    The indices are shuffled, cut into pools of ``batch_size * pool_batches``, each pool is
    sorted by length and cut into batches, and the batches are shuffled (the bucketing of
    torchtext's ``BucketIterator`` and ESPnet's length-sorted batches).

    Args:
        lengths: the length of each sample (e.g. its audio frames), in dataset order.
        batch_size: samples per batch.
        shuffle: draw a new order every epoch (``set_epoch``); ``False`` sorts the whole
            dataset by length once.
        drop_last: drop a last batch smaller than ``batch_size``.
        pool_batches: batches per sorted pool; larger pools pad less and shuffle less.
        seed: the seed of the shuffles (combined with the epoch).

    Raises:
        ValueError: a non-positive ``batch_size`` or ``pool_batches``, or a negative length.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        pool_batches: int = 50,
        seed: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size}")
        if pool_batches < 1:
            raise ValueError(f"pool_batches: expected a positive int, got {pool_batches}")
        self.lengths = torch.as_tensor(list(lengths), dtype=torch.long)
        if (self.lengths < 0).any():
            raise ValueError("lengths: expected non-negative lengths, got a negative one")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.pool_batches = pool_batches
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the order of ``epoch`` (call before each epoch, as with ``DistributedSampler``)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        n = len(self.lengths)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        pool = n if not self.shuffle else self.batch_size * self.pool_batches
        batches: list[list[int]] = []
        for start in range(0, n, pool):
            chunk = order[start : start + pool]
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches.extend(
                chunk[i : i + self.batch_size].tolist()
                for i in range(0, len(chunk), self.batch_size)
            )
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
        return iter(batches)

    def __len__(self) -> int:
        n = len(self.lengths)
        if self.drop_last:
            # every pool but the last is a multiple of batch_size; only the tail can be short
            return n // self.batch_size if not self.shuffle else self._full_batches()
        if not self.shuffle:
            return math.ceil(n / self.batch_size)
        pool = self.batch_size * self.pool_batches
        return sum(math.ceil(min(pool, n - s) / self.batch_size) for s in range(0, n, pool))

    def _full_batches(self) -> int:
        n = len(self.lengths)
        pool = self.batch_size * self.pool_batches
        return sum(min(pool, n - s) // self.batch_size for s in range(0, n, pool))


__all__ = ["BucketBatchSampler", "collate"]
