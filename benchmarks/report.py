"""Render a benchmark results JSON into ``docs/benchmarks.md`` (the whole file)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SIZES_ALL = ("tiny", "paper")


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


def _on(section: Mapping[str, Any]) -> str:
    """Where a section's absolute figures were measured, for its column headings."""
    return str(section.get("device", "cpu")).upper()


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
    warmup = f"{s['warmup']} warm-up call" + ("" if s["warmup"] == 1 else "s")
    return [
        "How it is measured:",
        "",
        f"- Times are {clock}, taken by `torch.utils.benchmark.Timer`: after {warmup} and a "
        f"`blocked_autorange` estimate, the median over up to {s['reps']} repetitions (each at "
        f"least {s['min_run_time'] * 1e3:.0f} ms of calls), at most about {s['budget_s']:g} s "
        "per measurement; the interquartile range in "
        "parentheses. Absolute figures hold for the device named in each heading.",
        "- Implementations compared side by side run in interleaved rounds; a ratio is the "
        "median over rounds of the time divided by the baseline's time in the same round "
        "(below 1× is faster than the baseline).",
        "- Peak memory on CUDA is `torch.cuda.max_memory_allocated` (peak statistics reset "
        "before the call). On CPU it is the bytes of the tensors live before the call "
        "(weights, optimizer state, inputs) plus the peak of what the CPU allocator holds "
        "during the call, from `torch.profiler` with `profile_memory=True` (memory an "
        "operator frees before it returns is not seen).",
        "- FLOPs count 2 per multiply-accumulate (`FlopCounterMode`): one eval forward at "
        "batch 1 on the model's `example_inputs(1)`.",
        "",
    ]


def _models(results: Mapping[str, Any]) -> list[str]:
    lines = ["## Models", ""]
    settings = results.get("settings", {})
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
            sps = r.get("train_samples_per_s")
            rows.append(
                [
                    f"`{m['name']}`",
                    m["device"],
                    f"{m['params']:,}",
                    _num(m["flops_per_sample"] / 1e9),
                    r["mode"],
                    r["dtype"],
                    _spread(r["latency"]),
                    "–"
                    if sps is None
                    else f"{_num(sps['median'])} ({_num(sps['q1'])}–{_num(sps['q3'])})",
                    _ms(r.get("train_step")),
                    _mib(r.get("peak_memory_bytes")),
                    f"{r['first_forward_s']:.2f}",
                ]
            )
        if m.get("train_skipped"):
            skipped.append(
                f"- `{m['name']}` ({m['device']}): training not measured, {m['train_skipped']}"
            )
    batch = next((m["train_batch"] for m in models if "train_batch" in m), None)
    compiled = (
        f"Compiled runs: sizes {', '.join(settings.get('compile_sizes', SIZES_ALL))}, dtypes "
        f"{', '.join(settings.get('compile_dtypes', settings.get('dtypes', [])))} "
        "(`torch.compile`, inductor, static shapes)."
        if "compile" in settings.get("modes", ["compile"])
        else "No compiled runs (`--modes eager`)."
    )
    lines.append(
        f"Training is forward, backward and an AdamW step at batch {batch} on the model's "
        "`example_inputs`, with the loss of its task; bf16 is `torch.autocast`. "
        "*first call s* is the first batch-1 forward (compilation included for compile). "
        + compiled
    )
    lines += ["", *_table(header, rows)]
    if skipped or errors:
        lines += [*skipped, *errors, ""]
    return lines


def _imports(section: Mapping[str, Any]) -> list[str]:
    base = section["baseline"]
    body = [
        [f"`{name}`", _num(seconds), _ratio(section["ratio"][name])]
        for name, seconds in section["seconds"].items()
    ]
    return [
        "## Start-up time",
        "",
        f"{'CPU time (user + system)' if section.get('clock') == 'cpu' else 'Wall time'} of "
        "each command in a fresh interpreter (Python's own start-up included), "
        f"the median of {section['repeats']} interleaved rounds after a warm-up round; the "
        f"ratio is to `{base}` in the same round. `import emofuse` registers every model "
        "without importing torchvision, timm, transformers or torchaudio: a model or "
        "front-end imports the library it needs when it is built.",
        "",
        *_table(["command", f"seconds ({_on(section)})", f"ratio to `{base}`"], body),
    ]


