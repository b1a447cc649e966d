"""What a run needs to continue exactly where it stopped: atomic checkpoint files, the data
order inside an epoch, and every process's random state.

- :class:`AtomicCheckpointIO`: Lightning Fabric's checkpoint writer, through
  :func:`emofuse.hub.atomic_write`: a write interrupted at any point leaves the previous file
  whole (Fabric's own writer goes through an fsspec transaction whose local commit is a move
  from the system's temp folder, a copy when that is another file system).
- :class:`ResumableSampler`: ``DistributedSampler``'s order (a permutation per epoch from
  ``seed + epoch``, every process a strided share) that can start mid-epoch.
- :class:`RandomState`: the torch random state of every process, gathered into the
  checkpoint and handed back to each process on resume.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from lightning_fabric import Fabric
from lightning_fabric.plugins import TorchCheckpointIO
from torch.utils.data import Dataset, DistributedSampler

from emofuse.hub import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Fabric's ``TorchCheckpointIO`` whose ``save_checkpoint`` writes a temporary file beside
    the target and renames it over the target (:func:`emofuse.hub.atomic_write`)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(
                f"storage_options: {type(self).__name__} takes none, got {storage_options!r}"
            )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


class ResumableSampler(DistributedSampler[int]):
    """``DistributedSampler`` (shuffled per epoch with ``seed + epoch``) that skips the first
    ``start`` indices of this process's share of the current epoch (see :meth:`skip`), so a run
    resumed mid-epoch sees the batches the uninterrupted run would have. Its order does not
    depend on the number of processes beyond the strided split: the union of the processes'
    i-th batches of size b is the single process's i-th batch of size ``N b``."""

    def __init__(
        self, dataset: Dataset[Any], *, num_replicas: int, rank: int, shuffle: bool, seed: int
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.start = 0

    def skip(self, start: int) -> None:
        """Begin the current epoch's share at index ``start`` (once: reset by ``set_epoch``)."""
        self.start = start

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start :])

    def __len__(self) -> int:
        return self.num_samples - self.start


class RandomState:
    """The torch random state (CPU, and the current CUDA device's) of every process, for
    ``fabric.save``/``fabric.load``: ``state_dict`` gathers them (a collective call: every
    process calls it), ``load_state_dict`` gives each process its own back."""

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric

    def state_dict(self) -> dict[str, Any]:
        cpu = torch.get_rng_state().to(self.fabric.device)
        state = {"cpu": self._gather(cpu)}
        if torch.cuda.is_available() and self.fabric.device.type == "cuda":
            state["cuda"] = self._gather(torch.cuda.get_rng_state().to(self.fabric.device))
        return state

    def _gather(self, tensor: torch.Tensor) -> torch.Tensor:
        gathered = self.fabric.all_gather(tensor)
        assert isinstance(gathered, torch.Tensor)  # a tensor in, a tensor out
        if self.fabric.world_size == 1:
            gathered = gathered.unsqueeze(0)
        return gathered.cpu()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        rank, saved = self.fabric.global_rank, state["cpu"]
        if saved.shape[0] != self.fabric.world_size:
            raise ValueError(
                f"resume: the checkpoint holds the random state of {saved.shape[0]} processes; "
                f"this run has {self.fabric.world_size} (resume with the same number)"
            )
        torch.set_rng_state(saved[rank].to(torch.uint8))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda"][rank].to(torch.uint8))


__all__ = ["AtomicCheckpointIO", "RandomState", "ResumableSampler"]
