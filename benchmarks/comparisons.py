"""Side-by-side comparisons measured in one run, each reported as ratios against a baseline
from the same run: the shared attention layer against ``torch.nn.MultiheadAttention`` and the
textbook formula, packed against padded frame CNNs, fusion blocks over sequence length,
``torch.compile`` against eager on the shared layers and activation checkpointing against
plain training."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from benchmarks.models import COMPILE_SETTLE_CALLS
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
