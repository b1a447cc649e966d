from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from toy_model import ToyConfig, ToyFusion

import emofuse
from emofuse.cli import main
from emofuse.registry import get_entry, library_models, markdown_table, unregister_model

README = Path(__file__).resolve().parents[1] / "README.md"


def test_list_models_glob_and_sorted() -> None:
    names = emofuse.list_models()
    assert names == sorted(names) and "toy_fusion_tiny" in names
    assert emofuse.list_models("toy_*_tiny") == ["toy_fusion_tiny"]
    assert emofuse.list_models("no_such_*") == []


def test_build_applies_overrides_and_label_names() -> None:
    model = emofuse.build("toy_fusion_tiny", num_classes=3, dropout=0.0)
    assert model.config.num_classes == 3 and model.config.dropout == 0.0
    model = emofuse.build("toy_fusion_tiny", label_names=emofuse.labels.RAVDESS_8)
    assert model.config.num_classes == 8
    assert model(**model.example_inputs()).logits.shape == (2, 8)


def test_num_classes_alone_drops_default_label_names_of_another_count() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Named(ToyConfig):
        label_names: tuple[str, ...] | None = emofuse.labels.IEMOCAP_4
        num_classes: int = 4

    assert Named(num_classes=3).label_names is None
    assert Named().replace(num_classes=3).label_names is None
    preset = Named(label_names=("a", "b"), num_classes=2)
    assert preset.replace(num_classes=5).label_names is None
    assert preset.replace(num_classes=2).label_names == ("a", "b")
    with pytest.raises(ValueError, match="label_names"):
        Named(num_classes=3, label_names=("a", "b"))


def test_unknown_override_is_type_error_listing_fields() -> None:
    with pytest.raises(TypeError, match=r"no field\(s\) \['colour'\].*audio_dim"):
        emofuse.build("toy_fusion_tiny", colour="blue")


def test_bad_override_values_are_value_errors() -> None:
    with pytest.raises(ValueError, match="label_names"):
        emofuse.build("toy_fusion_tiny", num_classes=3, label_names=("a", "b"))
    with pytest.raises(ValueError, match="dropout"):
        emofuse.build("toy_fusion_tiny", dropout=1.5)


def test_unknown_model_suggests_names() -> None:
    with pytest.raises(ValueError, match="did you mean.*toy_fusion_tiny"):
        emofuse.build("toy_fusion_tiyn")


def test_pretrained_argument_types(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="pretrained"):
        emofuse.build("toy_fusion_tiny", pretrained=3)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="config.json"):
        emofuse.build("toy_fusion_tiny", pretrained=tmp_path)


def test_from_pretrained_rejects_another_architecture(tmp_path: Path) -> None:
    emofuse.build("toy_fusion_tiny").save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architecture"] == "ToyFusion" and config["num_classes"] == 6
    config["architecture"] = "SomethingElse"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="SomethingElse"):
        ToyFusion.from_pretrained(tmp_path)


def test_from_pretrained_rejects_other_shapes(tmp_path: Path) -> None:
    emofuse.build("toy_fusion_tiny").save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="shape mismatch"):
        ToyFusion.from_pretrained(tmp_path, d_model=8)


def test_register_model_as_a_user_would() -> None:
    @emofuse.register_model(ToyFusion, name="my_toy")
    def my_toy() -> ToyConfig:
        """My own toy."""
        return ToyConfig(d_model=8, num_heads=2)

    try:
        assert "my_toy" in emofuse.list_models()
        assert emofuse.build("my_toy").config.d_model == 8
        assert emofuse.model_info("my_toy")["description"] == "My own toy."
        assert "my_toy" not in library_models()
    finally:
        unregister_model("my_toy")
    assert "my_toy" not in emofuse.list_models()


