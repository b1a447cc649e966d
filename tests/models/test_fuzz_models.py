"""Property-based fuzzing of every registered tiny model's entrance (hypothesis).

Inputs are drawn from the model's own ``input_specs`` (and the trailing sizes of its
``example_inputs``): batch sizes 0 to 3, any length per named axis (the config's lengths for
fixed-length models), padding at the start, in the middle, at the end, anywhere, or the whole
row, masks given or left out, optional modalities left out, NaN, inf, -inf or huge values in the
padded steps of float inputs and any valid id in padded token positions. The properties: a valid
input never raises; every output and recorded map is finite; padding never matters (the outputs
equal those with zeros in the padded steps, and, for models of free length, those with the
padding columns at the end cut off); each row's outputs equal those of the row alone, and of the
row alone without an optional modality whose row is all padding. A malformed input (wrong rank,
size, mask shape or dtype, not a tensor, a mask without its tensor, an id out of range) raises a
``ValueError`` naming the argument.

Runs ``EMOFUSE_FUZZ_EXAMPLES`` examples per test (see ``tests/conftest.py``)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from helpers import assert_outputs_close, mask_row
from hypothesis import given, note
from hypothesis import strategies as st
from torch import Tensor

import emofuse
from emofuse.outputs import EmotionOutput
from emofuse.validation import TensorSpec

TINY = emofuse.list_models("*_tiny")
MAX_BATCH = 3
# float values a padded step may hold: none of them may reach an output
PADDING_VALUES = (float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 0.0)


@dataclass(frozen=True)
class Layout:
    """What a model takes, read from its specs: each modality's spec, the name (or fixed size)
    of its length axis, the sizes after the length axis, and the id range of token inputs."""

    modalities: tuple[TensorSpec, ...]
    length_axis: dict[str, str | int]
    trailing: dict[str, tuple[int, ...]]
    example_length: dict[str, int]
    vocab: dict[str, int]

    @property
    def optional(self) -> list[str]:
        return [s.name for s in self.modalities if not s.required]


@functools.cache
def _model(name: str) -> emofuse.EmotionModel:
    return emofuse.build(name).eval()


@functools.cache
def _layout(name: str) -> Layout:
    model = _model(name)
    specs = model.input_specs(model.config)
    example = model.example_inputs(batch_size=1)
    modalities = tuple(s for s in specs if s.needs is None)
    vocab = dict(model.vocab_sizes())
    for s in modalities:
        if s.kind == "int" and s.name not in vocab:
            vocab[s.name] = int(example[s.name].max()) + 1
    return Layout(
        modalities=modalities,
        length_axis={s.name: s.dims[1] for s in modalities},
        trailing={s.name: tuple(example[s.name].shape[2:]) for s in modalities},
        example_length={s.name: example[s.name].shape[1] for s in modalities},
        vocab=vocab,
    )


@dataclass
class Case:
    """A drawn input: the clean one (zeros, id 0 in padded steps) and the poisoned one."""

    clean: dict[str, Tensor]
    poisoned: dict[str, Tensor]
    masks: dict[str, Tensor]  # every given modality's mask, also where the input leaves it out
    batch: int

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints this
        printer.text(repr(self))

    def __repr__(self) -> str:  # what a failing example shows: shapes, masks and fills
        shapes = {k: tuple(v.shape) for k, v in self.poisoned.items()}
        fills = {
            k: sorted({str(x) for x in v[~v.isfinite() | (v.abs() > 1e20)].tolist()})
            for k, v in self.poisoned.items()
            if v.is_floating_point()
        }
        return f"Case(shapes={shapes}, masks={self.masks}, padding values={fills})"


@st.composite
def model_inputs(draw: st.DrawFn, name: str, min_batch: int = 0) -> Case:
    layout = _layout(name)
    batch = draw(st.integers(min_batch, MAX_BATCH), label="batch")
    optional = layout.optional
    left_out = set()
    if optional:  # at least one optional modality stays (models refuse none of them)
        left_out = set(draw(st.sets(st.sampled_from(optional), max_size=len(optional) - 1)))
    lengths: dict[str | int, int] = {}
    seed = draw(st.integers(0, 2**31 - 1), label="seed")
    g = torch.Generator().manual_seed(seed)
    clean, poisoned, masks = {}, {}, {}
    for spec in layout.modalities:
        if spec.name in left_out:
            continue
        axis = layout.length_axis[spec.name]
        if isinstance(axis, int):
            length = axis
        elif axis not in lengths:
            high = min(layout.example_length[spec.name] + 1, 6)
            lengths[axis] = length = draw(st.integers(1, high), label=f"length {axis}")
        else:
            length = lengths[axis]
        rows = [draw(mask_row(length), label=f"{spec.name}_mask row") for _ in range(batch)]
        mask = torch.tensor(rows, dtype=torch.bool).reshape(batch, length)
        shape = (batch, length, *layout.trailing[spec.name])
        keep = mask.reshape(batch, length, *[1] * len(layout.trailing[spec.name]))
        if spec.kind == "int":
            x = torch.randint(0, layout.vocab[spec.name], shape, generator=g)
            junk = torch.randint(0, layout.vocab[spec.name], shape, generator=g)
            clean[spec.name] = torch.where(keep, x, 0)
            poisoned[spec.name] = torch.where(keep, x, junk)
        else:
            x = torch.randn(shape, generator=g)
            values = draw(
                st.lists(st.sampled_from(PADDING_VALUES), min_size=1, max_size=3),
                label=f"{spec.name} padding values",
            )
            fill = torch.tensor(values)[torch.randint(0, len(values), shape, generator=g)]
            clean[spec.name] = torch.where(keep, x, 0.0)
            poisoned[spec.name] = torch.where(keep, x, fill)
        masks[spec.name] = mask
        # a mask of no padding may be left out (None = all valid)
        if not (mask.all() and draw(st.booleans(), label=f"leave out {spec.name}_mask")):
            clean[f"{spec.name}_mask"] = poisoned[f"{spec.name}_mask"] = mask
    return Case(clean, poisoned, masks, batch)


def _run(model: emofuse.EmotionModel, inputs: dict[str, Tensor]) -> EmotionOutput:
    with torch.no_grad():
        return model(**inputs, return_attentions=True)


def _assert_finite(out: EmotionOutput, batch: int, num_classes: int) -> None:
    assert out.logits.shape == (batch, num_classes)
    assert out.logits.isfinite().all(), "logits"
    if out.embedding is not None:
        assert out.embedding.shape[0] == batch and out.embedding.isfinite().all(), "embedding"
    for key, value in (out.modality_logits or {}).items():
        assert value.isfinite().all(), f"modality_logits[{key}]"
    for key, value in (out.attentions or {}).items():
        assert value.shape[0] == batch and value.isfinite().all(), f"attentions[{key}]"


def _rows(inputs: dict[str, Tensor], rows: slice) -> dict[str, Tensor]:
    return {k: v[rows] for k, v in inputs.items()}


def _output_row(out: EmotionOutput, row: int) -> EmotionOutput:
    pick = slice(row, row + 1)
    return EmotionOutput(
        logits=out.logits[pick],
        embedding=None if out.embedding is None else out.embedding[pick],
        modality_logits=(
            None
            if out.modality_logits is None
            else {k: v[pick] for k, v in out.modality_logits.items()}
        ),
    )


def _trim_trailing_padding(
    layout: Layout, case: Case, inputs: dict[str, Tensor]
) -> dict[str, Tensor] | None:
    """The inputs without the length-axis columns at the end that are padding in every row
    (and of every input sharing that axis); None when there are none."""
    keep: dict[str | int, int] = {}
    for key, mask in case.masks.items():
        axis = layout.length_axis[key]
        valid = mask.any(0).nonzero()
        last = int(valid.max()) + 1 if len(valid) else 1  # a sequence keeps one step
        keep[axis] = max(keep.get(axis, 1), last)
    out, trimmed = dict(inputs), False
    for key in case.masks:
        n = keep[layout.length_axis[key]]
        if n < inputs[key].shape[1]:
            trimmed = True
            out[key] = inputs[key][:, :n]
            if f"{key}_mask" in inputs:
                out[f"{key}_mask"] = inputs[f"{key}_mask"][:, :n]
    return out if trimmed else None


@pytest.mark.parametrize("name", TINY)
@given(data=st.data())
def test_fuzzed_valid_inputs_padding_never_matters(name: str, data: st.DataObject) -> None:
    model, layout = _model(name), _layout(name)
    case = data.draw(model_inputs(name), label="inputs")
    got = _run(model, case.poisoned)
    _assert_finite(got, case.batch, model.config.num_classes)
    want = _run(model, case.clean)
    assert_outputs_close(want, got)
    assert want.attentions.keys() == got.attentions.keys()
    for key in want.attentions:
        torch.testing.assert_close(got.attentions[key], want.attentions[key], msg=key)
    if not model.fixed_lengths and (trimmed := _trim_trailing_padding(layout, case, case.poisoned)):
        assert_outputs_close(want, _run(model, trimmed))
    if case.batch == 0:
        return
    row = data.draw(st.integers(0, case.batch - 1), label="row")
    alone = _rows(case.poisoned, slice(row, row + 1))
    assert_outputs_close(_output_row(got, row), _run(model, alone))
    # an optional modality all padding in this row is missing from it: the same as left out
    given_optional = [m for m in layout.optional if m in case.masks]
    empty = [m for m in given_optional if not case.masks[m][row].any()]
    if empty and len(empty) < len(given_optional):
        dropped = {k: v for k, v in alone.items() if k.removesuffix("_mask") not in empty}
        without = _run(model, dropped)
        mine = _output_row(got, row)
        torch.testing.assert_close(mine.logits, without.logits, atol=1e-5, rtol=1e-4)
        if without.embedding is not None:
            torch.testing.assert_close(mine.embedding, without.embedding, atol=1e-5, rtol=1e-4)
        for key, value in (without.modality_logits or {}).items():
            torch.testing.assert_close(mine.modality_logits[key], value, atol=1e-5, rtol=1e-4)


def _mutations(
    name: str, inputs: dict[str, Tensor], masks: dict[str, Tensor]
) -> list[tuple[str, str, Any]]:
    """(description, argument, malformed value or the _LEFT_OUT marker) for ``inputs``."""
    layout = _layout(name)
    out: list[tuple[str, str, Any]] = []
    for key, x in inputs.items():
        out += [
            ("one axis too many", key, x[None]),
            ("one axis too few", key, x[0]),
            ("not a tensor", key, x.tolist()),
        ]
        if key.endswith("_mask"):
            out += [
                ("a float mask", key, x.float()),
                ("an int mask", key, x.long()),
                ("a mask one step longer", key, torch.cat([x, x[:, :1]], 1)),
                ("a mask of another batch size", key, torch.cat([x, x[:1]], 0)),
            ]
            if key.removesuffix("_mask") in layout.optional:
                out.append(("a mask without its input", key.removesuffix("_mask"), _LEFT_OUT))
        elif x.is_floating_point():
            out += [
                ("float64 values", key, x.double()),
                ("integer values", key, x.long()),
                ("another size after the length", key, torch.cat([x, x[:, :, :1]], 2)),
            ]
            if isinstance(layout.length_axis[key], int):
                out.append(("another length (fixed)", key, torch.cat([x, x[:, :1]], 1)))
        else:
            out.append(("float ids", key, x.float()))
            if masks[key].any():  # padded ids are never read
                out += [
                    ("an id below 0", key, torch.full_like(x, -1)),
                    ("an id beyond the vocabulary", key, torch.full_like(x, layout.vocab[key])),
                ]
    return out


_LEFT_OUT = object()


@pytest.mark.parametrize("name", TINY)
@given(data=st.data())
def test_fuzzed_malformed_input_raises_value_error_naming_it(
    name: str, data: st.DataObject
) -> None:
    model = _model(name)
    case = data.draw(model_inputs(name, min_batch=1), label="inputs")
    inputs = dict(case.clean)
    for spec in model.input_specs(model.config):  # every mask given, to be malformed
        if spec.needs in inputs and spec.name not in inputs:
            inputs[spec.name] = case.masks[spec.needs]
    what, key, value = data.draw(
        st.sampled_from(_mutations(name, inputs, case.masks)), label="mutation"
    )
    note(f"malformed: {what} ({key})")
    bad = dict(inputs)
    if value is _LEFT_OUT:
        del bad[key]
        key = f"{key}_mask"
    else:
        bad[key] = value
    with pytest.raises(ValueError, match=re.escape(key)):
        model(**bad)
