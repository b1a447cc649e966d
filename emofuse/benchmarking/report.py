"""Render a benchmark results JSON into ``docs/benchmarks.md`` (the whole file)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _ms(t: Mapping[str, Any] | None) -> str:
    return "–" if t is None else _num(1e3 * t["median"])


def _spread(t: Mapping[str, Any] | None) -> str:
    if t is None:
        return "–"
    return f"{_num(1e3 * t['median'])} ({_num(1e3 * t['q1'])}–{_num(1e3 * t['q3'])})"


def _num(x: float | None) -> str:
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}" if x >= 0.01 else f"{x:.2g}"


def _ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def _mib(b: int | None) -> str:
    return "–" if b is None else f"{b / 2**20:,.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]


def _machine(results: Mapping[str, Any]) -> list[str]:
    m = results["machine"]
    cuda = m.get("cuda_device") or "none"
    lines = [
        f"Measured {results['created']} with `{results['command']}` on:",
        "",
        f"- CPU: {m['cpu']}, {m['cpu_cores']} cores, {m['cpu_capability']}; torch threads: "
        f"{m['torch_threads']}",
        f"- CUDA device: {cuda}",
        f"- torch {m['torch']}, torchvision {m.get('torchvision', '–')}, "
        f"Python {m['python']}, {m['platform']}",
    ]
    if results.get("note"):
        lines.append(f"- Note: {results['note']}")
    return [*lines, ""]


def _method(results: Mapping[str, Any]) -> list[str]:
    s = results["settings"]
    clock = (
        "process CPU time (`time.process_time`, which leaves out time spent waiting for a "
        "core on a shared machine)"
        if s.get("clock") == "cpu"
        else "wall-clock time"
    )
    return [
        "How it is measured:",
        "",
        f"- Times are {clock}: the median over up to {s['reps']} repetitions (each at least "
        f"{s['min_rep_s'] * 1e3:.0f} ms of calls) after {s['warmup']} warm-up calls, at most "
        f"about {s['budget_s']:g} s per measurement; the interquartile range in parentheses.",
        "- Implementations compared side by side run in interleaved rounds; a ratio is the "
        "median over rounds of the time divided by the baseline's time in the same round "
        "(below 1× is faster than the baseline).",
        "- Peak memory on CUDA is `torch.cuda.max_memory_allocated`. On CPU it is the bytes of "
        "the tensors live before the call (weights, optimizer state, inputs) plus the peak of "
        "the tensors the call's ops allocate, tracked per storage by a `TorchDispatchMode` "
        "(kernel scratch buffers are not seen; compiled code is not measured).",
        "- FLOPs count 2 per multiply-accumulate (`FlopCounterMode`): one eval forward at "
        "batch 1 on the model's `example_inputs(1)`.",
        "",
    ]


def _models(results: Mapping[str, Any]) -> list[str]:
    lines = ["## Models", ""]
    models = results.get("models", [])
    if not models:
        return [
            *lines,
            "No model was selected in this run (`--models` matched nothing, or no library "
            "model is registered).",
            "",
        ]
    header = [
        "model",
        "device",
        "params",
        "GFLOPs/sample",
        "mode",
        "dtype",
        "latency b=1 ms",
        "train samples/s",
        "train step ms",
        "peak train MiB",
        "first call s",
    ]
    rows, skipped, errors = [], [], []
    for m in models:
        if m.get("skipped"):
            skipped.append(
                f"- `{m['name']}` ({m['device']}, {m['params']:,} parameters): "
                f"skipped, {m['skipped']}"
            )
            continue
        for r in m["runs"]:
            if "error" in r:
                errors.append(
                    f"- `{m['name']}` {m['device']} {r['mode']} {r['dtype']}: {r['error']}"
                )
                continue
            sps = r["train_samples_per_s"]
            rows.append(
                [
                    f"`{m['name']}`",
                    m["device"],
                    f"{m['params']:,}",
                    _num(m["flops_per_sample"] / 1e9),
                    r["mode"],
                    r["dtype"],
                    _spread(r["latency"]),
                    f"{_num(sps['median'])} ({_num(sps['q1'])}–{_num(sps['q3'])})",
                    _ms(r["train_step"]),
                    _mib(r.get("peak_memory_bytes")),
                    f"{r['first_forward_s']:.2f}",
                ]
            )
    batch = next((m["train_batch"] for m in models if "train_batch" in m), None)
    lines.append(
        f"Training is forward, backward and an AdamW step at batch {batch} on the model's "
        "`example_inputs`, with the loss of its task; bf16 is `torch.autocast`. "
        "*first call s* is the first batch-1 forward (compilation included for compile)."
    )
    lines += ["", *_table(header, rows)]
    if skipped or errors:
        lines += [*skipped, *errors, ""]
    return lines


def _attention(section: Mapping[str, Any]) -> list[str]:
    rows = section["rows"]
    impls = list(rows[0]["times"]) if rows else []
    base = section["baseline"]
    others = [i for i in impls if i != base]
    header = ["B", "T", "dim", "heads", "mask", "pass", f"{base} ms", *others]
    body = [
        [
            str(r["B"]),
            str(r["T"]),
            str(r["dim"]),
            str(r["heads"]),
            "yes" if r["mask"] else "no",
            r["pass"],
            _spread(r["times"][base]),
            *(f"{_ratio(r['ratio'][i])} ({_ms(r['times'][i])} ms)" for i in others),
        ]
        for r in rows
    ]
    return [
        "## Attention layer",
        "",
        "Self-attention with equal weights: `emofuse.layers.MultiHeadAttention` and the "
        "textbook matmul-softmax-matmul (scores materialised) against "
        f"`{base}` (ratios to it). *forward* runs in eval under `no_grad` (where "
        "`nn.MultiheadAttention` takes its fused inference fast path); *forward+backward* in "
        "train mode. Masked rows are between fully valid and half valid.",
        "",
        *_table(header, body),
    ]


def _frames(section: Mapping[str, Any]) -> list[str]:
    body = [
        [
            r["pass"],
            _spread(r["times"]["padded"]),
            _spread(r["times"]["packed"]),
            _ratio(r["ratio"]["packed"]),
        ]
        for r in section["rows"]
    ]
    return [
        "## Frame CNN on packed valid frames",
        "",
        f"{section['cnn']} (random init) over a batch of {section['batch']} clips "
        f"× {section['frames']} frames of {section['size']}×{section['size']}, "
        f"{section['valid_frames']} of {section['total_frames']} frames valid: "
        "`emofuse.layers.run_on_valid_steps` (valid frames packed into one call) against the "
        "CNN on every padded frame.",
        "",
        *_table(["pass", "padded ms", "packed ms", "packed / padded"], body),
    ]


def _fusion(section: Mapping[str, Any]) -> list[str]:
    blocks = section["blocks"]
    base = section["baseline"]
    slope_rows = [
        [
            name,
            f"{b['params']:,}",
            *(_num(b["slope"][k]) for k in ("forward", "forward+backward", "peak_memory_bytes")),
        ]
        for name, b in blocks.items()
    ]
    lengths = sorted({p["T"] for b in blocks.values() for p in b["points"]})
    by_t = {name: {p["T"]: p for p in b["points"]} for name, b in blocks.items()}

    def cell(name: str, t: int, key: str) -> str:
        p = by_t[name].get(t)
        if p is None:
            return "–"
        value = _mib(p[key]) if key == "peak_memory_bytes" else _ms(p[key])
        if name == base or "ratio" not in p:
            return value
        return f"{value} ({_ratio(p['ratio'][key])})"

    lines = [
        "## Fusion blocks over sequence length",
        "",
        f"Two streams of equal length T (batch {section['batch']}, width {section['dim']}, "
        "rows down to half valid) through each block. The slope is the exponent k in "
        "cost ∝ Tᵏ, a least-squares fit of log cost on log T over the upper half of the "
        f"lengths. Ratios are against `{base}` at the same T.",
        "",
        *_table(
            ["block", "params", "slope forward", "slope forward+backward", "slope peak memory"],
            slope_rows,
        ),
    ]
    for key, title in (
        ("forward", "forward ms"),
        ("forward+backward", "forward+backward ms"),
        ("peak_memory_bytes", "forward+backward peak MiB"),
    ):
        lines += [f"{title}:", ""]
        lines += _table(
            ["T", *blocks], [[str(t), *(cell(n, t, key) for n in blocks)] for t in lengths]
        )
    return lines


def _compile(section: Mapping[str, Any]) -> list[str]:
    body = [
        [
            r["layer"],
            r["pass"],
            _spread(r["times"]["eager"]),
            _spread(r["times"]["compiled"]),
            _ratio(r["ratio"]["compiled"]),
            f"{r['compile_s']:.1f}",
        ]
        for r in section["rows"]
    ]
    return [
        "## torch.compile on the shared layers",
        "",
        f"`torch.compile(fullgraph=True)` (inductor) against eager at B={section['B']}, "
        f"T={section['T']}, dim={section['dim']}, heads={section['heads']}, with a "
        "key-padding mask. *compile s* is the first call, compilation included.",
        "",
        *_table(
            ["layer", "pass", "eager ms", "compiled ms", "compiled / eager", "compile s"], body
        ),
    ]


def render_markdown(results: Mapping[str, Any]) -> str:
    """The whole ``docs/benchmarks.md`` for ``results`` (as written by the suite)."""
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `emofuse bench --write-docs` from the results JSON; "
        "edit the generator (emofuse/benchmarking/report.py), not this file. -->",
        "",
        *_machine(results),
        *_method(results),
        *_models(results),
    ]
    comparisons = results.get("comparisons", {})
    for key, render in (
        ("attention", _attention),
        ("frames", _frames),
        ("fusion", _fusion),
        ("compile", _compile),
    ):
        if key in comparisons:
            lines += render(comparisons[key])
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["render_markdown"]
