"""Side-by-side comparisons measured in one run, each reported as ratios against a baseline
from the same run: the shared attention layer against ``torch.nn.MultiheadAttention`` and the
textbook formula, packed against padded frame CNNs, fusion blocks over sequence length,
``torch.compile`` against eager on the shared layers, activation checkpointing against plain
training, MCR's training step against MMSA's MulT, and exported models against eager."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from einops import rearrange
from torch import Tensor, nn

from benchmarks.measure import (
    Settings,
    backward_memory,
    loglog_slope,
    peak_memory,
    print_comparison,
    summary,
    tensor_bytes,
    time_calls,
    to_device,
)
from benchmarks.models import COMPILE_SETTLE_CALLS, count_flops
from emofuse.blocks.audio_visual_exchange import build_cross_modal
from emofuse.encoders import set_gradient_checkpointing
from emofuse.layers import MultiHeadAttention, TransformerEncoder, run_on_valid_steps
from emofuse.registry import build

PASSES = ("forward", "forward+backward")


def lengths_mask(batch: int, length: int, valid_fraction: float, device: torch.device) -> Tensor:
    """(B, T) key-padding mask: the first row full, the others spread evenly down to
    ``valid_fraction`` of the steps (at least one)."""
    shortest = max(1, round(valid_fraction * length))
    lengths = torch.linspace(length, shortest, batch, device=device).round()
    return torch.arange(length, device=device) < lengths[:, None]


@contextlib.contextmanager
def _pass_mode(modules: Sequence[nn.Module], pass_name: str) -> Iterator[None]:
    """Eval and no_grad for a forward pass; train mode for forward+backward."""
    for m in modules:
        m.train(pass_name != "forward")
    with torch.no_grad() if pass_name == "forward" else contextlib.nullcontext():
        yield


def _call(fn: Callable[[], Any], pass_name: str) -> Callable[[], Any]:
    """``fn`` for a forward pass; ``fn`` then a backward through the sum of its outputs."""
    if pass_name == "forward":
        return fn

    def forward_backward() -> None:
        out = fn()
        outs = out if isinstance(out, tuple | list) else (out,)
        sum(o.float().sum() for o in outs if isinstance(o, Tensor)).backward()

    return forward_backward


def _measure(
    fns: Mapping[str, Callable[[], Any]],
    baseline: str,
    settings: Settings,
    device: torch.device,
    label: str,
    sub_label: str,
) -> dict[str, Any]:
    """Interleaved timings and paired ratios against ``baseline`` (see ``time_calls``),
    printed as ``torch.utils.benchmark.Compare`` tables as they come."""
    measured, ratios = time_calls(
        fns, settings, device, label=label, sub_label=sub_label, baseline=baseline
    )
    print_comparison(measured.values())
    return {"times": {k: summary(m) for k, m in measured.items()}, "ratio": ratios}


# -- attention --------------------------------------------------------------------------------
class PlainAttention(nn.Module):
    """The textbook formula on the projections of a :class:`MultiHeadAttention`:
    ``softmax(QKᵀ/√d + mask) V`` with the (B, heads, T, T) scores materialised."""

    def __init__(self, attention: MultiHeadAttention) -> None:
        super().__init__()
        self.attention = attention

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        a = self.attention
        q, k, v = (
            rearrange(proj(x), "b t (h d) -> b h t d", h=a.num_heads)
            for proj in (a.q_proj, a.k_proj, a.v_proj)
        )
        scores = q @ k.transpose(-2, -1) / math.sqrt(a.head_dim)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
        context = scores.softmax(-1) @ v
        return a.out_proj(rearrange(context, "b h t d -> b t (h d)"))


def attention_implementations(
    dim: int, heads: int, device: torch.device
) -> dict[str, tuple[nn.Module, Callable[[Tensor, Tensor | None], Tensor]]]:
    """Self-attention implementations with equal weights: name → (module, call(x, valid))."""
    reference = nn.MultiheadAttention(dim, heads, batch_first=True).to(device)
    ours = MultiHeadAttention(dim, num_heads=heads).to(device)
    ours.load_torch_weights(reference)
    plain = PlainAttention(ours)
    return {
        "nn.MultiheadAttention": (
            reference,
            lambda x, m: reference(
                x, x, x, key_padding_mask=None if m is None else ~m, need_weights=False
            )[0],
        ),
        "emofuse MultiHeadAttention": (ours, lambda x, m: ours(x, key_padding_mask=m)),
        "plain matmul-softmax-matmul": (plain, lambda x, m: plain(x, m)),
    }


def compare_attention(
    shapes: Sequence[tuple[int, int, int, int]],
    device: torch.device | str = "cpu",
    *,
    settings: Settings | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Time self-attention implementations at each (B, T, dim, heads), without and with a
    key-padding mask (rows down to half valid), forward (eval, no_grad) and forward+backward.
    Baseline: ``torch.nn.MultiheadAttention`` (whose inference fast path runs in eval)."""
    device, settings = torch.device(device), settings or Settings()
    rows = []
    for b, t, dim, heads in shapes:
        impls = attention_implementations(dim, heads, device)
        x = torch.randn(b, t, dim, device=device)
        for masked in (False, True):
            mask = lengths_mask(b, t, 0.5, device) if masked else None
            for pass_name in PASSES:
                log(f"  attention B={b} T={t} d={dim} h={heads} mask={masked} {pass_name}")
                modules = [module for module, _ in impls.values()]
                with _pass_mode(modules, pass_name):
                    fns = {
                        name: _call(lambda call=call, x=x, mask=mask: call(x, mask), pass_name)
                        for name, (_, call) in impls.items()
                    }
                    measured = _measure(
                        fns,
                        "nn.MultiheadAttention",
                        settings,
                        device,
                        f"attention {pass_name}",
                        f"B={b} T={t} d={dim} h={heads}" + (" masked" if masked else ""),
                    )
                rows.append(
                    {
                        "B": b,
                        "T": t,
                        "dim": dim,
                        "heads": heads,
                        "mask": masked,
                        "pass": pass_name,
                        **measured,
                    }
                )
    return {"baseline": "nn.MultiheadAttention", "rows": rows}


