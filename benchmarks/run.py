"""Run the emofuse benchmark suite from a checkout: ``python benchmarks/run.py --quick``.

The same as ``emofuse bench``; ``--help`` lists the options. The figures in
``docs/benchmarks.md`` come from::

    python benchmarks/run.py --out benchmarks/results.json --write-docs
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's emofuse

from emofuse.benchmarking.suite import main

if __name__ == "__main__":
    raise SystemExit(main(prog="benchmarks/run.py"))
