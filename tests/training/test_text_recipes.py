"""Text models trained single-label on transcripts: the recipe follows the model's task, the
text encoder gets layer-wise rates, and ``fit`` trains a text-only model on MELD's layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from corpus_media import MELD_ROWS, write_meld_csv

import emofuse
from emofuse.data import MELD
from emofuse.labels import MELD_7
from emofuse.training import fit, recipe_for
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
def test_a_multiclass_text_model_gets_cross_entropy_from_its_paper_recipe(name: str) -> None:
    with torch.device("meta"):
        model = emofuse.build(name, modalities=("text",), task="multiclass", label_names=MELD_7)
    recipe = recipe_for(model, monitor="weighted_f1")
    paper = recipe_for(name)
    assert (recipe.lr, recipe.batch_size, recipe.optimizer) == (
        paper.lr, paper.batch_size, paper.optimizer,
    )  # fmt: skip
    resolved = recipe.resolved("multiclass")
    assert (resolved.loss, resolved.monitor, resolved.mode) == (
        "cross_entropy", "weighted_f1", "max",
    )  # fmt: skip
    assert recipe_for(name).resolved("multilabel").loss == "weighted_bce"  # the paper's, kept


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