def _attention(section: Mapping[str, Any]) -> list[str]:
    rows = section["rows"]
    impls = list(rows[0]["times"]) if rows else []
    base = section["baseline"]
    others = [i for i in impls if i != base]
    header = ["B", "T", "dim", "heads", "mask", "pass", f"{base} ms ({_on(section)})", *others]
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
        *_table(
            [
                "pass",
                f"padded ms ({_on(section)})",
                f"packed ms ({_on(section)})",
                "packed / padded",
            ],
            body,
        ),
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
        "The audio-video encoders of Xia et al. 2022's table 5 (`emofuse.blocks`: "
        "`JointTransformer` over the concatenated streams, MulT-style `BiCrossAttention`, the "
        "multimodal `BottleneckTransformer`), at equal width: two streams of equal length T "
        f"(batch {section['batch']}, d_m = {section['dim']}, 8 heads, 1 layer, 4 bottleneck "
        "tokens, no dropout, rows down to half valid). The slope is the exponent k in "
        "cost ∝ Tᵏ, a least-squares fit of log cost on log T over the upper half of the "
        f"lengths. Ratios are against `{base}` at the same T. Attention runs on "
        "`scaled_dot_product_attention`, whose fused kernels never hold a T × T score "
        "matrix, so memory grows linearly for every block; the quadratic cost shows in time.",
        "",
        *_table(
            ["block", "params", "slope forward", "slope forward+backward", "slope peak memory"],
            slope_rows,
        ),
    ]
    for key, title in (
        ("forward", f"forward ms ({_on(section)})"),
        ("forward+backward", f"forward+backward ms ({_on(section)})"),
        ("peak_memory_bytes", f"forward+backward peak MiB ({_on(section)})"),
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
            [
                "layer",
                "pass",
                f"eager ms ({_on(section)})",
                f"compiled ms ({_on(section)})",
                "compiled / eager",
                "compile s",
            ],
            body,
        ),
    ]


def _checkpointing(section: Mapping[str, Any]) -> list[str]:
    body = []
    for r in section["rows"]:
        overrides = ", ".join(f"{k}={v}" for k, v in r["overrides"].items())
        held, peak, ratio = r["activations_held"], r["peak_memory_bytes"], r["ratio"]
        body.append(
            [
                f"`{r['model']}`" + (f" ({overrides})" if overrides else ""),
                f"{r['params']:,}",
                f"{_mib(held['plain'])} → {_mib(held['checkpointed'])}",
                _ratio(ratio["activations_held"]),
                f"{_mib(peak['plain'])} → {_mib(peak['checkpointed'])}",
                _ratio(ratio["peak_memory_bytes"]),
                f"{_ms(r['times']['plain'])} → {_ms(r['times']['checkpointed'])}",
                _ratio(ratio["checkpointed"]),
            ]
        )
    return [
        "## Activation checkpointing",
        "",
        "One training step's forward and backward at batch "
        f"{section['batch']} on each model's `example_inputs`, plain and with "
        "`gradient_checkpointing=True` (the backbones' stages, or layers, keep only their inputs "
        "and recompute their activations in the backward pass). *Activations held* is the "
        "memory the forward pass leaves for the backward pass, what checkpointing cuts; the "
        "*peak* adds the weights, inputs and gradients, which dominate a large model at a small "
        "batch; time is the price of the recomputation.",
        "",
        *_table(
            [
                "model",
                "params",
                "activations held MiB",
                "ratio",
                f"peak MiB ({_on(section)})",
                "ratio",
                f"step ms ({_on(section)})",
                "time ratio",
            ],
            body,
        ),
    ]


