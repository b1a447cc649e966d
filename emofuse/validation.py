"""Input checking at a model's entrance.

A model declares the layout of each input once as :class:`TensorSpec` objects; :func:`check_inputs`
then checks shapes, dtypes, masks against their tensors and that batch sizes (and any other named
axis) agree, raising a ``ValueError`` that names the argument, the expected layout and what came
in. Blocks below the model assume valid input.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

Kind = Literal["float", "int", "bool"]
Dim = int | str


@dataclass(frozen=True)
class TensorSpec:
    """The expected layout of one input.

    Args:
        name: the keyword argument, e.g. ``"audio"`` or ``"audio_mask"``.
        dims: one entry per axis; an ``int`` is a fixed size, a ``str`` names a size that must
            agree wherever the same name appears (``"B"`` across all inputs).
        kind: the dtype family the input must have:

            - ``"float"`` (the default): features, waveforms, frames; any floating dtype here,
              and :meth:`EmotionModel.check_inputs <emofuse.models.EmotionModel.check_inputs>`
              further requires the dtype of the model's weights;
            - ``"int"``: token ids or other indices, any integer dtype. A text model declares
              its token ids with ``kind="int"``, e.g.
              ``modality("text", ("B", "T"), kind="int", required=True)``; left at
              ``"float"``, every batch of ids is refused. (A model with its own embedding also
              overrides ``EmotionModel.vocab_sizes`` so that ids are range-checked.)
            - ``"bool"``: masks, True = valid step.
        required: a missing required input is an error.
        needs: the input this one belongs to (a mask without its tensor is an error).
        meaning: a few words shown in error messages, e.g. ``"log-mel examples"``.
    """

    name: str
    dims: tuple[Dim, ...]
    kind: Kind = "float"
    required: bool = False
    needs: str | None = None
    meaning: str = ""

    @property
    def layout(self) -> str:
        text = "(" + ", ".join(str(d) for d in self.dims) + ")"
        return f"{text} {self.meaning}".rstrip()


def modality(
    name: str,
    dims: Sequence[Dim],
    *,
    kind: Kind = "float",
    required: bool = False,
    meaning: str = "",
) -> tuple[TensorSpec, TensorSpec]:
    """Specs for a modality tensor and its ``<name>_mask`` of shape ``dims[:2]``, True = valid.

    ``kind`` is the tensor's (see :class:`TensorSpec`): ``"int"`` for token ids; the mask is
    always ``"bool"``.
    """
    dims = tuple(dims)
    return (
        TensorSpec(name, dims, kind, required, meaning=meaning),
        TensorSpec(f"{name}_mask", dims[:2], "bool", needs=name, meaning="True = valid step"),
    )


def _kind_ok(t: Tensor, kind: Kind) -> bool:
    if kind == "float":
        return t.is_floating_point()
    if kind == "bool":
        return t.dtype == torch.bool
    return not t.is_floating_point() and not t.is_complex() and t.dtype != torch.bool


def require(condition: bool, message: Callable[[], str]) -> None:
    """Raise ``ValueError(message())`` unless ``condition`` holds.

    While ``torch.compile`` or ``torch.export`` traces a model, a size is symbolic and
    branching on it would freeze it to the traced value; there the condition becomes a
    ``torch._check``: a guard or a runtime assertion of the compiled or exported graph, so a
    graph traced at one batch size accepts every other (it raises ``RuntimeError`` naming the
    condition and the source line where it fails at run time).

    Raises:
        ValueError: ``condition`` is false (eager mode).
    """
    if torch.compiler.is_compiling():
        torch._check(condition)  # dynamo traces no message that reads local variables
    elif not condition:
        raise ValueError(message())


def _shape_error(spec: TensorSpec, value: Tensor, detail: str) -> str:
    return f"{spec.name}: expected shape {spec.layout}, got {tuple(value.shape)} {detail}"


def _named_axis_error(
    spec: TensorSpec, value: Tensor, axis: str, bound: int, origin: Mapping[str, str]
) -> str:
    return (
        f"{spec.name}: expected shape {spec.layout} with {axis} = {bound} as in "
        f"{origin[axis]}, got {tuple(value.shape)}"
    )


def check_inputs(specs: Sequence[TensorSpec], inputs: Mapping[str, object]) -> dict[str, int]:
    """Check ``inputs`` against ``specs``; returns the sizes bound to each named axis.

    Layouts, dtypes and missing inputs are checked as Python values; sizes through
    :func:`require`, so that a model traced by ``torch.compile`` or ``torch.export`` keeps
    its batch and sequence sizes dynamic (the returned sizes are then symbolic).

    Raises:
        ValueError: naming the argument, the expected layout and what was given.
    """
    sizes: dict[str, int] = {}
    origin: dict[str, str] = {}
    for spec in specs:
        value = inputs.get(spec.name)
        if value is None:
            if spec.required:
                raise ValueError(f"{spec.name}: required input missing; expected {spec.layout}")
            continue
        if not isinstance(value, Tensor):
            raise ValueError(
                f"{spec.name}: expected a tensor of shape {spec.layout}, got {type(value).__name__}"
            )
        if spec.needs is not None and inputs.get(spec.needs) is None:
            raise ValueError(f"{spec.name}: given without {spec.needs}, which it masks")
        if value.dim() != len(spec.dims):
            raise ValueError(
                f"{spec.name}: expected a {len(spec.dims)}-d tensor of shape {spec.layout}, "
                f"got shape {tuple(value.shape)}"
            )
        if not _kind_ok(value, spec.kind):
            raise ValueError(
                f"{spec.name}: expected a {spec.kind} tensor of shape {spec.layout}, "
                f"got dtype {value.dtype}"
            )
        for axis, (want, got) in enumerate(zip(spec.dims, value.shape, strict=True)):
            if isinstance(want, int):
                detail = f"(axis {axis} must be {want})"
                require(got == want, functools.partial(_shape_error, spec, value, detail))
            elif want in sizes:
                bound = sizes[want]
                message = functools.partial(_named_axis_error, spec, value, want, bound, origin)
                require(bound == got, message)
            else:
                sizes[want] = got  # a symbolic size while tracing: int() would freeze it
                origin[want] = spec.name
    return sizes


def ensure_mask(mask: Tensor | None, x: Tensor) -> Tensor:
    """``mask`` or, when ``None``, an all-valid (B, T) mask for ``x`` of shape (B, T, ...)."""
    if mask is not None:
        return mask
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


__all__ = ["TensorSpec", "check_inputs", "ensure_mask", "modality", "require"]
