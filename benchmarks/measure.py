"""Timing, memory, import time and the machine description shared by every benchmark.

Times come from ``torch.utils.benchmark.Timer``: after ``blocked_autorange`` has estimated one
call, each repetition holds enough calls to last ``min_run_time``, and the implementations
compared are timed in interleaved rounds (``Timer.timeit``) so that load from other processes
falls on all of them alike; a ratio is the median over rounds of a time divided by the
baseline's time in the same round. Peak memory is ``torch.cuda.max_memory_allocated`` on CUDA
and, on CPU, what ``torch.profiler`` records of the allocator (``profile_memory=True``).
"""

from __future__ import annotations

import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.profiler import ProfilerActivity, profile
from torch.utils import benchmark

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """How long to measure: ``warmup`` calls, an estimate by ``blocked_autorange``, then up to
    ``reps`` interleaved rounds of repetitions lasting at least ``min_run_time`` each, stopping
    once ``budget_s`` is spent (after 3 rounds, or fewer when they take twice the budget)."""

    warmup: int = 2
    reps: int = 7
    min_run_time: float = 0.02
    budget_s: float = 10.0
    clock: str = "wall"  # "wall", or "cpu": process CPU time (CPU runs only)


def to_device(obj: Any, device: torch.device | str) -> Any:
    """``obj`` with every tensor inside dicts, lists and tuples moved to ``device``."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, Mapping):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def summary(m: benchmark.Measurement) -> dict[str, Any]:
    """Seconds per call of a measurement: median, quartiles, extremes, repetitions and calls
    per repetition (the JSON form)."""
    times = m.times
    q1, _, q3 = statistics.quantiles(times, n=4) if len(times) > 1 else times * 3
    return {
        "median": m.median,
        "q1": q1,
        "q3": q3,
        "min": min(times),
        "max": max(times),
        "reps": len(times),
        "number": m.number_per_run,
    }


def time_calls(
    fns: Mapping[str, Callable[[], Any]],
    settings: Settings,
    device: torch.device | str = "cpu",
    *,
    label: str = "",
    sub_label: str = "",
    baseline: str | None = None,
) -> tuple[dict[str, benchmark.Measurement], dict[str, float]]:
    """Time several callables (each doing the same work on every call) in interleaved rounds.

    Returns:
        (measurement per name, ratio per name): a ``torch.utils.benchmark.Measurement`` with
        ``label``, ``sub_label`` and the name as description (for ``benchmark.Compare``); the
        ratio is the median over rounds of the name's time over ``baseline``'s (empty without
        a baseline).
    """
    cpu_clock = settings.clock == "cpu" and torch.device(device).type == "cpu"
    timers = {
        name: benchmark.Timer(
            "fn()",
            globals={"fn": fn},
            label=label,
            sub_label=sub_label,
            description=name,
            num_threads=torch.get_num_threads(),
            # process CPU time leaves out the time this process waits for a core
            timer=time.process_time if cpu_clock else timeit.default_timer,
        )
        for name, fn in fns.items()
    }
    numbers = {}
    for name, timer in timers.items():
        for _ in range(settings.warmup):
            fns[name]()
        # calls per repetition so that one lasts at least min_run_time (timeit's autorange)
        one = timer.blocked_autorange(min_run_time=settings.min_run_time).median
        numbers[name] = max(1, math.ceil(settings.min_run_time / max(one, 1e-9)))
    rounds: dict[str, list[benchmark.Measurement]] = {name: [] for name in fns}
    began = time.perf_counter()
    for done in range(1, settings.reps + 1):
        for name, timer in timers.items():
            rounds[name].append(timer.timeit(numbers[name]))
        spent = time.perf_counter() - began
        if spent > settings.budget_s and (done >= 3 or spent > 2 * settings.budget_s):
            break
    measurements = {name: benchmark.Measurement.merge(ms)[0] for name, ms in rounds.items()}
    ratios = {}
    if baseline is not None:
        base = [m.median for m in rounds[baseline]]
        ratios = {
            name: statistics.median(m.median / b for m, b in zip(ms, base, strict=True))
            for name, ms in rounds.items()
        }
    return measurements, ratios


def time_call(
    fn: Callable[[], Any], settings: Settings, device: torch.device | str = "cpu"
) -> dict[str, Any]:
    """:func:`summary` of ``fn()`` timed as ``settings`` say."""
    return summary(time_calls({"fn": fn}, settings, device)[0]["fn"])


def print_comparison(measurements: Iterable[benchmark.Measurement]) -> None:
    """``torch.utils.benchmark.Compare``'s table of ``measurements``, on stderr."""
    table = benchmark.Compare(list(measurements))
    table.trim_significant_figures()
    print(table, file=sys.stderr, flush=True)