# -- frame CNNs on packed valid frames --------------------------------------------------------
def resnet18_frames() -> nn.Module:
    """torchvision's ResNet-18 (random init) as a frame encoder: (N, 3, H, W) → (N, 512)."""
    from torchvision.models import resnet18

    cnn = resnet18(weights=None)
    cnn.fc = nn.Identity()
    return cnn


def compare_frame_packing(
    device: torch.device | str = "cpu",
    *,
    batch: int = 4,
    frames: int = 16,
    size: int = 64,
    valid_fraction: float = 0.5,
    cnn: nn.Module | None = None,
    settings: Settings | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """A frame CNN on the valid frames only (``run_on_valid_steps``) against the same CNN on
    every padded frame, with ``valid_fraction`` of the frames valid over the batch. Baseline:
    padded."""
    device, settings = torch.device(device), settings or Settings()
    cnn_name = "ResNet-18" if cnn is None else type(cnn).__name__
    cnn = (cnn or resnet18_frames()).to(device)
    x = torch.randn(batch, frames, 3, size, size, device=device)
    valid = round(valid_fraction * frames)
    mask = (torch.arange(frames, device=device) < valid).expand(batch, frames).contiguous()

    def padded() -> Tensor:
        out = cnn(rearrange(x, "b t c h w -> (b t) c h w"))
        return rearrange(out, "(b t) d -> b t d", b=batch) * mask[..., None]

    impls = {"padded": padded, "packed": lambda: run_on_valid_steps(cnn, x, mask)}
    rows = []
    for pass_name in PASSES:
        log(f"  frames B={batch} T={frames} {size}x{size} {pass_name}")
        with _pass_mode([cnn], pass_name):
            fns = {name: _call(fn, pass_name) for name, fn in impls.items()}
            measured = _measure(fns, "padded", settings, device, "frame CNN", pass_name)
            rows.append({"pass": pass_name, **measured})
    return {
        "baseline": "padded",
        "cnn": cnn_name,
        "batch": batch,
        "frames": frames,
        "size": size,
        "valid_frames": int(mask.sum()),
        "total_frames": batch * frames,
        "rows": rows,
    }


# -- fusion blocks over sequence length ----------------------------------------------------------
FusionConstructor = Callable[[int], nn.Module]
"""Builds a two-stream fusion block of width ``dim``. The block is called as
``block(a, b, a_mask, b_mask)`` with a, b: (B, T, dim) and masks (B, T) bool, True = valid,
and returns a tensor or a tuple of tensors."""


def cross_modal_block(kind: str, **options: int) -> FusionConstructor:
    """A constructor of the cross-modal encoder ``kind`` of :func:`build_cross_modal` at the
    width it is given: 8 heads, 1 layer, 4 bottleneck tokens (Xia et al. 2022's setting), no
    dropout (the sweep compares the computation, not the regulariser)."""
    settings = {"num_heads": 8, "num_layers": 1, "num_bottlenecks": 4, **options}

    def make(dim: int) -> nn.Module:
        return cast(nn.Module, build_cross_modal(kind, d_model=dim, dropout=0.0, **settings))

    return make


FUSION_BLOCKS: dict[str, FusionConstructor] = {
    "JointTransformer": cross_modal_block("joint"),
    "BiCrossAttention": cross_modal_block("bicross"),
    "BottleneckTransformer": cross_modal_block("mbt"),
}
"""The blocks :func:`compare_fusion_blocks` sweeps by default: the audio-video encoders of
Xia et al. 2022's table 5 (joint attention over the concatenated streams, whose cost grows
with (Ta + Tv)²; MulT-style bidirectional cross-attention, Ta·Tv; the multimodal bottleneck
transformer, (Ta + Tv)·N_b). The first is the baseline. Add an entry (name → constructor
taking ``dim``) to include another block."""


def compare_fusion_blocks(
    blocks: Mapping[str, FusionConstructor] | None = None,
    *,
    lengths: Sequence[int] = (32, 64, 128, 256, 512, 1024, 2048),
    dim: int = 64,
    batch: int = 2,
    device: torch.device | str = "cpu",
    settings: Settings | None = None,
    max_call_s: float = 5.0,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Sweep two streams of equal length T through each block at width ``dim``: forward and
    forward+backward time and peak memory per T, ratios against the first block (the
    baseline), and the log-log slope of each (the exponent k in cost ∝ Tᵏ) fitted over the
    upper half of the lengths. Rows run down to half valid. A block leaves the sweep once one
    call takes more than ``max_call_s``.
    """
    blocks = dict(FUSION_BLOCKS if blocks is None else blocks)
    device, settings = torch.device(device), settings or Settings()
    baseline = next(iter(blocks))
    modules = {}
    for name, make in blocks.items():
        torch.manual_seed(0)
        modules[name] = make(dim).to(device)
    points: dict[str, list[dict[str, Any]]] = {name: [] for name in blocks}
    active = list(blocks)
    for t in lengths:
        if baseline not in active:
            break
        log(f"  fusion T={t}: {', '.join(active)}")
        a, b = (torch.randn(batch, t, dim, device=device) for _ in range(2))
        mask = lengths_mask(batch, t, 0.5, device)
        found: dict[str, dict[str, Any]] = {name: {"T": t, "ratio": {}} for name in active}
        for pass_name in PASSES:
            with _pass_mode([modules[n] for n in active], pass_name):
                fns = {
                    n: _call(lambda m=modules[n], a=a, b=b, k=mask: m(a, b, k, k), pass_name)
                    for n in active
                }
                measured = _measure(
                    fns, baseline, settings, device, f"fusion {pass_name}", f"T={t}"
                )
                for n in active:
                    found[n][pass_name] = measured["times"][n]
                    found[n]["ratio"][pass_name] = measured["ratio"][n]
                    if pass_name == "forward+backward":
                        found[n]["peak_memory_bytes"], _ = peak_memory(fns[n], device, [a, b])
        for n in active:
            found[n]["ratio"]["peak_memory_bytes"] = (
                found[n]["peak_memory_bytes"] / found[baseline]["peak_memory_bytes"]
            )
            points[n].append(found[n])
        active = [n for n in active if found[n]["forward+backward"]["median"] <= max_call_s]
    results = {}
    for name, pts in points.items():
        upper = pts[len(pts) // 2 :] if len(pts) > 2 else pts
        slope = {
            key: loglog_slope([p["T"] for p in upper], [_value(p, key) for p in upper])
            for key in (*PASSES, "peak_memory_bytes")
        }
        params = sum(p.numel() for p in modules[name].parameters())
        results[name] = {"params": params, "points": pts, "slope": slope}
    return {"baseline": baseline, "dim": dim, "batch": batch, "blocks": results}


def _value(point: Mapping[str, Any], key: str) -> float:
    value = point[key]
    return float(value["median"] if isinstance(value, Mapping) else value)


# -- activation checkpointing ------------------------------------------------------------------
CHECKPOINT_MODELS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mer_sem_mbt_tiny", {}),
    ("av_attention_fusion_tiny", {}),
    ("emotion_query_transformer_tiny", {}),
    ("colearning_transformer_tiny", {}),
    ("mer_sem_mbt", {}),
    ("colearning_transformer", {}),
    # the paper's 3D ResNet-101 and ResNet-18 on one short, small snippet: fits a CPU
    (
        "av_attention_fusion",
        {"num_snippets": 1, "frames_per_snippet": 8, "face_size": 112, "audio_size": 112},
    ),
)
"""(registry name, config overrides) of the models :func:`compare_checkpointing` measures."""


def compare_checkpointing(
    models: Sequence[tuple[str, Mapping[str, Any]]] = CHECKPOINT_MODELS,
    device: torch.device | str = "cpu",
    *,
    batch: int = 8,
    settings: Settings | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """A training step's forward and backward (no optimizer) on each model's
    ``example_inputs(batch)``, plain and with the backbones checkpointed
    (:func:`emofuse.encoders.set_gradient_checkpointing`, the models' ``gradient_checkpointing``
    field): the activation memory held when the forward pass ends, the peak memory of the step
    (weights, buffers and inputs included), the time, and their ratios. Baseline: plain."""
    device, settings = torch.device(device), settings or Settings()
    rows = []
    for name, overrides in models:
        log(f"  checkpointing {name} {dict(overrides) or ''}")
        torch.manual_seed(0)
        model = build(name, **overrides).to(device).train()
        inputs = model.example_inputs(batch, generator=torch.Generator().manual_seed(0))
        inputs = to_device(inputs, device)

        def loss(
            enabled: bool, model: nn.Module = model, inputs: dict[str, Any] = inputs
        ) -> Tensor:
            set_gradient_checkpointing(model, enabled)
            model.zero_grad(set_to_none=True)
            return model(**inputs).logits.float().square().mean()

        variants = {"plain": False, "checkpointed": True}
        live = tensor_bytes(model, inputs)
        held, peak = {}, {}
        for variant, enabled in variants.items():
            model.zero_grad(set_to_none=True)  # free the last gradients unprofiled
            held[variant], step_peak = backward_memory(lambda e=enabled: loss(e), device)
            peak[variant] = live + step_peak
        fns = {v: lambda e=e: loss(e).backward() for v, e in variants.items()}
        measured = _measure(fns, "plain", settings, device, "checkpointing", name)
        measured["ratio"]["activations_held"] = held["checkpointed"] / held["plain"]
        measured["ratio"]["peak_memory_bytes"] = peak["checkpointed"] / peak["plain"]
        rows.append(
            {
                "model": name,
                "overrides": dict(overrides),
                "params": sum(p.numel() for p in model.parameters()),
                "live_bytes": live,
                "activations_held": held,
                "peak_memory_bytes": peak,
                **measured,
            }
        )
        del model, inputs, fns
    return {"baseline": "plain", "batch": batch, "rows": rows}


# -- torch.compile on the shared layers ----------------------------------------------------------
def compare_compile(
    device: torch.device | str = "cpu",
    *,
    shape: tuple[int, int, int, int] = (8, 128, 256, 4),
    settings: Settings | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """``torch.compile(fullgraph=True)`` (inductor) against eager on the shared attention
    layer and a two-layer encoder at one (B, T, dim, heads), with a key-padding mask.
    Baseline: eager."""
    device, settings = torch.device(device), settings or Settings()
    b, t, dim, heads = shape
    x = torch.randn(b, t, dim, device=device)
    mask = lengths_mask(b, t, 0.5, device)
    layers: dict[str, tuple[nn.Module, Callable[[nn.Module], Tensor]]] = {
        "MultiHeadAttention": (
            MultiHeadAttention(dim, num_heads=heads),
            lambda m: m(x, key_padding_mask=mask),
        ),
        "TransformerEncoder (2 layers)": (
            TransformerEncoder(dim, num_layers=2, num_heads=heads, ffn_dim=4 * dim, dropout=0.0),
            lambda m: m(x, mask),
        ),
    }
    rows = []
    for name, (module, call) in layers.items():
        module.to(device)
        torch.compiler.reset()
        compiled = torch.compile(module, fullgraph=True)
        for pass_name in PASSES:
            log(f"  compile {name} {pass_name}")
            with _pass_mode([module], pass_name):
                fns = {
                    variant: _call(lambda net=net, call=call: call(net), pass_name)
                    for variant, net in (("eager", module), ("compiled", compiled))
                }
                start = time.perf_counter()
                fns["compiled"]()
                compile_s = time.perf_counter() - start
                for _ in range(COMPILE_SETTLE_CALLS):  # compiled code settles first
                    fns["compiled"]()
                measured = _measure(
                    fns, "eager", settings, device, "compile", f"{name} {pass_name}"
                )
            rows.append({"layer": name, "pass": pass_name, "compile_s": compile_s, **measured})
    return {"baseline": "eager", "B": b, "T": t, "dim": dim, "heads": heads, "rows": rows}


# -- MCR against MulT --------------------------------------------------------------------------
MULT_INSTALL = "pip install MMSA"
"""How to get the baseline of :func:`compare_mult`: MMSA, the multimodal sentiment analysis
toolkit that ships MulT (Tsai et al. 2019) as its authors wrote it (``MMSA.models.singleTask.
MULT``). It is not an emofuse dependency: install it in the environment that runs the suite.
Its metadata asks for pandas, easydict, nvidia-ml-py3 and scikit-learn besides torch."""


@dataclass(frozen=True)
class MultimodalPreset:
    """Sizes shared by the two models :func:`compare_mult` trains."""

    name: str
    seq_lens: tuple[int, int, int]  # text, video, audio
    input_dims: tuple[int, int, int]  # text, video, audio
    d_model: int
    num_heads: int
    num_layers: int
    batch: int


MOSEI = MultimodalPreset(
    name="CMU-MOSEI (unaligned)",
    seq_lens=(50, 500, 500),
    input_dims=(300, 35, 74),
    d_model=40,
    num_heads=8,
    num_layers=4,
    batch=8,
)
"""MCR's MOSEI column (Yang et al. 2023, table 1: d = 40, 8 heads, 4 layers), the unaligned
CMU-MOSEI lengths MCR is built for, GloVe/Facet/COVAREP widths, batch 8."""


def mmsa_mult(preset: MultimodalPreset = MOSEI) -> nn.Module:
    """MulT as MMSA ships it, with MMSA's CMU-MOSEI settings (dropouts, Conv1d kernels, its
    three-layer-minimum memory transformers) at the preset's width, heads and depth, for
    regression from GloVe text (no BERT).

    Raises:
        ImportError: MMSA is not installed (the message says how to install it).
    """
    try:
        from MMSA.config import get_config_regression
        from MMSA.models.singleTask.MULT import MULT
    except ImportError as error:
        raise ImportError(
            f"the MulT baseline needs MMSA, which is not installed ({error}); "
            f"`{MULT_INSTALL}` in this environment (not an emofuse dependency)"
        ) from error
    args = get_config_regression("mult", "mosei")
    text, video, audio = preset.input_dims
    args.update(
        feature_dims=[text, audio, video],  # MMSA's order: text, audio, video
        dst_feature_dim_nheads=[preset.d_model, preset.num_heads],
        nlevels=preset.num_layers,
        use_bert=False,
        train_mode="regression",
    )
    return cast(nn.Module, MULT(args))


def _mmsa_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("MMSA")
    except PackageNotFoundError:
        return None


def compare_mult(
    device: torch.device | str = "cpu",
    *,
    preset: MultimodalPreset = MOSEI,
    settings: Settings | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """One training step (forward, L1 loss, backward, Adam step) of emofuse's ``mcr`` and of
    MMSA's MulT at the same lengths, width, heads, depth and batch, each with its own paper's
    dropout settings, timed in interleaved rounds: time and peak memory per step, parameters,
    forward FLOPs per sample and their ratios to MulT (the baseline). Without MMSA installed,
    the section says so (``"missing"``) instead of measuring.
    """
    device, settings = torch.device(device), settings or Settings()
    found: dict[str, Any] = {"baseline": "MulT (MMSA)", "preset": dict(preset.__dict__)}
    try:
        torch.manual_seed(0)
        mult = mmsa_mult(preset).to(device)
    except ImportError as error:
        log(f"  MulT comparison skipped: {error}")
        return {**found, "missing": str(error)}
    found["mmsa_version"] = _mmsa_version()
    torch.manual_seed(0)
    mcr = build(
        "mcr",
        seq_lens=preset.seq_lens,
        input_dims=preset.input_dims,
        d_model=preset.d_model,
        num_heads=preset.num_heads,
        num_layers=preset.num_layers,
    ).to(device)
    found["mcr_dropout"] = mcr.config.dropout
    generator = torch.Generator().manual_seed(0)
    inputs = to_device(mcr.example_inputs(preset.batch, generator=generator), device)
    target = torch.zeros(preset.batch, 1, device=device)
    calls: dict[str, tuple[nn.Module, Callable[[], Tensor]]] = {
        "MulT (MMSA)": (
            mult,  # MulT has no padding masks: it reads every step, as here
            lambda: mult(inputs["text"], inputs["audio"], inputs["video"])["M"],
        ),
        "mcr": (mcr, lambda: mcr(**inputs).logits),
    }
    steps, rows = {}, {}
    for name, (model, forward) in calls.items():
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(forward=forward, optimizer=optimizer) -> None:
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.l1_loss(forward(), target).backward()
            optimizer.step()

        model.train()
        step()  # Adam's state exists before memory is measured
        optimizer.zero_grad(set_to_none=True)  # free the last gradients unprofiled
        log(f"  MulT comparison: peak memory of {name}")
        peak, method = peak_memory(step, device, live=[model, optimizer.state, inputs])
        model.eval()
        flops = count_flops(forward)
        model.train()
        steps[name] = step
        rows[name] = {
            "params": sum(p.numel() for p in model.parameters()),
            "flops_per_sample": flops / preset.batch,
            "peak_memory_bytes": peak,
        }
        found["memory_method"] = method
    log(f"  MulT comparison: training steps at batch {preset.batch}")
    measured = _measure(steps, "MulT (MMSA)", settings, device, "MulT", "training step")
    base = rows["MulT (MMSA)"]
    for name, row in rows.items():
        row["train_step"] = measured["times"][name]
        row["ratio"] = {
            "train_step": measured["ratio"][name],
            "peak_memory_bytes": row["peak_memory_bytes"] / base["peak_memory_bytes"],
        }
    return {**found, "rows": rows}


# -- export and compile ------------------------------------------------------------------------
EXPORT_MODELS = (
    "av_attention_fusion_tiny",
    "colearning_transformer_tiny",
    "emotion_query_transformer_tiny",
    "mcr_tiny",
    "mer_sem_mbt_tiny",
)
"""The models :func:`compare_export` exports and compiles by default."""


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its wall seconds."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300] if text else ''}"


def compare_export(
    models: Sequence[str] = EXPORT_MODELS,
    device: torch.device | str = "cpu",
    *,
    batch: int = 2,
    settings: Settings | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Deployment figures per model, on its ``example_inputs(batch)``: the seconds that
    ``emofuse.export`` takes to trace a ``torch.export`` program and to write an ONNX graph,
    the eval forward of the exported program and of the ONNX graph in onnxruntime against
    eager PyTorch (interleaved; baseline: eager), and whether the training step (forward,
    backward) compiles with ``torch.compile(fullgraph=True)``, its compile seconds and its
    time against eager. A step that fails records its error. Without ``emofuse.export`` (or
    the ``emofuse[export]`` extra, for ONNX) the section says what is missing.
    """
    import importlib
    import tempfile

    device, settings = torch.device(device), settings or Settings()
    try:
        exporting: Any = importlib.import_module("emofuse.export")
    except ImportError as error:
        return {"missing": f"emofuse.export is not available ({error})", "rows": []}
    rows = []
    for name in models:
        log(f"  export {name}")
        torch.manual_seed(0)
        model = build(name).to(device).eval()
        inputs = to_device(
            model.example_inputs(batch, generator=torch.Generator().manual_seed(0)), device
        )
        row: dict[str, Any] = {"model": name, "batch": batch, "errors": {}}
        fns: dict[str, Callable[[], Any]] = {"eager": lambda m=model, x=inputs: m(**x)}
        try:
            program, row["export_s"] = _timed(exporting.export_program, model, inputs)
            module = program.module()
            fns["torch.export"] = lambda m=module, x=inputs: m(**x)
        except Exception as error:  # one failing model must not stop the suite
            row["errors"]["torch.export"] = _first_line(error)
        with tempfile.TemporaryDirectory() as folder:
            try:
                path, row["onnx_export_s"] = _timed(
                    exporting.export, model, f"{folder}/model.onnx", format="onnx", inputs=inputs
                )
                exporting.run_onnx(path, inputs)  # the graph runs through emofuse's reader
                fns["onnxruntime"] = _onnx_session_call(path, inputs)
            except Exception as error:
                row["errors"]["onnx"] = _first_line(error)
            with torch.no_grad():
                measured = _measure(fns, "eager", settings, device, "export", name)
        row["forward"] = measured
        row["compile"] = _compile_training_step(model, inputs, settings, device)
        rows.append(row)
    return {"baseline": "eager", "batch": batch, "rows": rows}


def _onnx_session_call(path: Any, inputs: Mapping[str, Any]) -> Callable[[], Any]:
    """One onnxruntime session on ``path`` (threads as torch's), called on ``inputs``: the
    time of a run, without loading the graph each call."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {i.name: inputs[i.name].detach().cpu().numpy() for i in session.get_inputs()}
    return lambda: session.run(None, feed)


def _compile_training_step(
    model: nn.Module, inputs: Mapping[str, Any], settings: Settings, device: torch.device
) -> dict[str, Any]:
    """Forward and backward of ``model`` eager and under ``torch.compile(fullgraph=True)``."""
    model.train()
    torch.compiler.reset()
    compiled = torch.compile(model, fullgraph=True)

    def step(net: Callable[..., Any]) -> None:
        model.zero_grad(set_to_none=True)
        net(**inputs).logits.float().square().mean().backward()

    found: dict[str, Any] = {}
    try:
        _, found["compile_s"] = _timed(step, compiled)
        for _ in range(COMPILE_SETTLE_CALLS):
            step(compiled)
        fns = {"eager": lambda: step(model), "compiled": lambda: step(compiled)}
        found.update(_measure(fns, "eager", settings, device, "compile step", "training"))
    except Exception as error:
        found["error"] = _first_line(error)
    model.eval()
    return found