def _mult(section: Mapping[str, Any]) -> list[str]:
    base = section["baseline"]
    lines = ["## MCR against MulT", ""]
    if section.get("missing"):
        return [
            *lines,
            f"Not measured: {section['missing']}. The baseline is MMSA's MulT (Tsai et al. "
            "2019), installed apart from emofuse for the benchmark only.",
            "",
        ]
    pre = section["preset"]
    text, video, audio = pre["seq_lens"]
    body = [
        [
            f"`{name}`" if name == "mcr" else name,
            f"{r['params']:,}",
            _num(r["flops_per_sample"] / 1e9),
            _spread(r["train_step"]),
            _ratio(r["ratio"]["train_step"]),
            _mib(r["peak_memory_bytes"]),
            _ratio(r["ratio"]["peak_memory_bytes"]),
        ]
        for name, r in section["rows"].items()
    ]
    return [
        *lines,
        f"One training step (forward, L1 loss, backward, Adam step) of emofuse's `mcr` and of "
        f"MulT (Tsai et al. 2019) as MMSA {section.get('mmsa_version') or ''} ships it "
        f"(`MMSA.models.singleTask.MULT`, installed apart: `pip install MMSA`), at batch "
        f"{pre['batch']}, the {pre['name']} lengths {text}/{video}/{audio} (text/video/audio), "
        f"width {pre['d_model']}, {pre['num_heads']} heads and {pre['num_layers']} layers for "
        f"both; MCR with its configured dropout ({section.get('mcr_dropout')}: attention "
        "weights, residual branches, feed-forward layers), MulT with MMSA's CMU-MOSEI "
        "dropouts and kernels. Timed in interleaved rounds; ratios are to "
        f"{base} (below 1× is faster, or smaller). FLOPs: one eval forward per sample.",
        "",
        *_table(
            [
                "model",
                "params",
                "GFLOPs/sample",
                f"step ms ({_on(section)})",
                "time ratio",
                f"peak MiB ({_on(section)})",
                "memory ratio",
            ],
            body,
        ),
    ]


def _export(section: Mapping[str, Any]) -> list[str]:
    lines = ["## Export and compile", ""]
    if section.get("missing"):
        return [*lines, f"Not measured: {section['missing']}.", ""]
    body, errors = [], []
    for r in section["rows"]:
        forward, step = r["forward"], r["compile"]
        ratio = forward["ratio"]

        def cell(key: str, r: Mapping[str, Any] = r, ratio: Mapping[str, Any] = ratio) -> str:
            return "–" if key not in ratio else _ratio(ratio[key])

        body.append(
            [
                f"`{r['model']}`",
                _num(r.get("export_s")),
                _num(r.get("onnx_export_s")),
                _spread(forward["times"]["eager"]),
                cell("torch.export"),
                cell("onnxruntime"),
                "fails" if "error" in step else _num(step["compile_s"]),
                "–" if "error" in step else _ratio(step["ratio"]["compiled"]),
            ]
        )
        errors += [f"- `{r['model']}` {what}: {error}" for what, error in r["errors"].items()]
        if "error" in step:
            errors.append(f"- `{r['model']}` torch.compile(fullgraph=True): {step['error']}")
    return [
        *lines,
        f"`emofuse.export` on each model's `example_inputs({section['batch']})`: seconds to "
        "trace the `torch.export` program and to write the ONNX graph (dynamic batch and "
        "lengths), then the eval forward of the exported program and of the ONNX graph in "
        "onnxruntime against eager PyTorch (ratios, interleaved). Last, the training step "
        "(forward, backward) under `torch.compile(fullgraph=True)`: compile seconds (first "
        "call) and its time against eager.",
        "",
        *_table(
            [
                "model",
                "export s",
                "ONNX export s",
                f"eager forward ms ({_on(section)})",
                "torch.export / eager",
                "onnxruntime / eager",
                "compile s",
                "compiled step / eager",
            ],
            body,
        ),
        *errors,
        *([""] if errors else []),
    ]


# Figures the papers report, beside ours: (model, quantity, paper's figure, our result key).
PAPER_FIGURES = (
    ("mer_sem_mbt", "parameters", "173M (Xia et al. 2022, sec. 4.3)", "params"),
    (
        "mer_sem_mbt",
        "FLOPs per sample",
        "7.22 G (sec. 4.3; matches 7.00 GMACs at one 0.96 s step and 50 tokens, see the "
        "model card)",
        "flops",
    ),
    (
        "mer_sem_mbt",
        "inference time",
        "about 0.2 s per video (sec. 4.3), on a TITAN RTX GPU",
        "latency",
    ),
    (
        "av_attention_fusion",
        "inference time",
        "235 ms per sample (table 4: a 16-frame snippet, six run in parallel), RTX 3090 Ti GPU",
        "latency",
    ),
    (
        "av_attention_fusion",
        "training memory",
        "12 GB peak (table 4) at batch 16 (sec. 4.2), RTX 3090 Ti GPU",
        "peak",
    ),
)


