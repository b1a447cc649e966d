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
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from emofuse.config import ModelConfig
from emofuse.hub import CONFIG_NAME

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
        pretrained: ``False``: random init, except the weight sources named in the config
            (``text_encoder=<folder>``, ``*_backbone_weights=<file>``), which are always
            loaded; with none named, no file or network is touched. ``True``: also the
            published weights of every backbone with none named (fetched by torchvision,
            timm, transformers or torch.hub). Or a directory written by ``save_pretrained``
            from a model of this name.
        overrides: fields of the model's config dataclass (``num_classes``, ``dropout``, ...).

    Raises:
        TypeError: an override that is not a config field (the message lists the valid ones).
        ValueError: an unknown model name, an override value out of range, a weight file that
            does not fit its backbone, or a saved directory of another model.
        FileNotFoundError: a named weight source that does not exist (the field is named).
        OSError: published weights that cannot be had (offline, not cached), as
            ``emofuse.encoders.WeightsUnavailableError`` naming the fields that take local
            files; it comes within seconds.
    """
    entry = _entry(name)
    if isinstance(pretrained, str | os.PathLike):
        _, meta = read_saved_config(Path(pretrained))
        saved = meta.get("registered_name")
        if saved is not None and saved != name:
            raise ValueError(
                f"pretrained: {pretrained} holds a saved {saved!r}, not a {name!r}; load it with "
                f"emofuse.build({saved!r}, pretrained=...) or emofuse.load(...)"
            )
        model = entry.model_class.from_pretrained(pretrained, **overrides)
    elif isinstance(pretrained, bool):
        config = entry.default_config().replace(**overrides)
        model = entry.model_class(config, pretrained=pretrained)
    else:
        raise TypeError(
            f"pretrained: expected a bool or a directory path, got {type(pretrained).__name__}"
        )
    model.registered_name = name
    return model


# Keys of a saved config.json that are not config fields.
SAVED_KEYS = ("architecture", "model_class", "registered_name", "text_encoder_configs")


def read_saved_config(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config fields, saved metadata) of a folder written by ``save_pretrained``.

    Raises:
        FileNotFoundError: no ``config.json`` in ``directory``.
        ValueError: ``config.json`` is not a JSON object.
    """
    file = Path(directory) / CONFIG_NAME
    if not file.is_file():
        raise FileNotFoundError(
            f"pretrained: expected a folder written by save_pretrained with {CONFIG_NAME} and "
            f"model.safetensors; {file} does not exist"
        )
    values = json.loads(file.read_text())
    if not isinstance(values, dict):
        raise ValueError(f"pretrained: {file} must hold a JSON object, got {type(values).__name__}")
    meta = {k: values.pop(k) for k in SAVED_KEYS if k in values}
    return values, meta


def resolve_saved_class(directory: Path, meta: dict[str, Any]) -> type[EmotionModel]:
    """The registered class of a saved model: by its registered name, else by its class path.

    Raises:
        LookupError: it is not registered in this process; the message names the module that
            registers it (never imported here: reading a folder runs no code).
    """
    name, path = meta.get("registered_name"), meta.get("model_class")
    if name in _REGISTRY:
        return _REGISTRY[name].model_class
    for entry in _REGISTRY.values():
        cls = entry.model_class
        if path == f"{cls.__module__}.{cls.__qualname__}":
            return cls
    module = path.rpartition(".")[0] if path else "the module that registers it"
    kind = path or meta.get("architecture")
    raise LookupError(
        f"pretrained: {directory} holds the model {name!r} (class {kind}), which is not "
        "registered in this process; import the module that registers it "
        f"(import {module}) before loading"
    )


def load(directory: str | os.PathLike[str], **overrides: Any) -> EmotionModel:
    """Rebuild any model saved by ``save_pretrained``, whatever its class (the registered name
    in ``config.json`` picks it); ``overrides`` as in ``EmotionModel.from_pretrained``.

    Raises:
        LookupError: the saved model is not registered in this process (import its module).
        FileNotFoundError, ValueError: see ``EmotionModel.from_pretrained``.
    """
    _, meta = read_saved_config(Path(directory))
    return resolve_saved_class(Path(directory), meta).from_pretrained(directory, **overrides)


def model_info(name: str) -> dict[str, Any]:
    """What a model is: citation, modalities, task, input layout and default config.

    Returns:
        a JSON-serialisable dict: ``name``, ``description``, ``model_class``, ``citation``,
        ``modalities``, ``task``, ``inputs`` (``{keyword: "(named axes) meaning"}``, every
        input ``forward`` takes), ``required_inputs`` (the keywords ``forward`` cannot do
        without; the others, masks included, are optional) and ``default_config``.
    Raises:
        ValueError: an unregistered name.
    """
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
        "required_inputs": [s.name for s in specs if s.required],
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
    "load",
    "markdown_table",
    "model_info",
    "read_saved_config",
    "register_model",
    "resolve_saved_class",
    "unregister_model",
]
