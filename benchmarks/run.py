"""Run the emofuse benchmark suite from a checkout and regenerate its report.

``python benchmarks/run.py`` measures every library model and the comparisons, then writes
``benchmarks/results.json`` and ``docs/benchmarks.md`` (the settings used are recorded in
both). The options are those of ``emofuse bench`` (``--help`` lists them); a ``--quick`` run
writes nowhere in the checkout unless ``--out``/``--write-docs`` say so.

Without a GPU the defaults are those of the committed CPU run (about 15 minutes on one core):
one thread timed by process CPU time, training at batch 2, compiled runs in fp32 only, and no
training step above 1,000 GFLOPs (the paper-size 3D ResNet-101 model gets latency only).
"""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's emofuse

from emofuse.benchmarking.suite import main  # noqa: E402

CPU_DEFAULTS = {
    "threads": 1,
    "clock": "cpu",
    "train_batch": 2,
    "compile_dtypes": "fp32",
    "max_train_gflops": 1000.0,
}

if __name__ == "__main__":
    argv = sys.argv[1:]
    defaults = {} if torch.cuda.is_available() else dict(CPU_DEFAULTS)
    if "--quick" not in argv:
        defaults["out"] = str(ROOT / "benchmarks" / "results.json")
        defaults["write_docs"] = str(ROOT / "docs" / "benchmarks.md")
    raise SystemExit(main(argv, prog="benchmarks/run.py", defaults=defaults))