def _paper_figures(results: Mapping[str, Any]) -> list[str]:
    by_name = {m["name"]: m for m in results.get("models", []) if not m.get("skipped")}
    eager = {
        name: next((r for r in m["runs"] if r["mode"] == "eager" and r["dtype"] == "fp32"), {})
        for name, m in by_name.items()
    }
    rows = []
    for name, quantity, paper, key in PAPER_FIGURES:
        m, run = by_name.get(name), eager.get(name, {})
        if m is None:
            continue
        ours = {
            "params": f"{m['params']:,}",
            "flops": f"{_num(m['flops_per_sample'] / 1e9)} GFLOPs = "
            f"{_num(m['flops_per_sample'] / 2e9)} GMACs (example_inputs(1))",
            "latency": f"{_ms(run.get('latency'))} ms at batch 1, {m['device']}, fp32",
            "peak": "not measured here"
            if run.get("peak_memory_bytes") is None
            else f"{_mib(run['peak_memory_bytes'])} MiB at batch {m['train_batch']}",
        }[key]
        rows.append([f"`{name}`", quantity, paper, ours])
    if not rows:
        return []
    cuda = results["machine"].get("cuda_device")
    caveat = (
        f"Ours were measured on {cuda}."
        if cuda
        else "No GPU was available here: our times are CPU times and do not compare with the "
        "papers' GPU times; parameters and FLOPs do."
    )
    return [
        "## Beside the papers' figures",
        "",
        f"{caveat} Our FLOPs count 2 per multiply-accumulate at the model's `example_inputs(1)` "
        "(GMACs are half), which are not the papers' input sizes; the model cards give both "
        "at matching sizes.",
        "",
        *_table(["model", "quantity", "paper", "ours"], rows),
    ]


def _guide(results: Mapping[str, Any]) -> list[str]:
    cuda = results["machine"].get("cuda_device")
    where = (
        f"on {cuda}"
        if cuda
        else "on a CPU only (no GPU was available): with one thread and process CPU time the "
        "ratios are steady, absolute times are those of one CPU core"
    )
    return [
        "## How to read this, and what to run on a GPU",
        "",
        f"- These figures were measured {where}. Read the ratios (compiled / eager, packed / "
        "padded, block / baseline, checkpointed / plain) and the slopes; they carry over "
        "better than milliseconds.",
        "- *tiny* variants are the test-size models (random init, narrow backbones): their "
        "times show per-op overhead more than arithmetic. Paper configurations carry the real "
        "backbones.",
        "- On a GPU, regenerate everything with one command from a checkout: "
        "`python benchmarks/run.py` "
        "(CUDA is used when present; comparisons run on it; peak memory is "
        "`torch.cuda.max_memory_allocated`). Add `--compile-sizes tiny,paper` to compile the "
        "paper models, `--train-batch 16` for the papers' batch, and `--models 'av_*'` to "
        "select models. `python benchmarks/run.py --help` lists the options.",
        "",
    ]


def render_markdown(results: Mapping[str, Any]) -> str:
    """The whole ``docs/benchmarks.md`` for ``results`` (as written by the suite)."""
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python benchmarks/run.py --write-docs` from the results JSON; "
        "edit the generator (benchmarks/report.py), not this file. -->",
        "",
        *_machine(results),
        *_guide(results),
        *_method(results),
        *_models(results),
        *_paper_figures(results),
    ]
    comparisons = results.get("comparisons", {})
    for key, render in (
        ("imports", _imports),
        ("attention", _attention),
        ("frames", _frames),
        ("fusion", _fusion),
        ("compile", _compile),
        ("checkpointing", _checkpointing),
        ("mult", _mult),
        ("export", _export),
    ):
        if key in comparisons:
            lines += render(comparisons[key])
    return "\n".join(lines).rstrip() + "\n"
