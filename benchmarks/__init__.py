"""The emofuse benchmark suite, kept beside the package (as timm's ``benchmark.py``), not
installed with it: ``python benchmarks/run.py --help``.

- :mod:`benchmarks.measure`: timing on ``torch.utils.benchmark``, peak memory from
  ``torch.profiler`` (CPU) or the CUDA peak statistics, import time, the machine;
- :mod:`benchmarks.models`: every registered model, driven by the registry;
- :mod:`benchmarks.comparisons`: the shared layers against their PyTorch counterparts, each
  as ratios against a baseline measured in the same run;
- :mod:`benchmarks.report`: ``docs/benchmarks.md`` from the results JSON;
- :mod:`benchmarks.run`: the command line.
"""
