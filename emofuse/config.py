"""Typed model configurations.

Every model has one frozen dataclass deriving from :class:`ModelConfig`. Overrides are checked by
name (an unknown field is a ``TypeError`` listing the valid ones) and every value is checked
against its field's annotation when the config is made, however it is made (``build``
overrides, ``replace``, ``from_dict``, a ``config.json``):

- ``bool`` takes only ``True``/``False`` (not ``1``, not ``"false"``); ``int`` takes an int but
  not a bool; ``float`` takes a float or an int (stored as a float); ``str`` takes a str or a
  path (stored as a str);
- ``tuple[X, ...]`` and ``tuple[X, Y]`` take a tuple or a list (a JSON array), stored as a tuple,
  each item checked; a str is not a tuple of str;
- ``Literal[...]`` takes one of its choices, of the choice's type; ``X | Y`` and ``X | None``
  take what any of their members takes.

A value of the wrong type is a ``TypeError``, a value of the right type that the annotation still
excludes (a choice not offered, a tuple of the wrong length) a ``ValueError``; both name the
field, what it expects and what came in.

Fields renamed since emofuse 0.1 (:data:`RENAMED_FIELDS`) are still read from a saved
``config.json`` (``from_dict``, ``from_pretrained``), with a ``DeprecationWarning`` naming the
new field.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import sys
import types
import typing
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

C = TypeVar("C", bound="ModelConfig")

RENAMED_FIELDS: dict[str, dict[str, str]] = {
    "AVAttentionFusionConfig": {
        "frame_size": "face_size",
        "heads": "num_heads",
        "attention_residual": "use_attention_residual",
    },
    "ColearningTransformerConfig": {
        "heads": "num_heads",
        "audio_layers": "num_audio_layers",
        "video_layers": "num_video_layers",
        "cross_layers": "num_cross_layers",
        "conv_layers": "num_conv_layers",
        "frame_size": "face_size",
    },
    "EmotionQueryTransformerConfig": {
        "heads": "num_heads",
        "image_encoder_layers": "num_video_layers",
        "audio_encoder_layers": "num_audio_layers",
        "fusion_layers": "num_fusion_layers",
        "decoder_layers": "num_decoder_layers",
        "emotion_queries": "use_emotion_queries",
        "positional_encoding": "use_positional_encoding",
    },
    "MCRConfig": {
        "dim": "d_model",
        "encoder_layers": "num_encoder_layers",
        "mutual_attention": "use_mutual_attention",
        "scu_attention_layer": "use_scu_attention_layer",
    },
    "MerSemMbtConfig": {
        "d_m": "d_model",
        "mbt_heads": "num_heads",
        "mbt_layers": "num_layers",
        "frame_size": "face_size",
    },
}
"""Config fields renamed in emofuse 0.2 (one vocabulary across the models), per config class
name: ``{class name: {old field: new field}}``. A subclass inherits its bases' renames."""

