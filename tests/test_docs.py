"""The public text tells the truth: the README's code runs as written, and nothing public points
at files that are not in the repository."""

from __future__ import annotations

import importlib
import importlib.util
import io
import re
import sys
import tokenize
import types
import wave
from pathlib import Path

import pytest
import torch
from corpus_media import MELD_ROWS, write_meld_csv, write_mmsa, write_ravdess_speech

import emofuse
from emofuse.registry import unregister_model

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def python_blocks(markdown: str) -> list[str]:
    """Every fenced ```python block, in order."""
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.S | re.M)


def _write_wav(path: Path, seconds: float = 1.5, sample_rate: int = 16_000) -> None:
    """A 16-bit mono WAV of a 440 Hz tone (stdlib only)."""
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    samples = (0.3 * torch.sin(2 * torch.pi * 440 * t) * 32767).to(torch.int16)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(samples.numpy().tobytes())


def test_python_blocks_finds_every_block() -> None:
    text = "a\n```python\nx = 1\n```\nb\n```bash\nls\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x\n"]


def test_readme_python_blocks_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each block runs in order in one namespace (as a reader follows the README top to
    bottom), in an empty folder."""
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 3  # quick start, your own model, evaluation
    monkeypatch.chdir(tmp_path)
    _write_wav(tmp_path / "clip.wav")  # the one recording the README's front-end block reads
    # the corpora the README's data block opens, small, in their release layouts
    write_ravdess_speech(tmp_path / "Audio_Speech_Actors_01-24", actors=range(1, 25))
    for split in ("train", "dev", "test"):
        write_meld_csv(tmp_path / "MELD/data/MELD" / f"{split}_sent_emo.csv", MELD_ROWS)
    (tmp_path / "MOSI/Processed").mkdir(parents=True)
    write_mmsa(tmp_path / "MOSI/Processed/unaligned_50.pkl")
    before = set(emofuse.list_models())
    module = types.ModuleType("readme")  # a script's own module, as __main__ is for a user
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        for i, code in enumerate(blocks):
            code = compile(code, f"README.md python block {i + 1}", "exec", dont_inherit=True)
            exec(code, module.__dict__)
        registered = set(emofuse.list_models()) - before
        assert registered, "the README's 'Your own model' registers a model"
        for name in registered:  # a user's model works everywhere a library model does
            info = emofuse.model_info(name)
            assert info["inputs"] and info["default_config"]
            model = emofuse.build(name)
            model.save_pretrained(tmp_path / name)
            inputs = model.example_inputs(batch_size=3)
            reloaded = emofuse.load(tmp_path / name).eval()
            torch.testing.assert_close(reloaded(**inputs).logits, model.eval()(**inputs).logits)
    finally:
        for name in set(emofuse.list_models()) - before:
            unregister_model(name)


# A reference to a document outside the repository: the project's working notes ("the spec",
# "shared/spec/...", "(spec)") or the papers' text files. Code identifiers (input_specs,
# TensorSpec, a variable `spec`) are not prose and are not matched.
OUTSIDE_REFERENCE = re.compile(r"\bspec\b|shared/|papers/|\.\./", flags=re.I)


def _prose_of_python(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and string literal (docstrings, messages) of a module; the
    replacement fields of f-strings are code and are left out."""
    out = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            out.append((token.start[0], token.string))
        elif token.type == tokenize.STRING:
            text = token.string
            prefix = text[: len(text) - len(text.lstrip("rRbBuUfF"))]
            if "f" in prefix.lower():
                text = re.sub(r"\{[^{}]*\}", "", text)
            out.append((token.start[0], text))
    return out


def _public_text() -> list[tuple[str, int, str]]:
    """(file, line, text) of the README, the docs, and the prose of the package, examples and
    benchmarks."""
    out = []
    markdown = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    for file in markdown:
        for number, line in enumerate(file.read_text().splitlines(), 1):
            out.append((str(file.relative_to(ROOT)), number, line))
    for folder in ("emofuse", "examples", "benchmarks"):
        for file in sorted((ROOT / folder).rglob("*.py")):
            for number, text in _prose_of_python(file.read_text()):
                out.append((str(file.relative_to(ROOT)), number, text))
    return out


def test_prose_detection_sees_strings_and_comments_not_code() -> None:
    source = 'spec = 1  # as the spec says\nx = f"{spec.name} (spec)"\nfor spec in specs: pass\n'
    found = [n for n, text in _prose_of_python(source) if OUTSIDE_REFERENCE.search(text)]
    assert found == [1, 2]


def test_public_text_refers_to_no_file_outside_the_repository() -> None:
    """The model cards carry every reading themselves; the public text never sends a reader to
    the project's working notes or to files that are not shipped."""
    hits = [
        f"{file}:{line}: {text.strip()[:100]}"
        for file, line, text in _public_text()
        if OUTSIDE_REFERENCE.search(text)
    ]
    assert not hits, "references to files outside the repository:\n" + "\n".join(hits)


NAMESPACES = (
    "emofuse",
    "emofuse.blocks",
    "emofuse.encoders",
    "emofuse.layers",
    "emofuse.losses",
    "emofuse.metrics",
    "emofuse.models",
    "emofuse.training",
    "emofuse.transforms",
    "torch.nn.functional",  # what the layers build on, named in the README
    "torchvision.models.video",
)


def _resolves(name: str) -> bool:
    if name.startswith("emofuse."):
        module, _, attr = name.rpartition(".")
        try:
            return hasattr(importlib.import_module(module), attr)
        except ImportError:
            return _resolves(module) and hasattr(importlib.import_module(module), attr)
    if importlib.util.find_spec(f"emofuse.{name}") is not None:  # a subpackage: `layers`
        return True
    return any(hasattr(importlib.import_module(ns), name) for ns in NAMESPACES)


def test_readme_names_every_piece_by_a_name_that_exists() -> None:
    """Every `Name` or `emofuse.path` the README's "What is inside" section gives is importable
    (blocks move and get renamed; the README must follow)."""
    text = README.read_text()
    section = text[text.index("## What is inside") : text.index("### Pretrained backbones")]
    names = set(re.findall(r"`([A-Za-z_][\w.]*)`", section)) - {"emofuse"}
    names = {n for n in names if not n.endswith("_mask")}  # model inputs, not library names
    assert len(names) > 40
    missing = sorted(n for n in names if not _resolves(n))
    assert not missing, f"README names that do not exist: {missing}"
