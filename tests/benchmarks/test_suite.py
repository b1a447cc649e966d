"""The benchmark suite (``benchmarks/``, beside the package) runs end to end in seconds on one
tiny model and writes valid JSON and markdown. Nothing here asserts a speed: only that the
measurements exist and are well formed."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

import emofuse
from benchmarks import run
from benchmarks.comparisons import (
    FUSION_BLOCKS,
    MOSEI,
    compare_checkpointing,
    compare_export,
    compare_frame_packing,
    compare_fusion_blocks,
    compare_mult,
)
from benchmarks.measure import (
    Settings,
    backward_memory,
    import_times,
    loglog_slope,
    machine,
    profile_allocations,
)
from benchmarks.models import benchmark_model
from benchmarks.report import render_markdown

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--reps", "2", "--warmup", "1", "--budget", "0.2"]
QUICK = Settings(warmup=1, reps=2, min_run_time=0.002, budget_s=0.1)


def _positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


def test_quick_run_writes_json_and_markdown(tmp_path: Path) -> None:
    out, docs = tmp_path / "results.json", tmp_path / "benchmarks.md"
    argv = [
        "--quick", "--models", "toy_fusion_tiny", "--modes", "eager",
        "--comparisons", "attention", "--attention-shapes", "2x8x16x2", *FAST,
        "--out", str(out), "--write-docs", str(docs),
    ]  # fmt: skip
    assert run.main(argv) == 0
    results = json.loads(out.read_text())
    assert results["machine"]["torch"] == torch.__version__ and results["machine"]["cpu"]
    assert results["command"].startswith("python benchmarks/run.py --quick")

    (model,) = results["models"]
    assert model["name"] == "toy_fusion_tiny" and model["size"] == "tiny"
    assert model["params"] == sum(p.numel() for p in emofuse.build("toy_fusion_tiny").parameters())
    assert model["flops_per_sample"] > 0
    assert [(r["mode"], r["dtype"]) for r in model["runs"]] == [
        ("eager", "fp32"),
        ("eager", "bf16"),
    ]
    for r in model["runs"]:
        assert "error" not in r, r.get("error")
        assert _positive(r["latency"]["median"]) and _positive(r["train_step"]["median"])
        assert r["latency"]["q1"] <= r["latency"]["median"] <= r["latency"]["q3"]
        assert r["peak_memory_bytes"] > 0 and "profile_memory" in r["memory_method"]

    (section,) = results["comparisons"].values()
    assert {(r["mask"], r["pass"]) for r in section["rows"]} == {
        (m, p) for m in (False, True) for p in ("forward", "forward+backward")
    }
    for row in section["rows"]:
        assert row["ratio"]["nn.MultiheadAttention"] == 1.0
        assert all(_positive(r) for r in row["ratio"].values())

    text = docs.read_text()
    for heading in ("# Benchmarks", "## Models", "## Attention layer", "## How to read this"):
        assert heading in text
    assert "`toy_fusion_tiny`" in text and "torch " + torch.__version__ in text
    assert "nn.MultiheadAttention ms (CPU)" in text  # absolute figures say where they were taken

    rendered = tmp_path / "again.md"
    assert run.main(["--from-json", str(out), "--write-docs", str(rendered)]) == 0
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
        settings=QUICK,
    )
    assert "training step at batch 2" in entry["train_skipped"]
    assert [(r["mode"], r["dtype"]) for r in entry["runs"]] == [
        ("eager", "fp32"),
        ("eager", "bf16"),
    ]
    for r in entry["runs"]:
        assert _positive(r["latency"]["median"]) and "train_step" not in r
    settings = {"reps": 2, "min_run_time": 0.02, "warmup": 1, "budget_s": 0.1}
    results = {"created": "now", "command": "test", "machine": machine(), "settings": settings}
    assert "training not measured" in render_markdown({**results, "models": [entry]})


class _LinearMixer(nn.Module):
    """A block whose cost is linear in T: each stream plus the other's mean."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, a: Tensor, b: Tensor, a_mask: Tensor, b_mask: Tensor) -> tuple[Tensor, ...]:
        return self.proj(a) + b.mean(1, keepdim=True), self.proj(b) + a.mean(1, keepdim=True)


def test_fusion_comparison_takes_user_blocks() -> None:
    blocks = {**FUSION_BLOCKS, "linear mixer": _LinearMixer}
    found = compare_fusion_blocks(blocks, lengths=(8, 16), dim=16, settings=QUICK)
    assert found["baseline"] == next(iter(FUSION_BLOCKS))
    assert list(found["blocks"]) == list(blocks)
    mixer = found["blocks"]["linear mixer"]
    assert mixer["params"] == 16 * 16 + 16
    for point in mixer["points"]:
        assert set(point["ratio"]) == {"forward", "forward+backward", "peak_memory_bytes"}
        assert point["peak_memory_bytes"] > 0
    assert all(v is not None for v in mixer["slope"].values())


