"""Typed model configurations.

Every model has one frozen dataclass deriving from :class:`ModelConfig`. Overrides are checked by
name (an unknown field is a ``TypeError`` listing the valid ones) and JSON round trips restore
tuples, so a config written by ``save_pretrained`` reads back equal.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

C = TypeVar("C", bound="ModelConfig")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Fields every model shares; subclasses add their own (all with defaults).

    Args:
        num_classes: output units (``1`` for regression).
        label_names: class names in output order; when given without ``num_classes`` the
            count follows from it, and a ``num_classes`` override alone drops default names
            of another count.
        dropout: dropout rate of the model's own layers (backbones keep theirs).
    """

    num_classes: int = 6
    label_names: tuple[str, ...] | None = None
    dropout: float = 0.1

    def __post_init__(self) -> None:
        default = _default_of(type(self), "label_names")
        if self.label_names == default and default is not None and len(default) != self.num_classes:
            # num_classes set alone: the default names are of another count, so drop them
            object.__setattr__(self, "label_names", None)
        if self.num_classes < 1:
            raise ValueError(f"num_classes: expected a positive int, got {self.num_classes}")
        if self.label_names is not None and len(self.label_names) != self.num_classes:
            raise ValueError(
                f"label_names: expected {self.num_classes} names (num_classes), "
                f"got {len(self.label_names)}: {list(self.label_names)}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected a rate in [0, 1), got {self.dropout}")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self: C, **overrides: Any) -> C:
        """A copy with ``overrides`` applied; unknown names raise ``TypeError``."""
        valid = self.field_names()
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no field(s) {unknown}; valid fields: {valid}"
            )
        if "label_names" in overrides and "num_classes" not in overrides:
            names = overrides["label_names"]
            if names is not None:
                overrides["num_classes"] = len(names)
        elif "num_classes" in overrides and "label_names" not in overrides:
            # a new class count makes the default names meaningless: drop them, don't fail
            names = self.label_names
            if names is not None and len(names) != overrides["num_classes"]:
                overrides["label_names"] = None
        return dataclasses.replace(self, **_coerce(type(self), overrides))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        return cls().replace(**dict(values))


def _default_of(cls: type[ModelConfig], name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def _coerce(cls: type[ModelConfig], values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn JSON lists back into the tuples a field declares (nested one level)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for name, value in values.items():
        if isinstance(value, list) and _is_tuple_type(hints.get(name)):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        out[name] = value
    return out


def _is_tuple_type(hint: Any) -> bool:
    if typing.get_origin(hint) is tuple:
        return True
    return any(_is_tuple_type(arg) for arg in typing.get_args(hint))


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")


__all__ = ["ModelConfig", "check_choice", "dataclass", "field"]
