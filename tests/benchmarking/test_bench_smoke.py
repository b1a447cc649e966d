"""The benchmark suite runs end to end in seconds and writes valid JSON and markdown. Nothing
here asserts a speed: only that the measurements exist and are well formed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import Tensor, nn

import emofuse
import emofuse.benchmarking
from emofuse.benchmarking import (
    Settings,
    TensorMemoryTracker,
    benchmark_model,
    compare_fusion_blocks,
    loglog_slope,
    render_markdown,
)
from emofuse.benchmarking.comparisons import FUSION_BLOCKS
from emofuse.cli import main

FAST = ["--reps", "2", "--warmup", "1", "--budget", "0.2"]


def _positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


def test_bench_cli_writes_json_and_markdown(tmp_path: Path) -> None:
    out, docs = tmp_path / "results.json", tmp_path / "benchmarks.md"
    argv = [
        "bench", "--quick", "--models", "toy_fusion_tiny", "--modes", "eager",
        "--attention-shapes", "2x8x16x2", "--fusion-lengths", "8,16,32",
        "--comparisons", "attention,frames,fusion,checkpointing", *FAST,
        "--out", str(out), "--write-docs", str(docs),
    ]  # fmt: skip
    assert main(argv) == 0
    results = json.loads(out.read_text())
    assert results["machine"]["torch"] == torch.__version__ and results["machine"]["cpu"]

    (model,) = results["models"]
    assert model["name"] == "toy_fusion_tiny" and model["size"] == "tiny"
    assert model["params"] == sum(p.numel() for p in emofuse.build("toy_fusion_tiny").parameters())
    assert model["flops_per_sample"] > 0
    assert [(r["mode"], r["dtype"]) for r in model["runs"]] == [
        ("eager", "fp32"),
        ("eager", "bf16"),
    ]
    for run in model["runs"]:
        assert "error" not in run, run.get("error")
        assert _positive(run["latency"]["median"]) and _positive(run["train_step"]["median"])
        assert run["latency"]["q1"] <= run["latency"]["median"] <= run["latency"]["q3"]
        assert run["peak_memory_bytes"] > 0

    comparisons = results["comparisons"]
    assert set(comparisons) == {"attention", "frames", "fusion", "checkpointing"}
    rows = comparisons["attention"]["rows"]
    assert {(r["mask"], r["pass"]) for r in rows} == {
        (m, p) for m in (False, True) for p in ("forward", "forward+backward")
    }
    for row in rows:
        assert row["ratio"]["nn.MultiheadAttention"] == 1.0
        assert all(_positive(r) for r in row["ratio"].values())
    frames = comparisons["frames"]
    assert frames["valid_frames"] * 2 == frames["total_frames"]
    assert all(_positive(r["ratio"]["packed"]) for r in frames["rows"])
    assert list(comparisons["fusion"]["blocks"]) == [
        "JointTransformer",
        "BiCrossAttention",
        "BottleneckTransformer",
    ]
    for block in comparisons["fusion"]["blocks"].values():
        assert [p["T"] for p in block["points"]] == [8, 16, 32]
        assert all(math.isfinite(v) for v in block["slope"].values())
    checkpointing = comparisons["checkpointing"]["rows"]
    assert {r["model"] for r in checkpointing} == {
        "mer_sem_mbt_tiny",
        "av_attention_fusion_tiny",
        "emotion_query_transformer_tiny",
        "colearning_transformer_tiny",
    }
    for row in checkpointing:
        assert row["activations_held"]["plain"] > 0 and row["peak_memory_bytes"]["plain"] > 0
        assert all(_positive(r) for r in row["ratio"].values())

    text = docs.read_text()
    for heading in (
        "# Benchmarks",
        "## Models",
        "## Attention layer",
        "## Frame CNN on packed valid frames",
        "## Fusion blocks over sequence length",
        "## Activation checkpointing",
        "## How to read this, and what to run on a GPU",
    ):
        assert heading in text  # fmt: skip
    assert "`toy_fusion_tiny`" in text and "torch " + torch.__version__ in text

    rendered = tmp_path / "again.md"
    assert main(["bench", "--from-json", str(out), "--write-docs", str(rendered)]) == 0
    assert rendered.read_text() == text == render_markdown(results)


def test_training_skipped_above_the_flop_limit_and_compile_dtypes_chosen() -> None:
    entry = benchmark_model(
        "toy_fusion_tiny",
        "cpu",
        modes=("eager", "compile"),
        dtypes=("fp32", "bf16"),
        compile_dtypes=(),
        train_batch=2,
        max_train_gflops=0.0,
        settings=Settings(warmup=1, reps=2, budget_s=0.1),
    )
    assert "training step at batch 2" in entry["train_skipped"]
    assert [(r["mode"], r["dtype"]) for r in entry["runs"]] == [
        ("eager", "fp32"),
        ("eager", "bf16"),
    ]
    for run in entry["runs"]:
        assert _positive(run["latency"]["median"]) and "train_step" not in run
    text = render_markdown(
        {
            "created": "now",
            "command": "test",
            "machine": emofuse.benchmarking.machine(),
            "settings": {"reps": 2, "min_rep_s": 0.02, "warmup": 1, "budget_s": 0.1},
            "models": [entry],
        }
    )
    assert "training not measured" in text


class _LinearMixer(nn.Module):
    """A block whose cost is linear in T: each stream plus the other's mean."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, a: Tensor, b: Tensor, a_mask: Tensor, b_mask: Tensor) -> tuple[Tensor, ...]:
        return self.proj(a) + b.mean(1, keepdim=True), self.proj(b) + a.mean(1, keepdim=True)


def test_fusion_comparison_takes_user_blocks() -> None:
    blocks = {**FUSION_BLOCKS, "linear mixer": _LinearMixer}
    found = compare_fusion_blocks(
        blocks, lengths=(8, 16), dim=16, settings=Settings(warmup=1, reps=2, budget_s=0.1)
    )
    assert found["baseline"] == next(iter(FUSION_BLOCKS))
    assert list(found["blocks"]) == list(blocks)
    mixer = found["blocks"]["linear mixer"]
    assert mixer["params"] == 16 * 16 + 16
    for point in mixer["points"]:
        assert set(point["ratio"]) == {"forward", "forward+backward", "peak_memory_bytes"}
        assert point["peak_memory_bytes"] > 0


def test_memory_tracker_counts_fresh_tensors_not_views_or_in_place() -> None:
    x = torch.zeros(1000)
    with TensorMemoryTracker() as tracker:
        y = x + 1  # 4000 fresh bytes
        y.view(10, 100).add_(1)  # a view and an in-place op: nothing new
        del y
        z = torch.ones(500)  # 2000 bytes after y is freed
    assert tracker.peak == 4000 and tracker.current == 2000 and z.numel() == 500


def test_loglog_slope_recovers_the_exponent() -> None:
    lengths = [32, 64, 128, 256]
    assert math.isclose(loglog_slope(lengths, [3 * t**2 for t in lengths]), 2.0)
    assert math.isclose(loglog_slope(lengths, [5 * t for t in lengths]), 1.0)
    assert loglog_slope([32], [1.0]) is None


def test_docs_benchmarks_is_rendered_from_the_committed_results() -> None:
    root = Path(__file__).resolve().parents[2]
    results = json.loads((root / "benchmarks" / "results.json").read_text())
    assert (root / "docs" / "benchmarks.md").read_text() == render_markdown(results)
