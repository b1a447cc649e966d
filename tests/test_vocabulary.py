"""One vocabulary (issue #12 items 2 and 6): the same names for the same thing in every config
and constructor, keyword-only constructor arguments after the first, and the fields renamed
since emofuse 0.1 still read from a saved ``config.json``."""

from __future__ import annotations

import dataclasses
import inspect
import json
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import emofuse
import emofuse.blocks
import emofuse.encoders
import emofuse.layers
from emofuse.config import RENAMED_FIELDS, ModelConfig, renamed_fields
from emofuse.models import EmotionModel

# one paper configuration per library model class
MODELS = [
    "av_attention_fusion",
    "colearning_transformer",
    "emotion_query_transformer",
    "mcr",
    "mer_sem_mbt",
]
CONFIG_CLASSES = {type(emofuse.default_config(n)) for n in emofuse.list_models()}
# the names of 0.1 that meant what the vocabulary now names otherwise
OLD_NAMES = {old for renamed in RENAMED_FIELDS.values() for old in renamed}


def _modules(package: object) -> list[type[nn.Module]]:
    found = [getattr(package, name) for name in package.__all__]  # type: ignore[attr-defined]
    # a module without a constructor of its own takes nn.Module's (*args, **kwargs)
    return [
        c
        for c in found
        if isinstance(c, type) and issubclass(c, nn.Module) and c.__init__ is not nn.Module.__init__
    ]


MODULES = sorted(
    {c for p in (emofuse.layers, emofuse.blocks, emofuse.encoders) for c in _modules(p)},
    key=lambda c: c.__name__,
)


def _old_names_config(config: ModelConfig) -> dict[str, object]:
    """``config`` as a 0.1 ``config.json`` would hold it: every renamed field under its old
    name."""
    values = config.to_dict()
    for old, new in renamed_fields(type(config)).items():
        values[old] = values.pop(new)
    return values


def test_the_rename_table_names_config_classes_and_their_fields() -> None:
    names = {cls.__name__: cls for cls in CONFIG_CLASSES}
    assert set(RENAMED_FIELDS) <= set(names), sorted(set(RENAMED_FIELDS) - set(names))
    for class_name, renamed in RENAMED_FIELDS.items():
        fields = set(names[class_name].field_names())
        assert set(renamed.values()) <= fields, (class_name, set(renamed.values()) - fields)
        assert not set(renamed) & fields, (class_name, set(renamed) & fields)


@pytest.mark.parametrize("cls", sorted(CONFIG_CLASSES, key=lambda c: c.__name__))
def test_configs_share_the_vocabulary(cls: type[ModelConfig]) -> None:
    fields = set(cls.field_names())
    assert not fields & (OLD_NAMES | {"dim", "heads", "layers", "frame_size"}), fields
    widths = {"d_model"} & fields
    heads = {f for f in fields if "heads" in f}
    assert heads <= {"num_heads"}, heads
    layers = {f for f in fields if f.endswith("layers") and f != "freeze_backbone_layers"}
    assert all(f.startswith("num_") for f in layers), layers
    if heads:  # a model with its own attention names its width d_model
        assert widths == {"d_model"} or cls.__name__ == "AVAttentionFusionConfig", fields


@pytest.mark.parametrize("name", MODELS)
def test_a_saved_config_with_the_old_names_loads_with_a_deprecation_warning(name: str) -> None:
    config = emofuse.default_config(name)
    renamed = renamed_fields(type(config))
    assert renamed, f"{name}: nothing renamed"
    with pytest.warns(DeprecationWarning) as caught:
        loaded = type(config).from_dict(_old_names_config(config))
    assert loaded == config
    messages = [str(w.message) for w in caught]
    for old, new in renamed.items():
        assert any(f"'{old}' is now called '{new}'" in m for m in messages), (old, messages)
    # pointed at the caller, not at emofuse, so that Python's default filters show it
    assert {Path(w.filename) for w in caught} == {Path(__file__)}


def test_from_pretrained_reads_a_folder_saved_with_the_old_names(tmp_path: Path) -> None:
    model = emofuse.build("mcr_tiny")
    model.save_pretrained(tmp_path)
    file = tmp_path / "config.json"
    saved = json.loads(file.read_text())
    saved["dim"], saved["encoder_layers"] = saved.pop("d_model"), saved.pop("num_encoder_layers")
    file.write_text(json.dumps(saved))
    with pytest.warns(DeprecationWarning) as caught:
        loaded = EmotionModel.from_pretrained(tmp_path)
    messages = sorted(str(w.message).split(" (")[0] for w in caught)
    assert messages == [
        "MCRConfig: the field 'dim' is now called 'd_model'",
        "MCRConfig: the field 'encoder_layers' is now called 'num_encoder_layers'",
    ]
    assert loaded.config == model.config
    inputs = model.example_inputs(generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(**inputs).logits, model.eval()(**inputs).logits)


def test_old_and_new_name_together_are_refused() -> None:
    with pytest.raises(TypeError, match="'d_m' is the old name of 'd_model'"):
        emofuse.default_config("mer_sem_mbt").from_dict({"d_m": 32, "d_model": 64})


def test_an_old_name_in_overrides_names_its_new_name() -> None:
    with pytest.raises(TypeError, match=r"renamed in emofuse 0.2: heads -> num_heads"):
        emofuse.build("colearning_transformer_tiny", heads=2)


def test_new_names_load_without_warning() -> None:
    config = emofuse.default_config("emotion_query_transformer_tiny")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type(config).from_dict(config.to_dict()) == config


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_constructor_arguments_after_the_first_are_keyword_only(cls: type[nn.Module]) -> None:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # after self
    positional = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    assert len(positional) <= 1, f"{cls.__name__}({', '.join(positional)}, ...)"
    assert not any(p.kind is p.VAR_KEYWORD for p in parameters), f"{cls.__name__}: **kwargs"
    names = {p.name for p in parameters}
    assert not names & {"dim", "heads", "layers"}, names


def test_swapped_sizes_cannot_be_passed_by_position() -> None:
    with pytest.raises(TypeError):
        emofuse.layers.TransformerEncoder(2, 16, 4, 32)  # the 0.1 order (num_layers, dim, ...)
    encoder = emofuse.layers.TransformerEncoder(16, num_layers=2, num_heads=4, ffn_dim=32)
    assert len(encoder.layers) == 2 and encoder.layers[0].self_attn.num_heads == 4


# build options named as torch names them (or a weight state, "frozen"), not ablation switches
NOT_SWITCHES = {"batch_norm", "bias", "combine", "final_norm", "frozen", "norm_first", "pretrained"}


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_boolean_switches_are_use_star(cls: type[nn.Module]) -> None:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    flags = {p.name for p in parameters if p.annotation in ("bool", "bool | None")}
    assert {f for f in flags - NOT_SWITCHES if not f.startswith("use_")} == set()


@pytest.mark.parametrize("cls", sorted(CONFIG_CLASSES, key=lambda c: c.__name__))
def test_config_ablation_switches_are_use_star(cls: type[ModelConfig]) -> None:
    # booleans that are not an ablation of the paper's architecture
    options = {
        "gradient_checkpointing",
        "freeze_backbone_layers",
        "freeze_text_encoder",
        "freeze_audio_backbone",
        "vgg_batch_norm",
    }
    flags = {f.name for f in dataclasses.fields(cls) if f.type in ("bool", bool)}
    assert {f for f in flags - options if not f.startswith("use_")} == set()
