"""A mkdocs hook: every page under ``docs/results/`` joins the navigation, under "Results".

Results pages are written by the benchmark scripts as they land (one per corpus and task);
listing them here by hand would break the strict build for every page added or renamed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def on_config(config: Any, **kwargs: Any) -> Any:
    results = sorted(Path(config["docs_dir"], "results").glob("*.md"))
    if results and config["nav"] is not None:
        pages = [f"results/{page.name}" for page in results]
        at = next(
            (i for i, item in enumerate(config["nav"]) if "Benchmarks" in item), len(config["nav"])
        )
        config["nav"].insert(at + 1, {"Results": pages})
    return config
