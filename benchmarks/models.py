"""Per-model benchmarks driven by the registry: parameters, FLOPs, latency, training throughput
and peak memory, eager and compiled, fp32 and bf16 autocast."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.measure import Settings, available_memory, peak_memory, time_call, to_device
from emofuse import EmotionModel, build, list_models
from emofuse.registry import library_models

SIZES = ("tiny", "paper")
MODES = ("eager", "compile")
DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


def size_of(name: str) -> str:
    return "tiny" if name.endswith("_tiny") else "paper"


def select_models(patterns: Sequence[str] | None, sizes: Sequence[str]) -> list[str]:
    """Registry names to benchmark. Default: emofuse's paper configurations (the names that
    have a ``_tiny`` sibling) and their tiny variants; ``patterns`` are globs over every
    registered name (user models included)."""
    if patterns:
        names = sorted({n for p in patterns for n in list_models(p)})
    else:
        known = set(list_models())
        names = [n for n in library_models() if n.endswith("_tiny") or f"{n}_tiny" in known]
    return [n for n in names if size_of(n) in sizes]


def autocast(device: torch.device, dtype: str) -> contextlib.AbstractContextManager[Any]:
    target = DTYPES[dtype]
    if target is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=target)


def _inputs(model: EmotionModel, batch_size: int, device: torch.device) -> dict[str, Any]:
    inputs = model.example_inputs(batch_size, generator=torch.Generator().manual_seed(0))
    return to_device(inputs, device)


def _loss_fn(model: EmotionModel, batch_size: int, device: torch.device) -> Callable[..., Tensor]:
    """The loss that fits the model's task, on fixed targets."""
    task, classes = model.config.task, model.config.num_classes
    index = torch.arange(batch_size, device=device) % classes
    if task == "multiclass":
        return lambda logits: F.cross_entropy(logits.float(), index)
    if task == "multilabel":
        target = F.one_hot(index, classes).float()
        return lambda logits: F.binary_cross_entropy_with_logits(logits.float(), target)
    return lambda logits: logits.float().square().mean()


def _training_bytes(model: nn.Module) -> int:
    """Rough need for a training step: fp32 weights, gradients and two Adam moments for each
    trainable parameter, weights alone for frozen ones, doubled for activations."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return 2 * (16 * trainable + 4 * frozen)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of ``fn()`` (``FlopCounterMode``: 2 per multiply-accumulate), with attention on
    ``scaled_dot_product_attention``'s math backend: the counter has no formula for the fused
    CPU kernel, which it would count as 0."""
    with (
        torch.no_grad(),
        sdpa_kernel([SDPBackend.MATH]),
        FlopCounterMode(display=False) as counter,
    ):
        fn()
    return int(counter.get_total_flops())


def _error(error: Exception) -> str:
    return (
        f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300] if str(error) else ''}"
    )


COMPILE_SETTLE_CALLS = 10


def _settle(fn: Callable[[], Any], mode: str) -> None:
    """Extra warm-up for compiled code: its first calls after compilation run several times
    slower on a CPU (measured: about 8 calls for a model with graph breaks)."""
    for _ in range(COMPILE_SETTLE_CALLS if mode == "compile" else 0):
        fn()


def _run(
    model: EmotionModel,
    mode: str,
    dtype: str,
    device: torch.device,
    train_batch: int,
    settings: Settings,
    train: bool = True,
) -> dict[str, Any]:
    run: dict[str, Any] = {"mode": mode, "dtype": dtype}
    if mode == "compile":
        torch.compiler.reset()
        # static shapes: batch 1 and the training batch each get their own graph
        net: nn.Module = torch.compile(model, dynamic=False)  # type: ignore[assignment]
    else:
        net = model
    one = _inputs(model, 1, device)
    model.eval()
    with torch.no_grad(), autocast(device, dtype):
        start = time.perf_counter()
        net(**one)
        run["first_forward_s"] = time.perf_counter() - start  # includes compilation
        _settle(lambda: net(**one), mode)
        run["latency"] = time_call(lambda: net(**one), settings, device)
    if not train:
        model.eval()
        return run

    batch = _inputs(model, train_batch, device)
    loss_fn = _loss_fn(model, train_batch, device)
    optimizer = torch.optim.AdamW(model.param_groups(1e-4))
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            logits = net(**batch).logits
        loss_fn(logits).backward()
        optimizer.step()

    start = time.perf_counter()
    step()
    run["first_step_s"] = time.perf_counter() - start
    _settle(step, mode)
    timing = time_call(step, settings, device)
    run["train_step"] = timing
    run["train_samples_per_s"] = {
        "median": train_batch / timing["median"],
        "q1": train_batch / timing["q3"],
        "q3": train_batch / timing["q1"],
    }
    optimizer.zero_grad(set_to_none=True)  # free the last gradients unprofiled
    run["peak_memory_bytes"], run["memory_method"] = peak_memory(
        step, device, live=[model, optimizer.state, batch]
    )
    model.eval()
    return run


def benchmark_model(
    name: str,
    device: torch.device | str,
    *,
    modes: Sequence[str] = MODES,
    dtypes: Sequence[str] = tuple(DTYPES),
    compile_dtypes: Sequence[str] | None = None,
    train_batch: int = 8,
    max_train_gflops: float | None = None,
    settings: Settings | None = None,
    memory_fraction: float = 0.5,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Measure one registered model on ``device`` (see the module docstring): each of
    ``modes`` × ``dtypes``, compiled runs only in ``compile_dtypes`` (default: all).

    A model whose rough training footprint (weights, gradients, Adam state, ×2 for
    activations) exceeds ``memory_fraction`` of the free memory is skipped with the reason;
    training is skipped (latency still measured) when a step's FLOPs, about 3× the forward's
    at the training batch, exceed ``max_train_gflops``. A failing run records its error
    instead of stopping the suite.
    """
    device, settings = torch.device(device), settings or Settings()
    entry: dict[str, Any] = {"name": name, "size": size_of(name), "device": device.type}
    with torch.device("meta"):
        meta = build(name)
    entry["params"] = sum(p.numel() for p in meta.parameters())
    entry["trainable_params"] = sum(p.numel() for p in meta.parameters() if p.requires_grad)
    need, free = _training_bytes(meta), available_memory(device)
    if need > memory_fraction * free:
        entry["skipped"] = (
            f"needs about {need / 2**30:.1f} GiB to train, {free / 2**30:.1f} GiB free "
            f"(limit {memory_fraction:.0%})"
        )
        return entry
    torch.manual_seed(0)
    model = build(name).to(device)
    one = _inputs(model, 1, device)
    entry["flops_per_sample"] = count_flops(lambda: model.eval()(**one))
    entry["train_batch"] = train_batch
    step_gflops = 3 * train_batch * entry["flops_per_sample"] / 1e9
    train = max_train_gflops is None or step_gflops <= max_train_gflops
    if not train:
        entry["train_skipped"] = (
            f"a training step at batch {train_batch} is about {step_gflops:,.0f} GFLOPs "
            f"(limit {max_train_gflops:,.0f})"
        )
    entry["runs"] = []
    for mode in modes:
        for dtype in dtypes:
            if mode == "compile" and compile_dtypes is not None and dtype not in compile_dtypes:
                continue
            log(f"  {name} [{device.type}, {mode}, {dtype}]")
            try:
                entry["runs"].append(
                    _run(model, mode, dtype, device, train_batch, settings, train=train)
                )
            except Exception as error:  # one failing configuration must not stop the suite
                entry["runs"].append({"mode": mode, "dtype": dtype, "error": _error(error)})
    return entry
