"""Run the emofuse benchmark suite from a checkout and regenerate its report.

``python benchmarks/run.py`` measures every library model and the comparisons, then writes
``benchmarks/results.json`` and ``docs/benchmarks.md`` (the command line used is recorded in
both). The options are those of ``emofuse bench`` (``--help`` lists them); a ``--quick`` run
writes nowhere in the checkout unless ``--out``/``--write-docs`` say so. The committed figures
were measured on a 2-core CPU with::

    python benchmarks/run.py --threads 1 --clock cpu --train-batch 2 --compile-dtypes fp32 \\
        --max-train-gflops 1000
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's emofuse

from emofuse.benchmarking.suite import main  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    defaults = {}
    if "--quick" not in argv:
        defaults = {
            "out": str(ROOT / "benchmarks" / "results.json"),
            "write_docs": str(ROOT / "docs" / "benchmarks.md"),
        }
    raise SystemExit(main(argv, prog="benchmarks/run.py", defaults=defaults))
