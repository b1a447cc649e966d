"""Config values are checked against their field annotations, for every registered model and
however the config is made (``build`` overrides, ``replace``, ``from_dict``, ``config.json``)."""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args

import pytest

import emofuse
from emofuse.blocks import build_cross_modal
from emofuse.blocks.audio_visual_exchange import CROSS_MODAL_ENCODERS
from emofuse.config import ModelConfig, Task
from emofuse.encoders.resnet3d import DEPTHS
from emofuse.hub import CONFIG_NAME
from emofuse.models import EmotionModel
from emofuse.models.av_attention_fusion import AUDIO_BACKBONES, AVAttentionFusionConfig, VideoDepth
from emofuse.registry import get_entry, library_models


def _hints(config: ModelConfig) -> dict[str, Any]:
    hints = typing.get_type_hints(type(config))
    return {f.name: hints[f.name] for f in dataclasses.fields(config)}


def _wrong_values(hint: Any) -> list[Any]:
    """Values of a type the annotation ``hint`` excludes (each must be a ``TypeError``)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:  # the configs' unions: X | None
        (member,) = [a for a in args if a is not type(None)]
        return [v for v in _wrong_values(member) if v is not None]
    if origin is Literal:
        if all(isinstance(a, str) for a in args):
            return [1, True, None]
        return [str(args[0]), True, float(args[0]), None]
    if origin is tuple:
        length = 1 if args[-1] is Ellipsis else len(args)
        return ["ab", 3, {"a": 1}, None, [_wrong_values(args[0])[0]] * length]
    return {
        bool: ["False", "false", 1, 0, None],
        int: ["6", 6.0, True, None],
        float: ["0.1", True, None],
        str: [1, True, None, ("a",)],
    }[hint]


CASES = [
    pytest.param(name, field, id=f"{name}.{field}")
    for name in emofuse.list_models()
    for field in emofuse.default_config(name).field_names()
]


@pytest.mark.parametrize(("name", "field"), CASES)
def test_every_field_refuses_a_wrong_type(name: str, field: str) -> None:
    hint = _hints(emofuse.default_config(name))[field]
    wrong = _wrong_values(hint)
    assert wrong
    for value in wrong:
        with pytest.raises(TypeError, match=rf"^{field}(\[\d+\])?: expected .+, got ") as error:
            emofuse.default_config(name, **{field: value})
        if not str(error.value).startswith(f"{field}["):  # an item names itself instead
            assert f"got {type(value).__name__} {value!r}" in str(error.value)


@pytest.mark.parametrize("name", emofuse.list_models())
def test_every_config_round_trips_through_json(name: str) -> None:
    config = emofuse.default_config(name)
    again = type(config).from_dict(json.loads(config.to_json()))
    assert again == config
    assert all(type(getattr(again, f)) is type(getattr(config, f)) for f in config.field_names())


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("emotion_query_transformer_tiny", "use_positional_encoding", "false"),
        ("mer_sem_mbt_tiny", "freeze_backbone_layers", "False"),
        ("mer_sem_mbt_tiny", "label_names", "abcdef"),
        ("mer_sem_mbt_tiny", "num_classes", "6"),
        ("av_attention_fusion_tiny", "video_depth", "18"),
        ("av_attention_fusion_tiny", "use_temporal", 0),
        ("mcr_tiny", "seq_lens", "123"),
        ("mcr_tiny", "ffn_dim", 16.0),
        ("colearning_transformer_tiny", "num_heads", True),
    ],
)
def test_build_replace_and_from_dict_refuse_wrong_types(name: str, field: str, value: Any) -> None:
    message = rf"^{field}: expected .+, got {type(value).__name__} {re.escape(repr(value))}$"
    with pytest.raises(TypeError, match=message):
        emofuse.build(name, **{field: value})
    config = emofuse.default_config(name)
    with pytest.raises(TypeError, match=message):
        config.replace(**{field: value})
    with pytest.raises(TypeError, match=message):
        type(config).from_dict(json.loads(json.dumps({**config.to_dict(), field: value})))


def test_the_messages_say_what_was_expected_and_what_came_in() -> None:
    with pytest.raises(TypeError) as error:
        emofuse.default_config("mer_sem_mbt_tiny", label_names="abcdef")
    assert str(error.value) == (
        "label_names: expected a tuple of str (a list is accepted) or None, got str 'abcdef'"
    )
    with pytest.raises(TypeError) as error:
        emofuse.default_config("emotion_query_transformer_tiny", use_positional_encoding="false")
    assert str(error.value) == (
        "use_positional_encoding: expected a bool (True or False), got str 'false'"
    )
    with pytest.raises(TypeError, match=r"^label_names\[1\]: expected a str, got int 2$"):
        emofuse.default_config("mer_sem_mbt_tiny", label_names=("a", 2))


@pytest.mark.parametrize(
    ("name", "field", "value", "choices"),
    [
        ("mer_sem_mbt_tiny", "cross_modal", "bottleneck", CROSS_MODAL_ENCODERS),
        ("av_attention_fusion_tiny", "video_depth", 100, (18, 34, 50, 101, 152)),
        ("av_attention_fusion_tiny", "video_stem", "r2plus1d", ("hara", "r3d")),
        (
            "av_attention_fusion_tiny",
            "audio_backbone",
            "resnet50",
            ("resnet18", "resnet34", "mobilenet_v2"),
        ),
        ("emotion_query_transformer_tiny", "fusion", "late", ("transformer", "early")),
        ("mcr_tiny", "source_update", "gru", ("sum", "sum_no_gate", "low_level", "ffn_only")),
        ("mcr_tiny", "structure", "zigzag", ("parallel", "serial")),
        ("toy_fusion_tiny", "task", "ordinal", ("multilabel", "multiclass", "regression")),
    ],
)
def test_a_choice_not_offered_is_a_value_error_naming_the_choices(
    name: str, field: str, value: Any, choices: tuple[Any, ...]
) -> None:
    with pytest.raises(ValueError) as error:
        emofuse.build(name, **{field: value})
    assert str(error.value) == f"{field}: expected one of {list(choices)}, got {value!r}"


def test_an_item_choice_not_offered_names_the_field_and_item() -> None:
    with pytest.raises(ValueError, match=r"^modalities\[1\]: expected one of \['audio', 'video'\]"):
        emofuse.default_config("av_attention_fusion_tiny", modalities=("audio", "speech"))


def test_the_choices_are_what_the_components_build() -> None:
    hints = typing.get_type_hints(AVAttentionFusionConfig)
    assert set(get_args(VideoDepth)) == set(DEPTHS)
    assert set(get_args(hints["audio_backbone"])) == {*AUDIO_BACKBONES, "mobilenet_v2"}
    for kind in CROSS_MODAL_ENCODERS:
        build_cross_modal(kind, d_model=8, num_heads=2)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Everything(ModelConfig):
    rate: float = 0.5
    steps: int = 2
    name: str = "x"
    widths: tuple[int, int] = (1, 2)
    groups: tuple[tuple[int, ...], ...] = ((1,), (2, 3))
    size: int | tuple[int, int] = 3
    mode: Literal["a", "b"] | None = None
    anything: Any = None


def test_the_conversions_a_json_file_needs() -> None:
    config = _Everything(
        rate=1,
        widths=[3, 4],
        groups=[[1, 2], []],
        size=[5, 6],
        label_names=["a", "b"],
        num_classes=2,
    )
    assert config.rate == 1.0 and type(config.rate) is float
    assert config.widths == (3, 4) and config.groups == ((1, 2), ())
    assert config.size == (5, 6) and config.label_names == ("a", "b")
    assert config.num_classes == 2
    assert _Everything.from_dict(json.loads(config.to_json())) == config
    assert hash(config) == hash(_Everything.from_dict(json.loads(config.to_json())))
    assert _Everything(name=Path("folder")).name == "folder"  # a path for a str field
    assert _Everything(dropout=0).dropout == 0.0


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"rate": True}, TypeError, r"^rate: expected a float \(or an int\), got bool True$"),
        ({"steps": 2.0}, TypeError, r"^steps: expected an int, got float 2.0$"),
        ({"widths": (1, 2, 3)}, ValueError, r"^widths: expected 2 items \(int, int\), got 3"),
        ({"widths": "12"}, TypeError, r"^widths: expected a tuple \(int, int\)"),
        ({"groups": ((1,), 2)}, TypeError, r"^groups\[1\]: expected a tuple of int"),
        ({"groups": ((1,), ("2",))}, TypeError, r"^groups\[1\]\[0\]: expected an int, got str"),
        ({"size": "3"}, TypeError, r"^size: expected an int or a tuple \(int, int\)"),
        ({"size": (3,)}, ValueError, r"^size: expected 2 items"),
        ({"mode": "c"}, ValueError, r"^mode: expected one of \['a', 'b'\], got 'c'$"),
        ({"mode": 1}, TypeError, r"^mode: expected one of \['a', 'b'\] or None, got int 1$"),
        ({"name": None}, TypeError, r"^name: expected a str, got NoneType None$"),
        ({"task": "multiclass", "num_classes": 1}, ValueError, r"^num_classes: a multiclass"),
    ],
)
def test_the_checking_rules(overrides: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _Everything(**overrides)


def test_a_config_defined_in_a_function_is_checked() -> None:
    Mode = Literal["x", "y"]  # noqa: N806 (a local type alias)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Local(ModelConfig):
        mode: Mode = "x"

    assert Local(mode="y").mode == "y"
    with pytest.raises(ValueError, match="^mode: expected one of"):
        Local(mode="z")


def test_a_hand_edited_config_json_is_refused(tmp_path: Path) -> None:
    model = emofuse.build("emotion_query_transformer_tiny")
    model.save_pretrained(tmp_path)
    values = json.loads((tmp_path / CONFIG_NAME).read_text())
    for field, value in (("use_positional_encoding", "false"), ("label_names", "abcdef")):
        edited = {**values, field: value}
        (tmp_path / CONFIG_NAME).write_text(json.dumps(edited))
        with pytest.raises(TypeError, match=rf"^{field}: expected"):
            type(model).from_pretrained(tmp_path)
        with pytest.raises(TypeError, match=rf"^{field}: expected"):
            emofuse.build("emotion_query_transformer_tiny", pretrained=tmp_path)
    (tmp_path / CONFIG_NAME).write_text(json.dumps(values))
    assert type(model).from_pretrained(tmp_path).config == model.config


# -- task and fixed_lengths -------------------------------------------------------------------
@pytest.mark.parametrize("name", emofuse.list_models())
def test_the_task_is_the_config_s(name: str) -> None:
    config = emofuse.default_config(name)
    assert config.task in get_args(Task)
    assert emofuse.model_info(name)["task"] == config.task
    model_class = get_entry(name).model_class
    assert "task" not in vars(model_class) and not hasattr(model_class, "task_of")
    assert isinstance(model_class.fixed_lengths, bool)


def test_tasks_of_the_papers_and_fixed_lengths() -> None:
    tasks = {n: emofuse.default_config(n).task for n in library_models()}
    assert tasks["av_attention_fusion"] == "multiclass"
    assert tasks["mcr"] == "regression" and tasks["mcr_iemocap"] == "multilabel"
    assert tasks["mer_sem_mbt"] == tasks["colearning_transformer"] == "multilabel"
    assert emofuse.build("mer_sem_mbt_tiny", task="multiclass").config.task == "multiclass"
    assert EmotionModel.fixed_lengths is False
    fixed = [n for n in emofuse.list_models() if get_entry(n).model_class.fixed_lengths]
    assert fixed and all(n.startswith("mcr") for n in fixed)
