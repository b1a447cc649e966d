"""``import emofuse`` and the command line stay light: the backbone libraries (torchvision,
timm, transformers, torchaudio) are imported only when a model or front-end needs them. How
long the imports take is measured by the benchmark suite (``benchmarks/``), not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torchvision", "timm", "transformers", "torchaudio")
REPORT = f"import json, sys; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"


def _heavy_modules_after(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{REPORT}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import emofuse",
        # every library layer below the front-ends, and the model registry
        "import emofuse.layers, emofuse.blocks, emofuse.encoders, emofuse.models, "
        "emofuse.losses\nemofuse.list_models()",
        # `emofuse --help`, as `python -m emofuse --help` runs it
        "import runpy, sys\nsys.argv = ['emofuse', '--help']\ntry:\n"
        "    runpy.run_module('emofuse', run_name='__main__')\nexcept SystemExit:\n    pass",
    ],
    ids=["import emofuse", "library layers", "emofuse --help"],
)
def test_backbone_libraries_are_not_imported(code: str) -> None:
    assert _heavy_modules_after(code) == []


def test_building_a_model_imports_its_backbone_library() -> None:
    # the other side of laziness: the library arrives when a model needs it
    code = "import emofuse\nemofuse.build('colearning_transformer_tiny')"
    assert "timm" in _heavy_modules_after(code)


def test_python_m_emofuse_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "emofuse", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("emofuse ")
