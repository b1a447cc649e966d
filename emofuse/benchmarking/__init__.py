"""The benchmark suite: every registered model and the shared layers, measured alike.

Run it as ``emofuse bench`` (``--help`` lists the options) or ``python benchmarks/run.py``;
``--write-docs`` renders ``docs/benchmarks.md`` from the results. The pieces are public so a
study can reuse them, e.g. ``compare_fusion_blocks({"mine": MyBlock, ...})``.
"""

from emofuse.benchmarking.comparisons import (
    FUSION_BLOCKS,
    compare_attention,
    compare_checkpointing,
    compare_compile,
    compare_frame_packing,
    compare_fusion_blocks,
)
from emofuse.benchmarking.measure import (
    Settings,
    TensorMemoryTracker,
    Timing,
    loglog_slope,
    machine,
    peak_memory,
    time_call,
)
from emofuse.benchmarking.models import benchmark_model, count_flops, select_models
from emofuse.benchmarking.report import render_markdown
from emofuse.benchmarking.suite import main, run

__all__ = [
    "FUSION_BLOCKS",
    "Settings",
    "TensorMemoryTracker",
    "Timing",
    "benchmark_model",
    "compare_attention",
    "compare_checkpointing",
    "compare_compile",
    "compare_frame_packing",
    "compare_fusion_blocks",
    "count_flops",
    "loglog_slope",
    "machine",
    "main",
    "peak_memory",
    "render_markdown",
    "run",
    "select_models",
    "time_call",
]
