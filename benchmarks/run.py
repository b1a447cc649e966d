"""Run the emofuse benchmark suite from a checkout and regenerate its report.

``python benchmarks/run.py`` measures every library model (parameters, FLOPs, latency, training
throughput, peak memory; eager and compiled, fp32 and bf16), compares the shared layers with
their PyTorch counterparts, times ``import emofuse`` against ``import torch``, trains ``mcr``
beside MMSA's MulT at the CMU-MOSEI sizes (MMSA installed apart: ``pip install MMSA``) and
exports and compiles the tiny models (with ``emofuse.export``), then writes
``benchmarks/results.json`` and ``docs/benchmarks.md`` (the settings used are recorded in
both). ``--help`` lists the options; a ``--quick`` run (seconds to minutes) writes nowhere in
the checkout unless ``--out``/``--write-docs`` say so; ``--from-json PATH --write-docs``
re-renders the report without measuring.

Without a GPU the defaults suit one CPU core (:data:`CPU_DEFAULTS`): one thread timed by
process CPU time, training at batch 2, compiled runs in fp32 only, and no training step above
1,000 GFLOPs (the paper-size 3D ResNet-101 model gets latency only). ``python -m
benchmarks.run`` from the checkout's root is the same command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # `python benchmarks/run.py`: this checkout's packages

from benchmarks import comparisons  # noqa: E402
from benchmarks.measure import Settings, import_times, machine  # noqa: E402
from benchmarks.models import (  # noqa: E402
    DTYPES,
    MODES,
    SIZES,
    benchmark_model,
    select_models,
    size_of,
)
from benchmarks.report import render_markdown  # noqa: E402

COMPARISONS = (
    "imports",
    "attention",
    "frames",
    "fusion",
    "compile",
    "checkpointing",
    "mult",
    "export",
)
CPU_DEFAULTS = {
    "threads": 1,
    "clock": "cpu",
    "train_batch": 2,
    "compile_dtypes": "fp32",
    "max_train_gflops": 1000.0,
}


@dataclass(frozen=True)
class Preset:
    """Measurement settings and comparison sizes of a full or a ``--quick`` run."""

    settings: Settings
    attention_shapes: str  # BxTxDIMxHEADS,...
    fusion_lengths: str  # T,...
    frames: tuple[int, int, int]  # clips, frames per clip, frame side
    compile_shape: str  # BxTxDIMxHEADS
    checkpoint_models: tuple[tuple[str, dict[str, Any]], ...]
    checkpoint_batch: int
    import_repeats: int
    export_models: tuple[str, ...]


FULL = Preset(
    Settings(warmup=2, reps=7, min_run_time=0.02, budget_s=10.0),
    attention_shapes="8x32x128x4,8x128x256x4,4x512x256x8,2x1024x512x8",
    fusion_lengths="32,64,128,256,512,1024,2048",
    frames=(4, 16, 64),
    compile_shape="8x128x256x4",
    checkpoint_models=comparisons.CHECKPOINT_MODELS,
    checkpoint_batch=8,
    import_repeats=5,
    export_models=comparisons.EXPORT_MODELS,
)
QUICK = Preset(
    Settings(warmup=1, reps=3, min_run_time=0.005, budget_s=1.0),
    attention_shapes="2x16x32x4,4x64x64x4",
    fusion_lengths="32,64,128,256",
    frames=(2, 4, 32),
    compile_shape="2x32x64x4",
    checkpoint_models=tuple(m for m in comparisons.CHECKPOINT_MODELS if m[0].endswith("_tiny")),
    checkpoint_batch=2,
    import_repeats=2,
    export_models=("mcr_tiny",),
)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _choices(value: str, allowed: Sequence[str], name: str) -> list[str]:
    chosen = _csv(value)
    bad = [v for v in chosen if v not in allowed]
    if bad:
        raise ValueError(f"{name}: expected a comma-separated subset of {list(allowed)}, got {bad}")
    return chosen


def _shapes(value: str) -> list[tuple[int, int, int, int]]:
    shapes = []
    for item in _csv(value):
        parts = item.split("x")
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
            raise ValueError(f"shape: expected BxTxDIMxHEADS[,...], got {value!r}")
        b, t, dim, heads = (int(p) for p in parts)
        shapes.append((b, t, dim, heads))
    return shapes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite's options."""
    a = parser.add_argument
    a(
        "--models",
        default=None,
        help="comma-separated globs over registered names "
        "(default: every library paper configuration and its _tiny variant)",
    )
    a("--sizes", default=None, help="tiny,paper (default: both; tiny with --quick)")
    a("--devices", default=None, help="cpu,cuda (default: cpu, and cuda when present)")
    a("--modes", default=None, help="eager,compile (default: both; eager with --quick)")
    a("--dtypes", default=",".join(DTYPES), help="fp32,bf16 (bf16 = torch.autocast)")
    a(
        "--compile-sizes",
        default="tiny",
        help="sizes also measured compiled (default: tiny; compiling a paper model takes "
        "minutes on a CPU)",
    )
    a("--compile-dtypes", default=None, help="dtypes measured compiled (default: --dtypes)")
    a("--train-batch", type=int, default=8, help="batch for training throughput")
    a(
        "--max-train-gflops",
        type=float,
        default=None,
        help="measure only latency for a model whose training step (about 3x the forward "
        "FLOPs at the training batch) exceeds this",
    )
    a(
        "--comparisons",
        default=",".join(COMPARISONS),
        help=f"subset of {','.join(COMPARISONS)}, or 'none'",
    )
    a("--quick", action="store_true", help="few repetitions, small shapes: seconds to minutes")
    a("--reps", type=int, default=None, help="repetitions per measurement")
    a("--warmup", type=int, default=None, help="warm-up calls per measurement")
    a("--budget", type=float, default=None, help="about this many seconds per measurement")
    a(
        "--memory-fraction",
        type=float,
        default=0.5,
        help="skip a model whose training footprint estimate exceeds this share of free memory",
    )
    a("--attention-shapes", default=None, help="BxTxDIMxHEADS,... for the attention comparison")
    a("--fusion-lengths", default=None, help="T,... for the fusion-block sweep")
    a("--fusion-dim", type=int, default=64, help="width of the fusion-block sweep")
    a(
        "--max-call",
        type=float,
        default=5.0,
        help="stop a fusion block's sweep once one call takes longer (s)",
    )
    a("--threads", type=int, default=None, help="torch.set_num_threads")
    a(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time, or process CPU time (CPU runs; steadier on a shared machine, "
        "use with --threads 1)",
    )
    a("--note", default="", help="a line about the machine, written with the results")
    a("--out", default="benchmark-results.json", help="results JSON (written after the run)")
    a(
        "--from-json",
        default=None,
        metavar="PATH",
        help="measure nothing: render the results in PATH (with --write-docs)",
    )
    a(
        "--write-docs",
        nargs="?",
        const="docs/benchmarks.md",
        default=None,
        metavar="PATH",
        help="regenerate the markdown report (default docs/benchmarks.md) from the results",
    )


def run(args: argparse.Namespace, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure what ``args`` asks for; returns the results (also what is written as JSON)."""
    preset = QUICK if args.quick else FULL
    base = preset.settings
    settings = Settings(
        warmup=base.warmup if args.warmup is None else args.warmup,
        reps=base.reps if args.reps is None else args.reps,
        min_run_time=base.min_run_time,
        budget_s=base.budget_s if args.budget is None else args.budget,
        clock=args.clock,
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    default_devices = "cpu,cuda" if torch.cuda.is_available() else "cpu"
    devices = _choices(args.devices or default_devices, ("cpu", "cuda"), "devices")
    sizes = _choices(args.sizes or ("tiny" if args.quick else ",".join(SIZES)), SIZES, "sizes")
    modes = _choices(args.modes or ("eager" if args.quick else ",".join(MODES)), MODES, "modes")
    dtypes = _choices(args.dtypes, tuple(DTYPES), "dtypes")
    compile_sizes = _choices(args.compile_sizes, SIZES, "compile-sizes")
    compile_dtypes = _choices(args.compile_dtypes or ",".join(dtypes), tuple(DTYPES), "dtypes")
    chosen = (
        [] if args.comparisons == "none" else _choices(args.comparisons, COMPARISONS, "comparisons")
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: dict[str, Any] = {
        "schema": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/run.py "
        + shlex.join(argv if argv is not None else sys.argv[1:]),
        "note": args.note,
        "machine": machine(),
        "settings": {
            **settings.__dict__,
            "devices": devices,
            "sizes": sizes,
            "modes": modes,
            "dtypes": dtypes,
            "compile_sizes": compile_sizes,
            "compile_dtypes": compile_dtypes,
            "train_batch": args.train_batch,
            "max_train_gflops": args.max_train_gflops,
        },
        "models": [],
        "comparisons": {},
    }
    names = select_models(_csv(args.models) if args.models else None, sizes)
    for device in devices:
        for name in names:
            log(f"model {name} on {device}")
            results["models"].append(
                benchmark_model(
                    name,
                    device,
                    modes=[m for m in modes if m != "compile" or size_of(name) in compile_sizes],
                    dtypes=dtypes,
                    compile_dtypes=compile_dtypes,
                    train_batch=args.train_batch,
                    max_train_gflops=args.max_train_gflops,
                    settings=settings,
                    memory_fraction=args.memory_fraction,
                    log=log,
                )
            )
    # Comparisons run on the fastest device present: where the ratios matter most.
    device = "cuda" if "cuda" in devices else "cpu"
    found = results["comparisons"]
    if "mult" in chosen:
        # the paper-size comparison even in --quick runs: it is the figure that matters
        found["mult"] = comparisons.compare_mult(device, settings=settings, log=log)
        found["mult"]["device"] = device
    if "imports" in chosen:
        log("  import times")
        found["imports"] = import_times(repeats=preset.import_repeats, clock=args.clock)
        found["imports"]["device"] = "cpu"
    if "attention" in chosen:
        shapes = _shapes(args.attention_shapes or preset.attention_shapes)
        found["attention"] = comparisons.compare_attention(
            shapes,
            device,
            settings=settings,
            log=log,
        )
        found["attention"]["device"] = device
    if "frames" in chosen:
        batch, frames, size = preset.frames
        found["frames"] = comparisons.compare_frame_packing(
            device, batch=batch, frames=frames, size=size, settings=settings, log=log
        )
        found["frames"]["device"] = device
    if "fusion" in chosen:
        lengths = [int(t) for t in _csv(args.fusion_lengths or preset.fusion_lengths)]
        found["fusion"] = comparisons.compare_fusion_blocks(
            lengths=lengths,
            dim=args.fusion_dim,
            device=device,
            settings=settings,
            max_call_s=args.max_call,
            log=log,
        )
        found["fusion"]["device"] = device
    if "compile" in chosen:
        (shape,) = _shapes(preset.compile_shape)
        found["compile"] = comparisons.compare_compile(
            device,
            shape=shape,
            settings=settings,
            log=log,
        )
        found["compile"]["device"] = device
    if "checkpointing" in chosen:
        found["checkpointing"] = comparisons.compare_checkpointing(
            preset.checkpoint_models,
            device,
            batch=preset.checkpoint_batch,
            settings=settings,
            log=log,
        )
        found["checkpointing"]["device"] = device
    if "export" in chosen:
        found["export"] = comparisons.compare_export(
            preset.export_models, device, settings=settings, log=log
        )
        found["export"]["device"] = device
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), run, write. Without ``--quick`` the
    results go to ``benchmarks/results.json`` and ``docs/benchmarks.md``; without a GPU the
    defaults are :data:`CPU_DEFAULTS`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    defaults: dict[str, Any] = {} if torch.cuda.is_available() else dict(CPU_DEFAULTS)
    if "--quick" not in argv:
        defaults["out"] = str(ROOT / "benchmarks" / "results.json")
        defaults["write_docs"] = str(ROOT / "docs" / "benchmarks.md")
    parser.set_defaults(**defaults)
    return run_from_args(parser.parse_args(argv), argv)


def run_from_args(args: argparse.Namespace, argv: Sequence[str] | None = None) -> int:
    """Run (or load) the results, write the JSON and, when asked, the markdown report."""
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
    else:
        results = run(args, argv)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"results: {out}", file=sys.stderr)
    if args.write_docs:
        docs = Path(args.write_docs)
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_text(render_markdown(results))
        print(f"report: {docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
