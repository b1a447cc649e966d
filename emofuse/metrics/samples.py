"""Per-sample accumulation shared by every emofuse metric: scores, labels and sample ids.

Every :class:`SampleMetric` keeps each sample's score, label and id as torchmetrics ``cat``
states, so ``compute()`` first gathers them from all processes (torchmetrics does the
``all_gather``) and then drops repeated ids before computing. A ``DistributedSampler`` pads the
last batches by repeating samples so that every process gets the same number; counting those
repeats would change the figures, so a sample id seen twice is counted once (its first
occurrence, in process-rank order). Keeping samples instead of running counts costs O(N) memory,
which the evaluation splits of these corpora (at most a few tens of thousands of clips) afford,
and it lets every figure be computed exactly as its plain function computes it.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

NO_ID = -1  # the id state of samples that came without one: never deduplicated

SampleIds = Tensor | Sequence[int] | Sequence[str]


def ids_to_tensor(ids: SampleIds, batch_size: int) -> Tensor:
    """(B,) int64 sample ids from integers (>= 0) or strings (hashed).

    Strings are hashed with BLAKE2b to 63 bits, so two different ids collide with probability
    about N²/2⁶⁴ (below 1e-9 for N = 100 000 samples).

    Raises:
        ValueError: if ``ids`` does not hold one non-negative integer or one string per sample.
    """
    if isinstance(ids, Tensor):
        if ids.dim() != 1 or ids.shape[0] != batch_size or ids.is_floating_point():
            raise ValueError(
                f"ids: expected ({batch_size},) integer sample ids, got {ids.dtype} "
                f"{tuple(ids.shape)}"
            )
        out = ids.to(torch.int64)
    else:
        values = list(ids)
        if len(values) != batch_size:
            raise ValueError(f"ids: expected {batch_size} sample ids, got {len(values)}")
        strings = [v for v in values if isinstance(v, str)]
        if len(strings) == len(values):
            return torch.tensor([_hash_id(v) for v in strings], dtype=torch.int64)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kinds = sorted({type(v).__name__ for v in values})
            raise ValueError(f"ids: expected integers or strings, got {kinds}")
        out = torch.tensor(values, dtype=torch.int64)
    if (out < 0).any():
        raise ValueError(f"ids: expected non-negative integer ids, got {out.min().item()}")
    return out


def _hash_id(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def first_occurrences(ids: Tensor) -> Tensor:
    """Indices (ascending) of the first occurrence of each id; ``NO_ID`` entries are all kept.

    >>> first_occurrences(torch.tensor([4, 7, 4, -1, -1, 7, 9]))
    tensor([0, 1, 3, 4, 6])
    """
    order = torch.argsort(ids, stable=True)
    sorted_ids = ids[order]
    first = torch.ones_like(sorted_ids, dtype=torch.bool)
    first[1:] = sorted_ids[1:] != sorted_ids[:-1]
    first |= sorted_ids == NO_ID
    return torch.sort(order[first]).values


class SampleMetric(Metric):
    """A torchmetrics ``Metric`` that keeps every sample and computes a function on them all.

    Subclasses set :meth:`check` (validate and normalise one batch) and :meth:`evaluate` (the
    figure from all samples). ``update(scores, labels, ids=None)``: with ``ids``, a sample id
    seen more than once (in this process or another) is counted once.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better: bool | None = None
    # States: per-batch tensors (one tensor after a distributed sync, which concatenates them).
    scores: list[Tensor]
    labels: list[Tensor]
    ids: list[Tensor]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")
        self.add_state("ids", default=[], dist_reduce_fx="cat")

    def check(self, scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return scores, labels

    @abstractmethod
    def evaluate(self, scores: Tensor, labels: Tensor) -> Any:
        """The metric over every sample seen, each counted once (as ``check`` returned them)."""

    def update(self, scores: Tensor, labels: Tensor, ids: SampleIds | None = None) -> None:
        scores, labels = self.check(scores, labels)
        batch = scores.shape[0]
        if ids is None:
            id_tensor = torch.full((batch,), NO_ID, dtype=torch.int64)
        else:
            id_tensor = ids_to_tensor(ids, batch)
        self.scores.append(scores.detach())
        self.labels.append(labels.detach())
        self.ids.append(id_tensor.to(scores.device))

    def samples(self) -> tuple[Tensor, Tensor, Tensor]:
        """All (deduplicated) samples seen so far: (scores, labels, ids), in arrival order.

        Raises:
            ValueError: nothing was added yet (``compute()`` before any ``update()``).
        """
        if isinstance(self.scores, list) and not self.scores:
            raise ValueError(f"{type(self).__name__}: compute() before any update()")
        scores, labels = dim_zero_cat(self.scores), dim_zero_cat(self.labels)
        ids = dim_zero_cat(self.ids)
        keep = first_occurrences(ids)
        return scores[keep], labels[keep], ids[keep]

    def compute(self) -> Any:
        scores, labels, _ = self.samples()
        return self.evaluate(scores, labels)


__all__ = ["NO_ID", "SampleIds", "SampleMetric", "first_occurrences", "ids_to_tensor"]
