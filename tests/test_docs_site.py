"""The documentation site builds with ``mkdocs build --strict`` (any warning fails: a broken
link, a page left out of the navigation, a docstring that does not parse, a reference to an
object that does not exist), its tutorials' code runs as written, and its model table follows
the registry."""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import types
from pathlib import Path

import pytest
import torch
from corpus_media import write_ravdess_speech
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import Abort
from test_docs import python_blocks

import emofuse
import emofuse.training
from emofuse.registry import library_models, markdown_table, unregister_model

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _build(config_file: Path, site_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mkdocs build --strict`` in this process (a fresh interpreter costs more than the
    build's own imports)."""
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")  # mkdocs-material's banner, not a warning
    monkeypatch.chdir(config_file.parent)
    config = load_config(str(config_file), site_dir=str(site_dir), strict=True)
    try:
        build(config)
    finally:
        for handler in logging.getLogger("mkdocs").handlers[:]:  # the build's warning counter
            if type(handler).__name__ == "CountHandler":
                logging.getLogger("mkdocs").removeHandler(handler)


def test_site_builds_strict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    _build(ROOT / "mkdocs.yml", site, monkeypatch)
    # the API reference was rendered from the docstrings, not left empty
    blocks = (site / "reference/blocks/index.html").read_text()
    assert 'id="emofuse.blocks.BottleneckTransformer"' in blocks
    assert "Xia et al. 2022" in blocks  # a docstring's text
    # a Sphinx role in a docstring became a link to the object's entry
    assert 'href="#emofuse.blocks.BottleneckTransformer"' in blocks
    for page in ("getting-started", "tutorials/custom-model", "models/mcr", "benchmarks"):
        assert (site / page / "index.html").is_file(), page


def test_strict_build_fails_on_a_docstring_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-process build counts the API reference's warnings as the command does."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/index.md").write_text("# Package\n\n::: package\n")
    (tmp_path / "package.py").write_text(
        'def f(x: int) -> int:\n    """Doc.\n\n    Args:\n        y: not a parameter.\n    """\n'
    )
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: t\nplugins:\n  - mkdocstrings:\n      handlers:\n"
        "        python:\n          paths: [.]\n"
    )
    with pytest.raises(Abort, match="warning"):
        _build(tmp_path / "mkdocs.yml", tmp_path / "site", monkeypatch)


def test_models_page_table_matches_registry() -> None:
    text = (DOCS / "models/index.md").read_text()
    start, end = "<!-- models:start -->", "<!-- models:end -->"
    table = text[text.index(start) + len(start) : text.index(end)].strip()
    assert table == markdown_table(library_models()), (
        "docs/models/index.md's table is stale: regenerate it with "
        '`python -c "import emofuse.registry as r; print(r.markdown_table(r.library_models()))"`'
    )


# Pages whose python blocks run top to bottom in one namespace, as a reader follows them.
RUNNABLE_PAGES = (
    "index.md",
    "getting-started.md",
    "tutorials/custom-model.md",
    "tutorials/predict-video.md",  # writes the sample clip (espeak-ng speech when installed)
)


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
# getting-started.md shows the warning of a reload with new heads on purpose
@pytest.mark.filterwarnings("ignore:from_pretrained. a new label set:UserWarning")
def test_page_python_blocks_run_as_written(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = python_blocks((DOCS / page).read_text())
    assert blocks, f"{page} has no python block"
    monkeypatch.chdir(tmp_path)
    before = set(emofuse.list_models())
    module = types.ModuleType("docs_page")  # a script's own module, as __main__ is for a user
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        for i, code in enumerate(blocks):
            exec(
                compile(code, f"{page} python block {i + 1}", "exec", dont_inherit=True),
                vars(module),
            )
    finally:
        for name in set(emofuse.list_models()) - before:
            unregister_model(name)


def test_custom_model_tutorial_registers_a_model_that_works_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tutorial's model builds, saves, reloads and says what it reads, as a library
    model does."""
    code = "\n".join(python_blocks((DOCS / "tutorials/custom-model.md").read_text())[:4])
    monkeypatch.chdir(tmp_path)
    before = set(emofuse.list_models())
    module = types.ModuleType("custom_model_tutorial")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        exec(compile(code, "custom-model.md", "exec", dont_inherit=True), vars(module))
        registered = set(emofuse.list_models()) - before
        assert registered == {"gated_fusion", "gated_fusion_tiny"}
        for name in registered:
            assert emofuse.model_info(name)["inputs"]
            model = emofuse.build(name).eval()
            model.save_pretrained(tmp_path / name)
            inputs = model.example_inputs(batch_size=3)
            reloaded = emofuse.load(tmp_path / name).eval()
            torch.testing.assert_close(reloaded(**inputs).logits, model(**inputs).logits)
    finally:
        for name in set(emofuse.list_models()) - before:
            unregister_model(name)


def test_training_tutorial_runs_on_the_synthetic_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its first two blocks (the synthetic check and the recipe) run as written."""
    blocks = python_blocks((DOCS / "tutorials/train.md").read_text())
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for i, code in enumerate(blocks[:2]):
        exec(compile(code, f"train.md python block {i + 1}", "exec", dont_inherit=True), namespace)
    assert (tmp_path / "runs/synthetic/best/model.safetensors").is_file()
    assert namespace["recipe"].batch_size == 4  # type: ignore[attr-defined]


def test_training_tutorial_corpus_blocks_run_at_tiny_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The corpus blocks (RAVDESS, fit, load, evaluate) run as written on a RAVDESS-layout
    tree made here, with the models' `_tiny` variants (no download) and one epoch."""
    blocks = python_blocks((DOCS / "tutorials/train.md").read_text())
    monkeypatch.chdir(tmp_path)
    write_ravdess_speech(tmp_path / "RAVDESS", actors=range(1, 25))
    real_build, recipe_for = emofuse.build, emofuse.training.recipe_for

    def tiny(name: str, *, pretrained: bool = False, **overrides: object) -> object:
        return real_build(f"{name}_tiny", **overrides)

    monkeypatch.setattr(emofuse, "build", tiny)
    namespace = {
        "emofuse": emofuse,
        "fit": emofuse.training.fit,
        "recipe_for": lambda model, **kw: recipe_for(model, **{"epochs": 1, **kw}),
    }
    for i, code in enumerate(blocks[2:], start=3):
        exec(compile(code, f"train.md python block {i}", "exec", dont_inherit=True), namespace)
    assert (tmp_path / "runs/ravdess-fold0/best/preprocessor_config.json").is_file()
    assert namespace["best"].config.modalities == ("audio",)  # type: ignore[attr-defined]


def _subcommand_options() -> dict[str, set[str]]:
    """Each `emofuse` subcommand and its option strings, from the real parser."""
    import argparse

    from emofuse.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: {o for action in sub._actions for o in action.option_strings}
        for name, sub in commands.choices.items()
    }


def test_command_lines_in_the_docs_use_real_subcommands_and_options() -> None:
    """Every `emofuse SUBCOMMAND --option` line of a page's bash blocks names a subcommand
    and options the command has."""
    options = _subcommand_options()
    wrong = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text()
        for block in re.findall(r"^```bash\n(.*?)^```$", text, flags=re.S | re.M):
            for line in block.replace("\\\n", " ").splitlines():
                words = line.split("#")[0].split()
                if len(words) < 2 or not words[0].endswith("emofuse"):
                    continue
                sub = words[1]
                if sub not in options:
                    wrong.append(f"{page.relative_to(ROOT)}: no subcommand {sub!r}")
                    continue
                flags = {w.split("=")[0] for w in words[2:] if w.startswith("--")}
                wrong += [
                    f"{page.relative_to(ROOT)}: `emofuse {sub}` has no {flag}"
                    for flag in sorted(flags - options[sub])
                ]
    assert not wrong, "\n".join(wrong)


def _griffe_extension() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "griffe_docstrings", DOCS / "griffe_docstrings.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_griffe_extension_separates_sections_outside_code() -> None:
    separate = _griffe_extension().separate_sections
    text = "Summary.\n\nInputs:\n    x: (B, T).\nReturns:\n    y.\n```\nCode:\n    z\n```"
    assert separate(text) == (
        "Summary.\n\nInputs:\n    x: (B, T).\n\nReturns:\n    y.\n```\nCode:\n    z\n```"
    )
    assert separate("Each sample: ``audio``.\nArgs:\n    a: b.") == (
        "Each sample: ``audio``.\n\nArgs:\n    a: b."
    )


def test_griffe_extension_links_resolvable_roles_only() -> None:
    import griffe

    package = griffe.load("emofuse.blocks", search_paths=[str(ROOT)])
    block = package["BottleneckTransformer"]
    link = _griffe_extension().link_roles
    assert link(block, "as :class:`~emofuse.layers.MLP`.") == (
        'as <autoref identifier="emofuse.layers.MLP" optional><code>MLP</code></autoref>.'
    )
    assert link(block, ":class:`NotAName`") == "<code>NotAName</code>"  # stays plain code
    assert link(block, ":meth:`fit <emofuse.x.fit>`") == (
        '<autoref identifier="emofuse.x.fit" optional><code>fit</code></autoref>'
    )
