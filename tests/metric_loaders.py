"""Loaders for the metrics tests: a dataset of per-sample example inputs with labels and ids,
the minimal collate the data layer (issue #15) will replace, and the distributed worker."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

import emofuse


class ExampleDataset(Dataset[dict[str, Any]]):
    """``n`` samples of ``model.example_inputs(1)``, each drawn from its own seed, with a label
    for ``task`` and an id (``int`` or ``"clip-<i>"``)."""

    def __init__(
        self, model: Any, n: int, *, num_classes: int = 1, seed: int = 0, string_ids: bool = False
    ) -> None:
        self.model, self.n, self.k, self.seed = model, n, num_classes, seed
        self.string_ids = string_ids

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + i)
        sample = {k: v[0] for k, v in self.model.example_inputs(1, generator=g).items()}
        task = self.model.config.task
        if task == "multilabel":
            label: Tensor = (torch.rand(self.k, generator=g) < 0.35).long()
        elif task == "multiclass":
            label = torch.randint(self.k, (), generator=g)
        else:  # sentiment in [-3, 3] in steps of 0.5, zeros included
            label = torch.randint(-6, 7, (), generator=g).float() / 2
        sample["label"] = label
        sample["id"] = f"clip-{i}" if self.string_ids else i
        return sample


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors; ids become a (B,) tensor (ints) or a list (strings)."""
    batch: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if key == "id":
            batch[key] = values if isinstance(values[0], str) else torch.tensor(values)
        else:
            batch[key] = torch.stack(values)
    return batch


def loader(dataset: Dataset[Any], batch_size: int = 8, sampler: Any = None) -> DataLoader[Any]:
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate)


N_SAMPLES = 103


def build_models() -> dict[str, Any]:
    """The models of the distributed test: mcr_tiny for sentiment regression and for the
    multi-label IEMOCAP-4 task, built with the same seed in every process."""
    torch.manual_seed(0)
    regression = emofuse.build("mcr_tiny")
    torch.manual_seed(1)
    multilabel = emofuse.build("mcr_tiny", task="classification", num_classes=4)
    return {"regression": regression, "multilabel": multilabel}


def run_protocols(world: int = 1, rank: int = 0) -> dict[str, Any]:
    """Evaluate both models on 103 samples (a DistributedSampler when ``world`` > 1)."""
    from emofuse.metrics import Thresholds, evaluate, predict

    out: dict[str, Any] = {}
    seen = 0
    for name, model in build_models().items():
        k = model.config.num_classes
        data = ExampleDataset(model, N_SAMPLES, num_classes=k, string_ids=name == "multilabel")
        sampler = (
            DistributedSampler(data, num_replicas=world, rank=rank, shuffle=False)
            if world > 1
            else None
        )
        batches = loader(data, batch_size=8, sampler=sampler)
        seen += sum(len(b["label"]) for b in batches)
        if name == "regression":
            table = evaluate(model, batches, protocol="yang2023/mosi")
        else:
            table = evaluate(
                model,
                batches,
                protocol="yang2023/iemocap",
                thresholds=Thresholds.constant(0.5, num_labels=k),
            )
        preds = predict(model, batches)
        out[name] = {"table": dict(table), "num_samples": table.num_samples, "ids": preds.ids}
    out["rows_fed_here"] = seen
    return out


def distributed_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    """One gloo process of the 2-process test; writes its results to ``out_dir/rank<r>.pt``."""
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        result = run_protocols(world, rank)
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        torch.distributed.destroy_process_group()
