"""Every registered model exports with ``torch.export`` and to ONNX with a dynamic batch size and
dynamic sequence lengths, and the exported graphs give the eager outputs at other batch sizes
and lengths, padding included (NaN, inf and -inf in padded steps, padding anywhere in a row).

Each tiny model is traced once (a module-scoped fixture) and written in both formats; the
paper configurations are the same code at other sizes and are not exported here. Tolerances:
atol 1e-5, rtol 1e-4 in float32 (onnxruntime's kernels sum in another order)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
from helpers import append_padding, poison_padding, scattered_masks

import emofuse
from emofuse.cli import main
from emofuse.export import (
    dynamic_axes,
    export,
    export_program,
    flat_outputs,
    run_onnx,
    save,
)

TINY = emofuse.list_models("*_tiny")


class Exported:
    def __init__(self, model: emofuse.EmotionModel, folder: Path) -> None:
        self.model = model
        self.inputs = model.example_inputs(batch_size=2)
        self.program = export_program(model, self.inputs)
        self.axes = dynamic_axes(model, self.inputs)
        self.onnx = save(self.program, folder / "model.onnx", axis_names=self.axes)
        self.pt2 = save(self.program, folder / "model.pt2", format="pt2")


@pytest.fixture(scope="module", params=TINY)
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    torch.manual_seed(0)
    model = emofuse.build(request.param).eval()
    return Exported(model, tmp_path_factory.mktemp(request.param))


def _shorten(inputs: dict[str, torch.Tensor], length: int) -> dict[str, torch.Tensor]:
    """The first ``length`` steps of every masked input, each row keeping a valid step."""
    out = dict(inputs)
    for name in [k for k in inputs if f"{k}_mask" in inputs]:
        mask = inputs[f"{name}_mask"][:, :length].clone()
        mask[:, 0] = True
        out[name], out[f"{name}_mask"] = inputs[name][:, :length], mask
    return out


def _cases(model: emofuse.EmotionModel, *, smallest: bool) -> Iterator[dict[str, Any]]:
    """Inputs at other batch sizes and lengths than the traced ones (batch 2), padding
    scattered through the rows and poisoned with NaN and inf."""
    g = torch.Generator().manual_seed(1)
    sizes = [(1, "short"), (3, "same"), (4, "long")] if smallest else [(3, "same"), (4, "long")]
    for batch, lengths in sizes:
        inputs = model.example_inputs(batch_size=batch, generator=g)
        if not model.fixed_lengths and lengths == "long":
            inputs = append_padding(inputs, extra=3)
        if not model.fixed_lengths and lengths == "short":
            inputs = _shorten(inputs, 1)
        yield poison_padding(scattered_masks(inputs) if lengths != "short" else inputs)


def _assert_same(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys()
    for key in want:
        assert got[key].isfinite().all(), key
        torch.testing.assert_close(got[key], want[key], atol=1e-5, rtol=1e-4, msg=key)


def _eager(model: emofuse.EmotionModel, inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
    with torch.no_grad():
        return flat_outputs(model(**inputs))


def test_exported_graph_has_no_data_dependent_shape(exported: Exported) -> None:
    # valid frames are selected with the mask, not packed with nonzero()
    targets = {str(node.target) for node in exported.program.graph.nodes}
    assert not [t for t in targets if "nonzero" in t or "masked_select" in t]


def test_onnx_equals_eager_at_other_batch_sizes_and_lengths(exported: Exported) -> None:
    for inputs in _cases(exported.model, smallest=True):
        _assert_same(run_onnx(exported.onnx, inputs), _eager(exported.model, inputs))


def test_pt2_equals_eager_at_other_batch_sizes_and_lengths(exported: Exported) -> None:
    program = torch.export.load(exported.pt2).module()
    for inputs in _cases(exported.model, smallest=False):
        _assert_same(flat_outputs(program(**inputs)), _eager(exported.model, inputs))


def test_onnx_axes_are_dynamic_and_named_after_the_input_specs(exported: Exported) -> None:
    graph = onnx.load(str(exported.onnx)).graph
    assert [i.name for i in graph.input] == list(exported.inputs)
    assert [o.name for o in graph.output] == list(_eager(exported.model, exported.inputs))
    for value in graph.input:
        dims = value.type.tensor_type.shape.dim
        named = {axis: dim.dim_param for axis, dim in enumerate(dims) if dim.dim_param}
        assert named == exported.axes[value.name], value.name
        assert 0 in named, f"{value.name}: the batch axis must be dynamic"
    for value in graph.output:
        assert value.type.tensor_type.shape.dim[0].dim_param == "B", value.name


def test_step_axes_are_dynamic_unless_the_config_fixes_them() -> None:
    for name in TINY:
        model = emofuse.build(name)
        axes = dynamic_axes(model, model.example_inputs())
        steps = {a for named in axes.values() for axis, a in named.items() if axis == 1}
        assert bool(steps) != model.fixed_lengths, name


def test_export_traces_in_evaluation_mode_and_restores_training(tmp_path: Path) -> None:
    model = emofuse.build("av_attention_fusion_tiny").train()  # BatchNorm and dropout train
    program = torch.export.load(export(model, tmp_path / "model.pt2", format="pt2")).module()
    assert all(m.training for m in model.modules())
    inputs = poison_padding(model.example_inputs(batch_size=3))
    _assert_same(flat_outputs(program(**inputs)), _eager(model.eval(), inputs))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"format": "tflite"}, r"format: expected one of onnx, pt2, got 'tflite'"),
        ({"format": "pt2", "opset_version": 18}, r"opset_version: applies to format='onnx'"),
        ({"inputs": {"speech": torch.zeros(2, 3)}}, r"inputs: expected inputs among .*'speech'"),
    ],
)
def test_bad_arguments_name_themselves(tmp_path: Path, kwargs: dict, pattern: str) -> None:
    model = emofuse.build("mcr_tiny")
    with pytest.raises(ValueError, match=pattern):
        export(model, tmp_path / "model", **kwargs)


def test_cli_exports_a_saved_model_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = emofuse.build("av_attention_fusion_tiny").eval()
    model.save_pretrained(tmp_path / "saved")
    out = tmp_path / "exported" / "model.pt2"
    code = main(["export", str(tmp_path / "saved"), "--format", "pt2", "--out", str(out)])
    assert code == 0
    assert "dynamic axes: B, N" in capsys.readouterr().out
    program = torch.export.load(out).module()
    inputs = poison_padding(model.example_inputs(batch_size=3))
    _assert_same(flat_outputs(program(**inputs)), _eager(model, inputs))
