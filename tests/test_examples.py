from __future__ import annotations

import runpy
from pathlib import Path

import pytest

import emofuse
from emofuse.registry import unregister_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_custom_model_example_registers_trains_and_reloads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace = runpy.run_path(str(EXAMPLES / "custom_model.py"))
    try:
        first = namespace["main"](steps=1)
        last = namespace["main"](steps=15)
        assert last < first  # it learns
        assert "train accuracy" in capsys.readouterr().out
    finally:
        unregister_model("audio_transformer")
    assert "audio_transformer" not in emofuse.list_models()
