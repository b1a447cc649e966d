"""Shared fixtures: registers the toy model, seeds every test, keeps Hugging Face offline."""

from __future__ import annotations

import os

# Before anything imports huggingface_hub, which reads these once at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch
import toy_model  # noqa: F401  (registers the toy models)
from hypothesis import HealthCheck, settings

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# The property-based (fuzz) tests: a few derandomized examples per test, so that a run is fast
# and reproducible; EMOFUSE_FUZZ_EXAMPLES=500 (and HYPOTHESIS_PROFILE=fuzz for fresh random
# draws on every run) fuzzes longer locally.
settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("EMOFUSE_FUZZ_EXAMPLES", "15")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    settings.get_profile("ci"),
    derandomize=False,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
