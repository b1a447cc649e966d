"""Timing, memory and machine description shared by every benchmark.

Times are wall-clock medians over repetitions after warm-up, each repetition long enough
(``min_rep_s``) for the clock to resolve it; the spread is the interquartile range and the
min/max. Memory is the peak of tensor memory during one call (see :func:`peak_memory`).
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median, quartiles and extremes over ``reps`` repetitions of
    ``number`` calls each."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    reps: int
    number: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Settings:
    """How long to measure: ``warmup`` calls, then ``reps`` repetitions of at least
    ``min_rep_s`` each, stopping early once ``budget_s`` is spent (after 3 repetitions, or
    fewer when they take twice the budget)."""

    warmup: int = 2
    reps: int = 7
    min_rep_s: float = 0.02
    budget_s: float = 10.0
    clock: str = "wall"  # "wall" (perf_counter) or "cpu" (process CPU time; CPU runs only)

    def timer(self, device: torch.device | str) -> Callable[[], float]:
        """The clock to read: process CPU time ignores the time this process waits for a core
        on a shared machine (use it with one thread); CUDA is always timed by the wall."""
        if self.clock == "cpu" and torch.device(device).type == "cpu":
            return time.process_time
        return time.perf_counter


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _timing(samples: list[float], number: int) -> Timing:
    q1, _, q3 = statistics.quantiles(samples, n=4) if len(samples) > 1 else samples * 3
    return Timing(
        statistics.median(samples), q1, q3, min(samples), max(samples), len(samples), number
    )


def time_calls(
    fns: Mapping[str, Callable[[], Any]],
    settings: Settings,
    device: torch.device | str = "cpu",
    baseline: str | None = None,
) -> tuple[dict[str, Timing], dict[str, float]]:
    """Time several callables in interleaved rounds (one repetition of each per round), so
    that load from other processes falls on all of them alike.

    Returns:
        (timing per name, ratio per name): the ratio is the median over rounds of the name's
        time divided by ``baseline``'s time in the same round (empty without a baseline).
    """
    clock = settings.timer(device)
    numbers = {}
    for name, fn in fns.items():
        start = clock()
        for _ in range(max(1, settings.warmup)):
            fn()
        synchronize(device)
        one = (clock() - start) / max(1, settings.warmup)
        # Calls per repetition so one repetition lasts at least min_rep_s (timeit's autorange).
        numbers[name] = max(1, math.ceil(settings.min_rep_s / max(one, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    began = time.perf_counter()
    for done in range(1, settings.reps + 1):
        for name, fn in fns.items():
            t0 = clock()
            for _ in range(numbers[name]):
                fn()
            synchronize(device)
            samples[name].append((clock() - t0) / numbers[name])
        spent = time.perf_counter() - began
        if spent > settings.budget_s and (done >= 3 or spent > 2 * settings.budget_s):
            break
    timings = {name: _timing(samples[name], numbers[name]) for name in fns}
    ratios = {}
    if baseline is not None:
        base = samples[baseline]
        ratios = {
            name: statistics.median(a / b for a, b in zip(s, base, strict=True))
            for name, s in samples.items()
        }
    return timings, ratios


def time_call(
    fn: Callable[[], Any], settings: Settings, device: torch.device | str = "cpu"
) -> Timing:
    """Time ``fn()`` (which must do the same work each call) as described by ``settings``."""
    return time_calls({"fn": fn}, settings, device)[0]["fn"]


class TensorMemoryTracker(TorchDispatchMode):
    """Peak bytes of the CPU tensors that the ops run under it allocate (a ``tracemalloc`` for
    tensors): each op's fresh outputs count until their storage is freed; views and in-place
    results share an existing storage and do not count. Scratch memory that a kernel frees
    before returning is not seen, and neither is anything compiled code allocates."""

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._live: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        if all(r.alias_info is None for r in func._schema.returns):
            for t in pytree.tree_leaves(out):
                if isinstance(t, torch.Tensor) and t.device.type == "cpu":
                    self._track(t.untyped_storage())
        return out

    def _track(self, storage: torch.UntypedStorage) -> None:
        key = id(storage)
        if key in self._live:
            return
        self._live.add(key)
        self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        weakref.finalize(storage, self._free, key, storage.nbytes())

    def _free(self, key: int, nbytes: int) -> None:
        self._live.discard(key)
        self.current -= nbytes


def tensor_bytes(*objects: Any) -> int:
    """Bytes of the distinct tensor storages found in ``objects`` (nested containers and
    modules' parameters and buffers included)."""
    seen: dict[int, int] = {}
    for obj in objects:
        if isinstance(obj, torch.nn.Module):
            obj = [*obj.parameters(), *obj.buffers()]
        for t in pytree.tree_leaves(obj):
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                storage = t.untyped_storage()
                seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def peak_memory(
    fn: Callable[[], Any], device: torch.device | str, live: Iterable[Any] = ()
) -> tuple[int | None, str]:
    """Peak tensor memory while ``fn()`` runs, and how it was measured.

    CUDA: ``torch.cuda.max_memory_allocated`` (everything allocated on the device). CPU: the
    bytes of ``live`` (weights, optimizer state, inputs: what was allocated before) plus the
    peak that :class:`TensorMemoryTracker` sees during the call; ``None`` where the call runs
    compiled code, which the tracker cannot see into.
    """
    device = torch.device(device)
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device), "cuda max_memory_allocated"
    with TensorMemoryTracker() as tracker:
        fn()
    return tensor_bytes(*live) + tracker.peak, "live tensors + peak of tensors allocated by ops"


def backward_memory(loss: Callable[[], Tensor], device: torch.device | str) -> tuple[int, int]:
    """Memory of one ``loss().backward()`` beyond what was allocated before it: (bytes held
    when the forward pass ends, i.e. the activations kept for the backward pass; peak bytes
    over forward and backward). CUDA: ``memory_allocated`` and ``max_memory_allocated``; CPU:
    :class:`TensorMemoryTracker`."""
    device = torch.device(device)
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        out = loss()
        held = torch.cuda.memory_allocated(device) - before
        out.backward()
        synchronize(device)
        return held, torch.cuda.max_memory_allocated(device) - before
    with TensorMemoryTracker() as tracker:
        out = loss()
        held = tracker.current
        out.backward()
    return held, tracker.peak


def available_memory(device: torch.device | str) -> int:
    """Free bytes on ``device`` (CUDA: free device memory; CPU: MemAvailable)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_device": None,
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["cuda_device"] = props.name
        info["cuda_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["cuda_version"] = torch.version.cuda
    return info


def loglog_slope(xs: Iterable[float], ys: Iterable[float]) -> float | None:
    """Least-squares slope of log(y) against log(x): the exponent k in y ∝ x^k."""
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(points) < 2:
        return None
    mx = statistics.fmean(p[0] for p in points)
    my = statistics.fmean(p[1] for p in points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx if sxx else None


__all__ = [
    "Settings",
    "TensorMemoryTracker",
    "Timing",
    "available_memory",
    "backward_memory",
    "loglog_slope",
    "machine",
    "peak_memory",
    "tensor_bytes",
    "time_call",
    "time_calls",
]