def test_frame_packing_and_checkpointing_comparisons() -> None:
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    frames = compare_frame_packing(batch=2, frames=4, size=8, cnn=cnn, settings=QUICK)
    assert frames["valid_frames"] * 2 == frames["total_frames"]
    assert all(_positive(r["ratio"]["packed"]) for r in frames["rows"])
    (row,) = compare_checkpointing([("toy_fusion_tiny", {})], batch=2, settings=QUICK)["rows"]
    assert row["activations_held"]["plain"] > 0 and row["peak_memory_bytes"]["plain"] > 0
    assert all(_positive(r) for r in row["ratio"].values())


def test_profiled_memory_counts_fresh_tensors_not_views_or_in_place() -> None:
    x = torch.zeros(1000)

    def fn() -> Tensor:
        y = x + 1  # 4000 fresh bytes
        y.view(10, 100).add_(1)  # a view and an in-place op: nothing new but a scalar
        del y
        return torch.ones(500)  # 2000 bytes, after y is freed

    z, peak, held = profile_allocations(fn)
    assert 4000 <= peak < 4100 and held == 2000 and z.numel() == 500


def test_backward_memory_sees_the_activations_a_forward_keeps() -> None:
    x = torch.randn(64, 256, requires_grad=True)
    # exp keeps its (64, 256) fp32 output for the backward pass: 65,536 bytes
    held, peak = backward_memory(lambda: x.exp().sum(), "cpu")
    assert held >= 64 * 256 * 4 and peak >= held


def test_import_times_are_ratios_to_the_first_command() -> None:
    found = import_times(
        {"python": [sys.executable, "-c", "pass"], "json": [sys.executable, "-c", "import json"]},
        repeats=1,
    )
    assert found["baseline"] == "python" and found["ratio"]["python"] == 1.0
    assert all(_positive(s) for s in found["seconds"].values())


def test_loglog_slope_recovers_the_exponent() -> None:
    lengths = [32, 64, 128, 256]
    assert math.isclose(loglog_slope(lengths, [3 * t**2 for t in lengths]), 2.0)
    assert math.isclose(loglog_slope(lengths, [5 * t for t in lengths]), 1.0)
    assert loglog_slope([32], [1.0]) is None


def test_docs_benchmarks_is_rendered_from_the_committed_results() -> None:
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert (ROOT / "docs" / "benchmarks.md").read_text() == render_markdown(results)


TINY_MOSEI = dataclasses.replace(
    MOSEI, seq_lens=(5, 9, 7), input_dims=(12, 5, 6), d_model=8, num_heads=2, num_layers=2, batch=2
)


def _render(section_name: str, section: dict) -> str:
    settings = {"reps": 2, "min_run_time": 0.02, "warmup": 1, "budget_s": 0.1}
    results = {"created": "now", "command": "test", "machine": machine(), "settings": settings}
    return render_markdown({**results, "models": [], "comparisons": {section_name: section}})


def test_mult_comparison_says_how_to_install_mmsa_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "MMSA", None)  # import MMSA raises ImportError
    found = compare_mult(preset=TINY_MOSEI, settings=QUICK)
    assert "pip install MMSA" in found["missing"] and "rows" not in found
    assert "Not measured" in _render("mult", found) and "pip install MMSA" in _render("mult", found)


def test_mult_comparison_trains_both_models() -> None:
    pytest.importorskip("MMSA", reason="the MulT baseline is MMSA's (pip install MMSA)")
    found = compare_mult(preset=TINY_MOSEI, settings=QUICK)
    assert found["baseline"] == "MulT (MMSA)" and found["mmsa_version"]
    assert list(found["rows"]) == ["MulT (MMSA)", "mcr"]
    for row in found["rows"].values():
        assert row["params"] > 0 and row["flops_per_sample"] > 0 and row["peak_memory_bytes"] > 0
        assert _positive(row["train_step"]["median"])
        assert all(_positive(r) for r in row["ratio"].values())
    assert found["rows"]["MulT (MMSA)"]["ratio"] == {"train_step": 1.0, "peak_memory_bytes": 1.0}
    assert "## MCR against MulT" in _render("mult", {**found, "device": "cpu"})


def test_export_comparison_says_when_emofuse_export_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "emofuse.export", None)
    found = compare_export(["toy_fusion_tiny"], settings=QUICK)
    assert "emofuse.export" in found["missing"] and found["rows"] == []
    assert "Not measured: emofuse.export" in _render("export", found)


def test_export_comparison_exports_and_compiles() -> None:
    pytest.importorskip("emofuse.export", reason="emofuse.export lands with issue #13.2")
    found = compare_export(["mcr_tiny"], settings=QUICK)
    (row,) = found["rows"]
    assert row["export_s"] > 0 and "torch.export" in row["forward"]["ratio"]
    assert "error" in row["compile"] or row["compile"]["compile_s"] > 0
    assert "## Export and compile" in _render("export", {**found, "device": "cpu"})
