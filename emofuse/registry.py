"""One registry drives ``build``, ``list_models``, ``model_info``, the CLI, the README table and
the parametrized tests (after timm's).

A model registers a function returning its default config; the function's name is the registry
name and its docstring's first line the description::

    @register_model(MerSemMbt, citation=XIA_2022)
    def mer_sem_mbt() -> MerSemMbtConfig:
        \"\"\"Paper configuration (Xia et al. 2022, sec. 4.2).\"\"\"
        return MerSemMbtConfig()
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from emofuse.config import ModelConfig

if TYPE_CHECKING:
    from emofuse.models.base import EmotionModel


@dataclass(frozen=True)
class Citation:
    title: str
    authors: str
    venue: str
    year: int
    doi: str

    def __str__(self) -> str:
        return f"{self.authors} ({self.year}). {self.title}. {self.venue}. doi:{self.doi}"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    model_class: type[EmotionModel]
    default_config: Callable[[], ModelConfig]
    citation: Citation | None
    description: str


_REGISTRY: dict[str, ModelEntry] = {}

F = TypeVar("F", bound=Callable[[], ModelConfig])


def register_model(
    model_class: type[EmotionModel], *, citation: Citation | None = None, name: str | None = None
) -> Callable[[F], F]:
    """Register ``model_class`` under the decorated function's name (or ``name``).

    The decorated function takes no arguments and returns the variant's default config.
    Registering a name twice replaces the entry (so a user can re-run a notebook cell).
    """

    def decorator(fn: F) -> F:
        key = name or fn.__name__
        doc = (fn.__doc__ or model_class.__doc__ or "").strip().splitlines()
        _REGISTRY[key] = ModelEntry(key, model_class, fn, citation, doc[0] if doc else "")
        return fn

    return decorator


def unregister_model(name: str) -> None:
    _entry(name)
    del _REGISTRY[name]


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, sorted; ``pattern`` is a shell-style glob such as ``"*_tiny"``."""
    names = sorted(_REGISTRY)
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def _entry(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise ValueError(
            f"name: expected a registered model {list_models()}, got {name!r}{hint}"
        ) from None


def get_entry(name: str) -> ModelEntry:
    return _entry(name)


def default_config(name: str, **overrides: Any) -> ModelConfig:
    """The config ``build(name, **overrides)`` would use."""
    return _entry(name).default_config().replace(**overrides)


def build(
    name: str, pretrained: bool | str | os.PathLike[str] = False, **overrides: Any
) -> EmotionModel:
    """Build a registered model.

    Args:
        name: a name from :func:`list_models`.
        pretrained: ``False`` for random init with no file or network access; ``True`` for the
            backbones' published weights (fetched by torchvision, timm or transformers); or a
            directory written by ``save_pretrained``.
        overrides: fields of the model's config dataclass (``num_classes``, ``dropout``, ...).

    Raises:
        TypeError: an override that is not a config field (the message lists the valid ones).
        ValueError: an unknown model name, or an override value out of range.
    """
    entry = _entry(name)
    if isinstance(pretrained, str | os.PathLike):
        return entry.model_class.from_pretrained(pretrained, **overrides)
    if not isinstance(pretrained, bool):
        raise TypeError(
            f"pretrained: expected a bool or a directory path, got {type(pretrained).__name__}"
        )
    return entry.model_class(entry.default_config().replace(**overrides), pretrained=pretrained)


def model_info(name: str) -> dict[str, Any]:
    """What a model is: citation, modalities, task, input layout and default config."""
    entry = _entry(name)
    config = entry.default_config()
    specs = entry.model_class.input_specs(config)
    return {
        "name": entry.name,
        "description": entry.description,
        "model_class": f"{entry.model_class.__module__}.{entry.model_class.__qualname__}",
        "citation": asdict(entry.citation) if entry.citation else None,
        "modalities": [s.name for s in specs if s.needs is None],
        "task": config.task,
        "inputs": {s.name: s.layout for s in specs},
        "default_config": config.to_dict(),
    }


def markdown_table(names: list[str] | None = None) -> str:
    """The README's table of models, produced from the registry."""
    rows = [
        "| model | paper | modalities | task | description |",
        "|---|---|---|---|---|",
    ]
    for name in names if names is not None else list_models():
        info = model_info(name)
        cite = info["citation"]
        first_author = cite["authors"].split(",")[0].split()[-1] if cite else ""
        paper = f"{first_author} et al. {cite['year']}" if cite else ""
        rows.append(
            f"| `{name}` | {paper} | {', '.join(info['modalities'])} | {info['task']} "
            f"| {info['description']} |"
        )
    return "\n".join(rows)


def library_models() -> list[str]:
    """Names registered by emofuse itself (not by user code)."""
    return [n for n in list_models() if _REGISTRY[n].model_class.__module__.startswith("emofuse.")]


__all__ = [
    "Citation",
    "ModelEntry",
    "build",
    "default_config",
    "get_entry",
    "library_models",
    "list_models",
    "markdown_table",
    "model_info",
    "register_model",
    "unregister_model",
]