Task = Literal["multilabel", "multiclass", "regression"]
"""How the logits are read: ``"multilabel"`` one sigmoid per class (BCE), ``"multiclass"`` one
softmax over the classes (cross-entropy), ``"regression"`` the values themselves."""


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Fields every model shares; subclasses add their own (all with defaults).

    Args:
        num_classes: output units (``1`` for a single regression target).
        label_names: class names in output order; when given without ``num_classes`` the
            count follows from it, and a ``num_classes`` override alone drops default names
            of another count.
        dropout: dropout rate of the model's own layers (backbones keep theirs).
        task: how the logits are read (:data:`Task`); each model's default is its paper's.

    Raises:
        TypeError: a value whose type does not match its field's annotation.
        ValueError: a value of the right type out of range (a choice not offered, a tuple of the
            wrong length, ``num_classes < 1``, a ``label_names`` count other than
            ``num_classes``, a multiclass task with one class, ``dropout`` outside [0, 1)).
    """

    num_classes: int = 6
    label_names: tuple[str, ...] | None = None
    dropout: float = 0.1
    task: Task = "multilabel"

    _annotation_namespace: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # where the class statement ran: resolves the string annotations of a config defined
        # in a function or in a script run without a module (runpy, exec), as pydantic does
        frame = sys._getframe(1)
        cls._annotation_namespace = {**frame.f_globals, **frame.f_locals}

    def __post_init__(self) -> None:
        check_types(self)
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
        if self.task == "multiclass" and self.num_classes < 2:
            raise ValueError(
                f"num_classes: a multiclass task needs at least 2 classes, got {self.num_classes}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected a rate in [0, 1), got {self.dropout}")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self: C, **overrides: Any) -> C:
        """A copy with ``overrides`` applied.

        Raises:
            TypeError: an unknown field name, or a value of the wrong type.
            ValueError: a value out of range.
        """
        valid = self.field_names()
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            renamed = renamed_fields(type(self))
            hints = [f"{old} -> {renamed[old]}" for old in unknown if old in renamed]
            hint = f" (renamed in emofuse 0.2: {', '.join(hints)})" if hints else ""
            raise TypeError(
                f"{type(self).__name__} has no field(s) {unknown}{hint}; valid fields: {valid}"
            )
        names = overrides.get("label_names")
        if "label_names" in overrides and "num_classes" not in overrides:
            if isinstance(names, tuple | list):  # anything else is refused by the type check
                overrides["num_classes"] = len(names)
        elif "num_classes" in overrides and "label_names" not in overrides:
            # a new class count makes the default names meaningless: drop them, don't fail
            names = self.label_names
            if names is not None and len(names) != overrides["num_classes"]:
                overrides["label_names"] = None
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """The default config with ``values`` (e.g. a parsed ``config.json``) applied; JSON
        arrays become the tuples their fields declare. A field's name from before its rename
        (:data:`RENAMED_FIELDS`, e.g. a ``config.json`` saved by emofuse 0.1) is read as the
        new field, with a ``DeprecationWarning`` that names it.

        Raises:
            TypeError: an unknown field name, a value of the wrong type, or a field given under
                both its old and its new name.
            ValueError: a value out of range.
        """
        values = dict(values)
        valid = set(cls.field_names())
        for old, new in renamed_fields(cls).items():
            if old not in values or old in valid:
                continue
            if new in values:
                raise TypeError(
                    f"{cls.__name__}: {old!r} is the old name of {new!r}; got both "
                    f"({old}={values[old]!r}, {new}={values[new]!r})"
                )
            warnings.warn(
                f"{cls.__name__}: the field {old!r} is now called {new!r} (renamed in "
                f"emofuse 0.2); read {old}={values[old]!r} as {new}. Save the config again "
                "to write the new name.",
                DeprecationWarning,
                stacklevel=_caller_stacklevel(),
            )
            values[new] = values.pop(old)
        return cls().replace(**values)


def renamed_fields(cls: type[ModelConfig]) -> dict[str, str]:
    """``{old field: new field}`` of ``cls`` and its bases (:data:`RENAMED_FIELDS`)."""
    renamed: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        renamed.update(RENAMED_FIELDS.get(base.__name__, {}))
    return renamed


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside emofuse (so that
    Python's default filters show it when a script loads a saved model)."""
    frame: types.FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("emofuse"):
        frame, level = frame.f_back, level + 1
    return level


