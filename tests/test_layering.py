"""A lower layer of the library never imports a higher one (spec: layers → blocks → encoders →
models → losses, metrics, transforms, data, training → CLI; the benchmark suite lives outside
the package)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "emofuse"
# Top-level modules (config, hub, labels, outputs, validation, registry) are the foundation.
RANK = {
    "layers": 1,
    "blocks": 2,
    "encoders": 3,
    "models": 4,
    "losses": 5,
    "metrics": 5,
    "transforms": 5,
    "data": 5,
    "training": 5,
    "video": 5,  # decoding and face detection, beside transforms
    "predict": 6,  # emofuse.predict and emofuse.plotting: above models and data, with the CLI
    "plotting": 6,
    "export": 5,
    "cli": 6,
    "__main__": 6,  # python -m emofuse: the CLI
}


def _rank(module: str) -> int:
    parts = module.split(".")
    return RANK.get(parts[1], 0) if len(parts) > 1 else 0


def _runtime_imports(tree: ast.Module) -> list[str]:
    """emofuse modules imported outside ``if TYPE_CHECKING:`` blocks."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emofuse"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith("emofuse"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


CLI = ("cli", "__main__")
TOP = (*CLI, "predict", "plotting", "export")  # top-level modules that sit above the foundation
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem in TOP)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_from_a_higher_layer(path: Path) -> None:
    module = ".".join(("emofuse", *path.relative_to(PACKAGE).with_suffix("").parts))
    own = _rank(module)
    higher = [m for m in _runtime_imports(ast.parse(path.read_text())) if _rank(m) > own]
    assert not higher, f"{module} (layer {own}) imports higher layers: {higher}"


def test_foundation_modules_import_no_layer() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.stem in ("__init__", *TOP):
            continue
        imports = _runtime_imports(ast.parse(path.read_text()))
        assert all(_rank(m) == 0 for m in imports), f"{path.name} imports {imports}"
