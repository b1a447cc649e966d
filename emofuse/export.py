"""Export a model for deployment: a ``torch.export`` archive (``.pt2``) or an ONNX graph, both
with a dynamic batch size and dynamic sequence lengths.

The exported graph takes the model's keyword inputs (``audio``, ``audio_mask``, ...) and returns
its outputs flattened and named: ``logits``, ``embedding`` and ``modality_logits.<modality>``
where the model makes them (attention maps are not exported). Masks work as in PyTorch: padded
steps, even NaN or inf there, never change an output.

Dynamic axes: the batch axis of every input and, unless the model's config fixes them
(:attr:`EmotionModel.fixed_lengths <emofuse.models.EmotionModel.fixed_lengths>`), the step axis
of every modality and its mask. Other axes (image size, mel bins, ...) keep the sizes of the
example inputs. Frame CNNs that run on the valid frames only in PyTorch run on every frame in
the exported graph and select the valid outputs with the mask
(:func:`emofuse.layers.run_on_valid_steps`): the same outputs in evaluation mode, without a
shape that depends on the mask's values.

Example::

    import emofuse
    from emofuse.export import export, run_onnx

    model = emofuse.build("mer_sem_mbt_tiny")
    export(model, "model.onnx", format="onnx")
    outputs = run_onnx("model.onnx", model.example_inputs(batch_size=4))  # {"logits": ...}

    program = torch.export.load(export(model, "model.pt2", format="pt2")).module()
    output = program(**model.example_inputs(batch_size=4))  # an EmotionOutput

From the command line: ``emofuse export NAME_OR_DIR --format onnx|pt2 --out PATH``.

Limits. The exported graphs compute in evaluation mode and return no attention maps.
``torch.export`` records guards on the traced sizes, which a ``.pt2`` program checks when
called: a few models' programs refuse a batch of 1 or a sequence of 1 (guards on the memory
layout of a view, not on the result; the ONNX graph, which keeps no guard, takes those sizes
and the tests check it there), and a text axis takes at most the text encoder's positions.

ONNX needs the optional extra ``emofuse[export]`` (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor
from torch.export import Dim, ExportedProgram
from torch.utils import _pytree as pytree

from emofuse.hub import PathLike
from emofuse.models.base import EmotionModel

Format = Literal["onnx", "pt2"]
FORMATS: tuple[Format, ...] = ("onnx", "pt2")

# ONNX keeps the weights in the graph file below this size (protobuf's limit is 2 GiB).
_SINGLE_FILE_BYTES = 1 << 30


def dynamic_axes(
    model: EmotionModel[Any], inputs: Mapping[str, Tensor]
) -> dict[str, dict[int, str]]:
    """The dynamic axes of each input, by the names of the model's ``input_specs``.

    Args:
        model: the model to export.
        inputs: keyword inputs as ``forward`` takes them.
    Returns:
        ``{input name: {axis: axis name}}``: axis 0 (``"B"``) of every input and axis 1 (the
        steps) of every modality that has a mask in its layout, and of the mask, unless
        ``model.fixed_lengths``.

    Raises:
        ValueError: an input the model does not take.
    """
    specs = {spec.name: spec for spec in model.input_specs(model.config)}
    unknown = sorted(set(inputs) - set(specs))
    if unknown:
        raise ValueError(f"inputs: expected inputs among {sorted(specs)}, got {unknown}")
    masked = {spec.needs for spec in specs.values() if spec.needs is not None}
    axes: dict[str, dict[int, str]] = {}
    for name in inputs:
        dims = specs[name].dims
        axes[name] = {0: str(dims[0])}
        stepped = name in masked or specs[name].needs is not None
        if stepped and not model.fixed_lengths and isinstance(dims[1], str):
            axes[name][1] = dims[1]
    return axes


def dynamic_shapes(model: EmotionModel[Any], inputs: Mapping[str, Tensor]) -> dict[str, Any]:
    """:func:`dynamic_axes` as ``torch.export`` takes them: ``Dim.DYNAMIC`` on each (axes that
    share a name are tied together by the model's own input checks, and the export finds
    each axis's range, e.g. at most the text encoder's position table)."""
    return {
        name: dict.fromkeys(axes, Dim.DYNAMIC) for name, axes in dynamic_axes(model, inputs).items()
    }


def export_program(
    model: EmotionModel[Any], inputs: Mapping[str, Tensor] | None = None
) -> ExportedProgram:
    """``torch.export`` of ``model`` in evaluation mode with :func:`dynamic_shapes`.

    Args:
        model: the model; traced in evaluation mode (dropout off, BatchNorm on its running
            statistics) and put back in its own mode afterwards.
        inputs: example keyword inputs, which also choose the optional inputs the graph takes;
            default ``model.example_inputs(batch_size=2)``.
    Returns:
        the exported program; ``program.module()(**inputs)`` returns an
        :class:`~emofuse.outputs.EmotionOutput`.

    Raises:
        ValueError: ``inputs`` that do not fit the model (see ``EmotionModel.check_inputs``).
    """
    inputs = _example_inputs(model, inputs)
    with _evaluation_mode(model), _size_oblivious():
        return torch.export.export(
            model, (), dict(inputs), dynamic_shapes=dynamic_shapes(model, inputs), strict=False
        )


def save(
    program: ExportedProgram,
    path: PathLike,
    *,
    format: Format = "onnx",  # the word users type (the CLI's --format)
    axis_names: Mapping[str, Mapping[int, str]] | None = None,
    opset_version: int | None = None,
) -> Path:
    """Write a program from :func:`export_program` as an ONNX graph or a ``.pt2`` archive.

    The ONNX graph's inputs keep the keyword names and its outputs get the names of
    :func:`flat_outputs`.

    Args:
        program: the exported model.
        path: the file to write (``.onnx`` or ``.pt2`` by convention); its folder is created.
        format: ``"onnx"`` (run with onnxruntime, see :func:`run_onnx`) or ``"pt2"`` (load
            with :func:`torch.export.load`; ``.module()(**inputs)`` gives an
            :class:`~emofuse.outputs.EmotionOutput`).
        axis_names: ``{input: {axis: name}}`` (:func:`dynamic_axes`): names for the ONNX
            graph's dynamic axes (default: the exporter's symbols, ``s0``, ...).
        opset_version: the ONNX opset (default: the exporter's); ``"onnx"`` only.
    Returns:
        ``path``. An ONNX graph over 1 GiB of weights keeps them in ``<path>.data`` beside it.

    Raises:
        ValueError: an unknown ``format``, or ``opset_version`` with ``"pt2"``.
        ImportError: ``"onnx"`` without the ``emofuse[export]`` extra installed.
    """
    _check_format(format, opset_version)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "pt2":
        torch.export.save(program, path)
        return path
    onnx_program = torch.onnx.export(
        program, (), dynamo=True, opset_version=opset_version, verbose=False
    )
    assert onnx_program is not None  # dynamo=True always returns the program
    _name_onnx_graph(onnx_program.model, program, axis_names or {})
    size = sum(t.numel() * t.element_size() for t in program.state_dict.values())
    onnx_program.save(path, external_data=size > _SINGLE_FILE_BYTES)
    return path


def export(
    model: EmotionModel[Any],
    path: PathLike,
    *,
    format: Format = "onnx",  # the word users type (the CLI's --format)
    inputs: Mapping[str, Tensor] | None = None,
    opset_version: int | None = None,
) -> Path:
    """Write ``model`` as an ONNX graph or a ``torch.export`` archive with dynamic batch size
    and sequence lengths: :func:`export_program`, then :func:`save`.

    Args:
        model: the model; exported in evaluation mode (its own mode is restored).
        path: the file to write (``.onnx`` or ``.pt2`` by convention); its folder is created.
        format: ``"onnx"`` or ``"pt2"`` (see :func:`save`).
        inputs: example keyword inputs, which also choose the optional inputs the graph
            takes; default ``model.example_inputs(batch_size=2)``.
        opset_version: the ONNX opset (default: the exporter's); ``"onnx"`` only.
    Returns:
        ``path``.

    Raises:
        ValueError: an unknown ``format``, ``opset_version`` with ``"pt2"``, or ``inputs``
            that do not fit the model.
        ImportError: ``"onnx"`` without the ``emofuse[export]`` extra installed.
    """
    _check_format(format, opset_version)  # before the (slow) trace
    inputs = _example_inputs(model, inputs)
    return save(
        export_program(model, inputs),
        path,
        format=format,
        axis_names=dynamic_axes(model, inputs),
        opset_version=opset_version,
    )


def flat_outputs(output: Any) -> dict[str, Tensor]:
    """A model's (or a loaded ``.pt2`` program's) outputs by the names the ONNX graph gives
    them: ``logits``, ``embedding``, ``modality_logits.<modality>``; ``None`` fields are left
    out."""
    leaves, _ = pytree.tree_flatten_with_path(output)
    return {_key(path): value for path, value in leaves if isinstance(value, Tensor)}


def run_onnx(path: PathLike, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Run an exported ONNX graph with onnxruntime (CPU).

    Args:
        path: a file written by :func:`export` with ``format="onnx"``.
        inputs: keyword inputs, the ones the graph was exported with (any batch size and,
            where dynamic, any lengths).
    Returns:
        ``{output name: tensor}``, named as :func:`flat_outputs` names the model's outputs.

    Raises:
        ValueError: an input the graph does not take, or one it needs missing.
        ImportError: without the ``emofuse[export]`` extra installed.
    """
    _require_onnx()
    import onnxruntime  # type: ignore[import-untyped]  # ships no type information

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = [i.name for i in session.get_inputs()]
    if set(wanted) != set(inputs):
        raise ValueError(
            f"inputs: expected the graph's inputs {sorted(wanted)}, got {sorted(inputs)}"
        )
    feed = {name: inputs[name].detach().cpu().numpy() for name in wanted}
    names = [o.name for o in session.get_outputs()]
    return {
        name: torch.from_numpy(value)
        for name, value in zip(names, session.run(names, feed), strict=True)
    }


def _name_onnx_graph(
    model: Any, program: ExportedProgram, axis_names: Mapping[str, Mapping[int, str]]
) -> None:
    """Name the outputs of an ``onnx_ir`` model as :func:`flat_outputs` does and its dynamic
    axes by ``axis_names``, wherever their symbols appear."""
    import onnx_ir as ir

    graph = model.graph
    spec = program.call_spec.out_spec
    assert spec is not None  # an exported model always returns something
    names = list(flat_outputs(pytree.tree_unflatten([torch.empty(0)] * spec.num_leaves, spec)))
    values = [*graph.inputs, *(v for node in graph.all_nodes() for v in node.outputs)]
    for value in values:  # an inner value may already hold an output's name
        if value.name in names and not value.is_graph_output():
            value.name = f"{value.name}.inner"
    for value, name in zip(graph.outputs, names, strict=True):
        value.name = name
    symbols: dict[str, str] = {}
    for value in graph.inputs:
        for axis, axis_name in axis_names.get(value.name, {}).items():
            dim = value.shape[axis] if value.shape is not None else None
            if isinstance(dim, ir.SymbolicDim) and dim.value is not None:
                symbols.setdefault(dim.value, axis_name)
    for value in values:
        if value.shape is not None:
            value.shape = ir.Shape(
                [
                    ir.SymbolicDim(symbols[d.value])
                    if isinstance(d, ir.SymbolicDim) and d.value in symbols
                    else d
                    for d in value.shape
                ]
            )


def _key(path: tuple[Any, ...]) -> str:
    parts = []
    for entry in path:
        for attribute in ("name", "key", "idx"):
            if hasattr(entry, attribute):
                parts.append(str(getattr(entry, attribute)))
                break
    return ".".join(parts)


def _check_format(format: str, opset_version: int | None) -> None:
    if format not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    if opset_version is not None and format != "onnx":
        raise ValueError(f"opset_version: applies to format='onnx' only, got format={format!r}")
    if format == "onnx":
        _require_onnx()


def _example_inputs(
    model: EmotionModel[Any], inputs: Mapping[str, Tensor] | None
) -> Mapping[str, Tensor]:
    if inputs is None:
        inputs = model.example_inputs(batch_size=2)
    dynamic_axes(model, inputs)  # names every input the model does not take
    model.check_inputs(**inputs)
    return inputs


@contextlib.contextmanager
def _evaluation_mode(model: torch.nn.Module) -> Iterator[None]:
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.train(training)


@contextlib.contextmanager
def _size_oblivious() -> Iterator[None]:
    """Trace sizes without assuming they differ from 0 and 1 (``torch.export`` otherwise
    specialises, or bounds below by 2, any axis or derived length that could be 1)."""
    from torch.fx.experimental import _config

    with _config.patch(backed_size_oblivious=True):  # type: ignore[attr-defined]  # added at import
        yield


def _require_onnx() -> None:
    missing = []
    for module in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(f"ONNX export needs {', '.join(missing)}: pip install 'emofuse[export]'")


__all__ = [
    "FORMATS",
    "dynamic_axes",
    "dynamic_shapes",
    "export",
    "export_program",
    "flat_outputs",
    "run_onnx",
    "save",
]
