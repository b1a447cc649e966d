"""Recipes: one per registered model from its paper, typed and validated, overridable from
strings; parameter groups scaled, frozen and cleaned as the recipe says."""

from __future__ import annotations

import itertools

import pytest
import torch

import emofuse
from emofuse.registry import library_models
from emofuse.training import PAPER_RECIPES, Recipe, parse_overrides, recipe_for
from emofuse.training.recipes import parse_value, split_overrides
from emofuse.training.trainer import _lr_factor, _param_groups


@pytest.mark.parametrize("name", library_models())
def test_every_registered_model_has_its_recipe_for_its_task(name: str) -> None:
    assert name in PAPER_RECIPES
    task = emofuse.default_config(name).task
    resolved = recipe_for(name).resolved(task)
    assert resolved.loss != "auto" and resolved.monitor != "auto" and resolved.mode != "auto"


def test_the_papers_settings() -> None:
    xia = recipe_for("mer_sem_mbt")
    assert (xia.loss, xia.optimizer, xia.lr, xia.batch_size) == ("weighted_bce", "adam", 1e-4, 8)
    mocanu = recipe_for("av_attention_fusion")
    assert (mocanu.loss, mocanu.triplet_weight, mocanu.patience) == ("cross_entropy", 1.0, 20)
    assert mocanu.monitor == "accuracy"
    takashima = recipe_for("colearning_transformer")
    assert (takashima.colearning, takashima.optimizer, takashima.batch_size) == (
        "sample", "radam", 16,
    )  # fmt: skip
    le = recipe_for("emotion_query_transformer")
    assert (le.lr, le.schedule, le.batch_size, le.epochs) == (5e-4, "cosine", 32, 25)
    assert recipe_for("emotion_query_transformer_mosei").epochs == 10
    assert recipe_for("mcr").resolved("regression").loss == "l1"
    assert recipe_for("mcr").resolved("multiclass").loss == "cross_entropy"
    assert (recipe_for("mcr_mosi").batch_size, recipe_for("mcr_iemocap").lr) == (64, 2e-3)


def test_backbone_groups_train_at_a_tenth_and_frozen_groups_leave() -> None:
    model = emofuse.build("mer_sem_mbt_tiny")
    groups = {g["name"]: g for g in _param_groups(model, recipe_for(model, lr=1e-3))}
    assert groups["audio_backbone"]["lr"] == pytest.approx(1e-4)  # Xia: backbones × 0.1
    assert groups["others"]["lr"] == pytest.approx(1e-3)
    model = emofuse.build("mer_sem_mbt_tiny")
    frozen = recipe_for(model, freeze_backbone=True, lr_scales={"others": 2.0})
    groups = {g["name"]: g for g in _param_groups(model, frozen)}
    assert set(groups) == {"others"} and groups["others"]["lr"] == pytest.approx(2 * frozen.lr)
    assert not any(p.requires_grad for p in model.audio_encoder.backbone.parameters())
    with pytest.raises(ValueError, match=r"lr_scales: \['nope'\].*its groups"):
        _param_groups(model, recipe_for(model, lr_scales={"nope": 1.0}))
    with pytest.raises(ValueError, match="every parameter group is frozen"):
        _param_groups(emofuse.build("mcr_tiny"), recipe_for("mcr_tiny", lr_scales={"all": 0}))


def test_overrides_from_strings_are_typed() -> None:
    items = [
        "lr=3e-4", "betas=0.9,0.98", "lr_scales=text_encoder:0.1,others:1",
        "patience=none", "freeze_backbone=true", "schedule=cosine", "epochs=3",
        "colearning_modalities=audio,video", "clip_grad_norm=1", "ema_decay=0.999",
    ]  # fmt: skip
    recipe = recipe_for("emotion_query_transformer_tiny", **parse_overrides(items))
    assert recipe.lr == 3e-4 and recipe.betas == (0.9, 0.98)
    assert recipe.lr_scales == {"text_encoder": 0.1, "others": 1.0}
    assert recipe.patience is None and recipe.freeze_backbone is True
    assert (recipe.schedule, recipe.epochs) == ("cosine", 3)
    assert recipe.colearning_modalities == ("audio", "video") and recipe.clip_grad_norm == 1.0
    assert recipe.ema_decay == 0.999 and parse_value("ema_decay", "none") is None
    assert parse_value("max_steps", "12") == 12 and parse_value("monitor", "UA") == "UA"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"lr": "-1"}, "lr"),
        ({"lr": "fast"}, "lr"),
        ({"batch_size": "0"}, "batch_size"),
        ({"epochs": "1.5"}, "epochs"),
        ({"schedule": "step"}, "schedule"),
        ({"monitor": "f2"}, "monitor"),
        ({"label_smoothing": "1"}, "label_smoothing"),
        ({"betas": "0.9"}, "betas"),
        ({"lr_scales": "others"}, "lr_scales"),
        ({"lr_scales": {"others": -1.0}}, "lr_scales"),
        ({"freeze_backbone": "maybe"}, "freeze_backbone"),
        ({"batch_size": 6, "grad_accumulation": 4}, "batch_size"),
        ({"precision": "64"}, "precision"),
        ({"colearning": "always"}, "colearning"),
        ({"ema_decay": "1"}, "ema_decay"),
        ({"ema_decay": 0.0}, "ema_decay"),
        ({"nonsense": "1"}, "nonsense"),
    ],
)
def test_bad_values_are_value_errors_naming_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        recipe_for("mcr_tiny", **overrides)


def test_a_recipe_that_does_not_fit_the_task_is_refused() -> None:
    with pytest.raises(ValueError, match="loss: a regression model"):
        Recipe(loss="cross_entropy").resolved("regression")
    with pytest.raises(ValueError, match="monitor: expected one of"):
        Recipe(monitor="UA").resolved("multilabel")
    with pytest.raises(ValueError, match="label_smoothing"):
        Recipe(label_smoothing=0.1).resolved("multilabel")


def test_command_line_keys_split_between_recipe_and_model_config() -> None:
    fields = emofuse.default_config("mcr_tiny").field_names()
    recipe, config = split_overrides({"lr": "1e-3", "dropout": "0"}, fields)
    assert recipe == {"lr": "1e-3"} and config == {"dropout": "0"}
    with pytest.raises(ValueError, match="neither recipe fields"):
        split_overrides({"lrr": "1"}, fields)
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["lr"])


def test_schedules_warm_up_then_decay_to_the_floor() -> None:
    cosine = Recipe(schedule="cosine", warmup_steps=4, min_lr_ratio=0.1)
    factors = [_lr_factor(s, recipe=cosine, total=20) for s in range(21)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == pytest.approx(1.0) and factors[20] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(factors[4:]))
    linear = Recipe(schedule="linear")
    assert _lr_factor(5, recipe=linear, total=10) == pytest.approx(0.5)
    assert torch.tensor(factors).min() >= 0.1 - 1e-9
