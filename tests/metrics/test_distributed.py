"""Distributed evaluation counts every sample exactly once: 2 gloo processes on CPU, with a
DistributedSampler that pads 103 samples to 104, give the 1-process tables."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp
from metric_loaders import N_SAMPLES, distributed_worker, run_protocols


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed")
def test_two_gloo_processes_equal_one(tmp_path) -> None:
    world = 2
    mp.spawn(distributed_worker, args=(world, _free_port(), str(tmp_path)), nprocs=world, join=True)
    single = run_protocols()
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(world)]
    # the sampler really padded: 2 × 52 rows were fed for each of the two models
    assert sum(r["rows_fed_here"] for r in ranks) == 2 * (N_SAMPLES + 1)
    for name in ("regression", "multilabel"):
        for result in ranks:
            got = result[name]
            assert got["num_samples"] == N_SAMPLES
            assert sorted(got["ids"].tolist()) == sorted(single[name]["ids"].tolist())
            assert got["table"] == pytest.approx(single[name]["table"], abs=1e-4)