def _default_of(cls: type[ModelConfig], name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


# -- type checking ----------------------------------------------------------------------------
class _MismatchError(Exception):
    """A value that does not fit an annotation: ``kind`` is the error to raise."""

    def __init__(self, kind: type[Exception], where: str, expected: str, got: str) -> None:
        super().__init__(where, expected, got)
        self.kind, self.where, self.expected, self.got = kind, where, expected, got


def check_types(config: ModelConfig) -> None:
    """Check every field of ``config`` against its annotation, in place (see the module
    docstring for the rules); lists become tuples, ints in float fields floats, paths in str
    fields strs.

    Raises:
        TypeError: a value of the wrong type, naming the field, the expected and the given type.
        ValueError: a value of the right type that the annotation excludes.
    """
    for name, hint in _field_hints(type(config)).items():
        value = getattr(config, name)
        try:
            checked = _check(value, hint, name)
        except _MismatchError as error:
            raise error.kind(f"{error.where}: expected {error.expected}, got {error.got}") from None
        if checked is not value:
            object.__setattr__(config, name, checked)


_HINTS: dict[type[ModelConfig], dict[str, Any]] = {}


def _field_hints(cls: type[ModelConfig]) -> dict[str, Any]:
    """The resolved annotation of each field of ``cls`` (computed once per class)."""
    if cls not in _HINTS:
        try:
            hints = typing.get_type_hints(cls)
        except NameError:  # a class whose module is not importable, or defined in a function
            namespace: dict[str, Any] = {}
            for base in reversed(cls.__mro__):
                namespace.update(vars(base).get("_annotation_namespace", {}))
            try:
                hints = typing.get_type_hints(cls, localns=namespace)
            except NameError as error:
                raise TypeError(
                    f"{cls.__name__}: cannot resolve the field annotations: {error}"
                ) from None
        _HINTS[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _HINTS[cls]


def _got(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _check(value: Any, hint: Any, where: str) -> Any:
    """``value`` as the field stores it, or :class:`_MismatchError`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if hint is None or hint is type(None):
        if value is None:
            return value
        raise _MismatchError(TypeError, where, "None", _got(value))
    if origin is typing.Union or origin is types.UnionType:
        return _check_union(value, args, where, hint)
    if origin is Literal:
        return _check_literal(value, args, where)
    if origin is typing.Annotated:
        return _check(value, args[0], where)
    if origin is tuple:
        return _check_tuple(value, args, where, hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _MismatchError(TypeError, where, "a bool (True or False)", _got(value))
    if hint is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)  # a plain int (numpy and other Integral types too)
        raise _MismatchError(TypeError, where, "an int", _got(value))
    if hint is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)  # a plain float (ints and other Real types too)
        raise _MismatchError(TypeError, where, "a float (or an int)", _got(value))
    if hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        raise _MismatchError(TypeError, where, "a str", _got(value))
    target = origin if isinstance(origin, type) else hint
    if isinstance(target, type) and not isinstance(value, target):
        raise _MismatchError(TypeError, where, f"a {target.__name__}", _got(value))
    return value  # a TypeVar, a Protocol...: nothing more to check here


def _check_union(value: Any, args: tuple[Any, ...], where: str, hint: Any) -> Any:
    closest = []
    for arg in args:
        try:
            return _check(value, arg, where)
        except _MismatchError as error:
            # the right type for this member, which refused the value itself or an item of it
            if error.kind is ValueError or error.where != where:
                closest.append(error)
    if closest:
        raise closest[0]
    raise _MismatchError(TypeError, where, describe(hint), _got(value))


def _check_literal(value: Any, choices: tuple[Any, ...], where: str) -> Any:
    # by type as well as value: True == 1 but is not the choice 1
    if any(type(value) is type(c) and value == c for c in choices):
        return value
    kind = ValueError if any(type(value) is type(c) for c in choices) else TypeError
    got = repr(value) if kind is ValueError else _got(value)
    raise _MismatchError(kind, where, describe(Literal[choices]), got)


def _check_tuple(value: Any, args: tuple[Any, ...], where: str, hint: Any) -> tuple[Any, ...]:
    if not isinstance(value, tuple | list):  # a str is a sequence, never a tuple of str
        raise _MismatchError(TypeError, where, describe(hint), _got(value))
    if len(args) == 2 and args[1] is Ellipsis:
        items = [args[0]] * len(value)
    elif args == ((),):  # tuple[()]
        items = []
    elif args:
        items = list(args)
    else:  # a bare tuple
        items = [Any] * len(value)
    if len(items) != len(value):
        inner = ", ".join(_plain(h) for h in items)
        raise _MismatchError(
            ValueError, where, f"{len(items)} items ({inner})", f"{len(value)}: {value!r}"
        )
    checked = tuple(
        _check(v, h, f"{where}[{i}]") for i, (h, v) in enumerate(zip(items, value, strict=True))
    )
    if isinstance(value, tuple) and all(c is v for c, v in zip(checked, value, strict=True)):
        return value  # unchanged: keep the caller's object
    return checked


def describe(hint: Any) -> str:
    """A field annotation in words, for error messages: ``tuple[str, ...] | None`` →
    ``"a tuple of str (a list is accepted) or None"``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is None or hint is type(None):
        return "None"
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(describe(a) for a in args)
    if origin is Literal:
        return f"one of {list(args)}"
    if origin is typing.Annotated:
        return describe(args[0])
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {_plain(args[0])} (a list is accepted)"
        inner = ", ".join(_plain(a) for a in args)
        return f"a tuple ({inner}) (a list is accepted)"
    return {bool: "a bool", int: "an int", float: "a float (or an int)", str: "a str"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def _plain(hint: Any) -> str:
    """An item type in a tuple's description, without article or list note."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"tuple of {_plain(args[0])}"
        return f"tuple ({', '.join(_plain(a) for a in args)})"
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(_plain(a) for a in args)
    if hint is None or hint is type(None):
        return "None"
    return getattr(hint, "__name__", str(hint))


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices`` (for function arguments;
    config fields declare theirs as ``Literal`` types).

    Raises:
        ValueError: ``value`` is not one of ``choices``.
    """
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")


def check_modalities(modalities: tuple[str, ...], choices: tuple[str, ...]) -> None:
    """Check a config's ``modalities`` field: a non-empty subset of ``choices`` (the
    modalities the model can build), each named once. The same field, with this meaning, in
    every model that can be built for some of its modalities.

    Raises:
        ValueError: an empty tuple, a repeated name or a name outside ``choices``.
    """
    if (
        not modalities
        or len(set(modalities)) != len(modalities)
        or not set(modalities) <= set(choices)
    ):
        raise ValueError(
            f"modalities: expected a non-empty subset of {choices}, each named once, "
            f"got {modalities}"
        )


__all__ = [
    "RENAMED_FIELDS",
    "ModelConfig",
    "Task",
    "check_choice",
    "check_modalities",
    "check_types",
    "dataclass",
    "describe",
    "field",
    "renamed_fields",
]