def test_model_info_describes_inputs() -> None:
    info = emofuse.model_info("toy_fusion_tiny")
    assert info["modalities"] == ["audio", "text"]
    assert info["inputs"]["audio"] == "(B, T_a, 8) features"
    assert info["inputs"]["text_mask"].startswith("(B, L)")
    assert set(info["required_inputs"]) < set(info["inputs"])  # masks are optional
    assert not any(k.endswith("_mask") for k in info["required_inputs"])
    json.dumps(info)  # serialisable


def test_model_info_marks_the_required_inputs() -> None:
    """What forward cannot do without: Xia et al.'s SEMs condition on the text (audio and video
    may be missing), mcr takes all three, co-learning any subset."""
    assert emofuse.model_info("mer_sem_mbt_tiny")["required_inputs"] == ["text"]
    assert sorted(emofuse.model_info("mcr_tiny")["required_inputs"]) == ["audio", "text", "video"]
    assert emofuse.model_info("colearning_transformer_tiny")["required_inputs"] == []


def test_config_json_round_trip_restores_tuples() -> None:
    config = ToyConfig(label_names=("a", "b"), num_classes=2)
    again = ToyConfig.from_dict(json.loads(config.to_json()))
    assert again == config and isinstance(again.label_names, tuple)


def test_model_accepts_config_and_defaults() -> None:
    assert ToyFusion().config == ToyConfig()
    with pytest.raises(TypeError, match="ToyConfig"):
        ToyFusion(emofuse.ModelConfig())  # type: ignore[arg-type]


def test_cli_list_and_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "toy_*"]) == 0
    out = capsys.readouterr().out
    assert "toy_fusion_tiny" in out and "audio, text" in out
    assert main(["info", "toy_fusion_tiny"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "toy_fusion_tiny"
    assert main(["info", "nope"]) == 2
    assert "name: expected a registered model" in capsys.readouterr().err
    assert main(["list", "zzz*"]) == 1


def test_console_script_runs_in_a_fresh_process() -> None:
    root = README.parent
    result = subprocess.run(
        [sys.executable, "-m", "emofuse.cli", "list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    for name in library_models():
        assert name in result.stdout


def test_cli_output_into_a_closed_pipe_stops_quietly() -> None:
    root = README.parent
    result = subprocess.run(
        f"{sys.executable} -m emofuse.cli list | true",  # the reader is gone before the write
        shell=True,
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert result.stderr == ""


def test_readme_table_matches_registry() -> None:
    text = README.read_text()
    start, end = "<!-- models:start -->", "<!-- models:end -->"
    table = text[text.index(start) + len(start) : text.index(end)].strip()
    assert table == markdown_table(library_models()), (
        "README model table is stale: regenerate it with "
        '`python -c "import emofuse.registry as r; print(r.markdown_table(r.library_models()))"`'
    )


def test_build_on_meta_device_allocates_nothing() -> None:
    with torch.device("meta"):
        model = emofuse.build("toy_fusion")
    assert all(p.is_meta for p in model.parameters())


def test_cli_demo_runs_a_tiny_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "toy_fusion"]) == 0
    out = capsys.readouterr().out
    assert "toy_fusion_tiny" in out and "logits" in out and "(2, 6) float32" in out
    assert "forward+backward" in out


def test_readme_quick_start_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text()
    section = text[text.index("## Quick start") :]
    code = section[section.index("```python") + len("```python") : section.index("```\n", 10)]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "README quick start", "exec"), namespace)
    assert (tmp_path / "my_model" / "model.safetensors").is_file()
    assert namespace["out"].logits.shape == (2, 6)  # type: ignore[attr-defined]


def test_every_library_model_and_its_config_class_are_exported_from_emofuse_models() -> None:
    import emofuse.models

    for name in library_models():
        model_class = get_entry(name).model_class
        for cls in (model_class, model_class.config_class):
            assert getattr(emofuse.models, cls.__name__, None) is cls, cls.__name__
            assert cls.__name__ in emofuse.models.__all__