def tensor_bytes(*objects: Any) -> int:
    """Bytes of the distinct tensor storages in ``objects`` (modules' parameters and buffers,
    and tensors inside dicts, lists and tuples)."""
    seen: dict[int, int] = {}

    def visit(obj: Any) -> None:
        if isinstance(obj, torch.nn.Module):
            obj = [*obj.parameters(), *obj.buffers()]
        if isinstance(obj, Tensor):
            if obj.device.type != "meta":
                storage = obj.untyped_storage()
                seen[storage.data_ptr()] = storage.nbytes()
        elif isinstance(obj, Mapping):
            for v in obj.values():
                visit(v)
        elif isinstance(obj, list | tuple):
            for v in obj:
                visit(v)

    for obj in objects:
        visit(obj)
    return sum(seen.values())


def profile_allocations(fn: Callable[[], Any]) -> tuple[Any, int, int]:
    """Run ``fn()`` under ``torch.profiler`` with ``profile_memory=True``; returns (its
    result, peak bytes allocated beyond what was live before, bytes still held at the end).

    The profiler attributes each allocation and free of the CPU allocator to the operator
    running (``FunctionEvent.cpu_memory_usage``, net of its children) or, outside any
    operator, to a ``[memory]`` event; the running sum of the top-level events in time order
    is the memory held after each. Scratch memory an operator frees before returning is not
    seen. Frees of memory allocated before any profiling are not recorded, but frees of memory
    allocated in an earlier profiled call are: free such state (e.g. gradients, with
    ``zero_grad(set_to_none=True)``) before the call."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, acc_events=True) as prof:
        result = fn()
    top = sorted(
        (e for e in prof.events() if e.cpu_parent is None), key=lambda e: e.time_range.start
    )
    level = peak = 0
    for event in top:
        level += event.cpu_memory_usage
        peak = max(peak, level)
    return result, peak, level


def peak_memory(
    fn: Callable[[], Any], device: torch.device | str, live: Iterable[Any] = ()
) -> tuple[int, str]:
    """Peak memory while ``fn()`` runs, and how it was measured. CUDA:
    ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (everything on the
    device). CPU: the bytes of ``live`` (weights, optimizer state, inputs: allocated before)
    plus the peak of :func:`profile_allocations`."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device), "torch.cuda.max_memory_allocated"
    _, peak, _ = profile_allocations(fn)
    return tensor_bytes(*live) + peak, "live tensors + torch.profiler profile_memory peak"


def backward_memory(loss: Callable[[], Tensor], device: torch.device | str) -> tuple[int, int]:
    """Memory of one ``loss().backward()`` beyond what was allocated before it: (bytes held
    when the forward pass ends, i.e. the activations kept for the backward pass; peak bytes
    over forward and backward). CUDA: ``memory_allocated`` and ``max_memory_allocated``; CPU:
    :func:`profile_allocations` of the forward, then of the backward."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        out = loss()
        held = torch.cuda.memory_allocated(device) - before
        out.backward()
        torch.cuda.synchronize(device)
        return held, torch.cuda.max_memory_allocated(device) - before
    out, forward_peak, held = profile_allocations(loss)
    _, backward_peak, _ = profile_allocations(out.backward)
    return held, max(forward_peak, held + backward_peak)


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


IMPORT_COMMANDS: dict[str, list[str]] = {
    "import torch": [sys.executable, "-c", "import torch"],
    "import emofuse": [sys.executable, "-c", "import emofuse"],
    "emofuse --help": [sys.executable, "-m", "emofuse", "--help"],
}
"""The start-up costs :func:`import_times` compares; the first is the baseline."""


def _children_cpu_time() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_times(
    commands: Mapping[str, Sequence[str]] = IMPORT_COMMANDS, repeats: int = 5, clock: str = "wall"
) -> dict[str, Any]:
    """Time of each command in a fresh interpreter (run from the checkout, so ``emofuse`` is
    this one), in interleaved rounds after one warm-up round (the file cache): the median over
    ``repeats`` rounds and its ratio to the first command in the same round. ``clock="cpu"``
    takes the child's CPU time (user + system, all its threads) instead of the wall time."""
    read = _children_cpu_time if clock == "cpu" else time.perf_counter
    names = list(commands)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats + 1):
        for name in names:
            start = read()
            subprocess.run(commands[name], cwd=ROOT, check=True, capture_output=True)
            if i:  # the first round warms the file cache
                samples[name].append(read() - start)
    base = samples[names[0]]
    return {
        "baseline": names[0],
        "clock": clock,
        "repeats": repeats,
        "seconds": {name: statistics.median(s) for name, s in samples.items()},
        "ratio": {
            name: statistics.median(a / b for a, b in zip(s, base, strict=True))
            for name, s in samples.items()
        },
    }


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
