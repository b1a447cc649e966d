"""fit: every tiny model learns the synthetic task with its recipe; a paused and resumed run
ends on the uninterrupted run's weights bit for bit; an interrupted checkpoint write leaves the
last one whole; several seeds give a mean ± std table."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

import emofuse
from emofuse.cli import main
from emofuse.data import SyntheticEmotion, collate
from emofuse.metrics import predict
from emofuse.models.base import EmotionModel
from emofuse.registry import library_models
from emofuse.training import fit, fit_seeds, recipe_for
from emofuse.training.checkpoints import AtomicCheckpointIO
from emofuse.training.monitor import MONITORS

TINY = [name for name in library_models() if name.endswith("_tiny")]
# chance: 1/K accuracy (multiclass, K = 8 for av_attention_fusion), 1/2 per-class accuracy
# (multilabel), correlation 0 (regression)
FIGURE = {"multiclass": "accuracy", "multilabel": "accuracy", "regression": "Corr"}
CLEARLY_ABOVE_CHANCE = {"multiclass": 0.35, "multilabel": 0.65, "regression": 0.5}


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    # tiny models: a second intra-op thread only adds synchronisation on a shared machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", TINY)
def test_every_tiny_model_learns_with_its_recipe_through_the_cli(name: str, tmp_path: Path) -> None:
    task = emofuse.default_config(name).task
    # the recipe as published, but the best epoch chosen by a figure that shows learning: the
    # multi-label average F1 of an all-positive guess on balanced labels is already 0.67
    monitor = ("--set", "monitor=accuracy") if task == "multilabel" else ()
    args = [
        "train", name, "--data", "synthetic:160", "--out", str(tmp_path), "--accelerator", "cpu",
        "--set", "epochs=4", "--set", "dropout=0", "--quiet", *monitor,
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither Fabric nor the loop leaves a warning
        assert main(args) == 0
    # the best model, as written, scores clearly above chance on the run's validation split
    # (emofuse.training.sources: synthetic:160 validates on 40 samples drawn with seed 2)
    best = EmotionModel.from_pretrained(tmp_path / "best")
    val = SyntheticEmotion(best, 40, seed=2)
    loader = [collate([val[i] for i in range(len(val))], lengths=val.fixed_lengths)]
    preds = predict(best, loader)
    score = MONITORS[FIGURE[task]].functions[task](preds.scores, preds.labels)
    assert score > CLEARLY_ABOVE_CHANCE[task], f"{name}: {FIGURE[task]} {score:.3f}"
    rows = list(csv.DictReader((tmp_path / "logs" / "csv" / "version_0" / "metrics.csv").open()))
    assert len([r for r in rows if r.get("train/loss")]) == 40  # 4 epochs of 10 batches of 16


RESUME_CASES = {
    # dropout, SpecAugment, mixup, gradient accumulation and a cosine schedule: every random
    # draw and every counter a resumed run must restore
    "mcr_tiny": (
        {"dropout": 0.1},
        dict(
            epochs=2, batch_size=16, grad_accumulation=2, schedule="cosine", warmup_steps=2,
            mixup_alpha=0.4, time_masks=1, time_mask_width=4, freq_masks=1, freq_mask_width=3,
            clip_grad_norm=1.0, ema_decay=0.9,  # validated on the average: restored too
        ),
        80,
    ),
    # co-learning's subset draws
    "colearning_transformer_tiny": ({}, dict(epochs=2, batch_size=8), 40),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(RESUME_CASES))
def test_a_paused_run_resumes_to_the_same_weights_bit_for_bit(name: str, tmp_path: Path) -> None:
    config, overrides, size = RESUME_CASES[name]

    def run(out: Path, **kwargs: Any) -> Any:
        torch.manual_seed(0)
        model = emofuse.build(name, **config)
        train = SyntheticEmotion(model, size, seed=1)
        val = SyntheticEmotion(model, 16, seed=2)
        recipe = recipe_for(model, **overrides)
        return fit(model, recipe, train, val, out_dir=out, accelerator="cpu", progress=False,
                   **kwargs)  # fmt: skip

    whole = run(tmp_path / "whole")
    first = run(tmp_path / "paused", stop_after_steps=3)  # mid-epoch: 5 steps per epoch
    assert first.paused and first.steps == 3
    torch.manual_seed(123)  # the resumed run must not depend on the caller's random state
    rest = run(tmp_path / "paused", resume=True)
    assert rest.steps == whole.steps == 10 and not rest.paused
    a, b = _weights(whole.model), _weights(rest.model)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert [r["val/loss"] for r in rest.history] == [r["val/loss"] for r in whole.history]
    assert (tmp_path / "paused" / "logs" / "csv" / "version_1").is_dir()  # a version per start


def test_the_weights_moving_average_is_validated_and_kept_as_the_best_model(
    tmp_path: Path,
) -> None:
    """``ema_decay=d``: ``best/`` holds w̄_k = d w̄_(k-1) + (1 - d) w_k over the weights w_k after
    each step (w̄_1 = w_1), the validation figures are that average's, and the run's own model
    keeps the last step's weights."""
    decay = 0.5

    def run(out: Path, **kwargs: Any) -> Any:
        torch.manual_seed(0)
        model = emofuse.build("mcr_tiny", dropout=0.1)
        train, val = SyntheticEmotion(model, 48, seed=1), SyntheticEmotion(model, 16, seed=2)
        recipe = recipe_for(model, epochs=1, batch_size=16, **kwargs.pop("recipe", {}))
        return fit(model, recipe, train, val, out_dir=out, accelerator="cpu", progress=False,
                   **kwargs)  # fmt: skip

    steps = [_weights(run(tmp_path / "plain", stop_after_steps=1).model)]
    steps.append(_weights(run(tmp_path / "plain", stop_after_steps=2, resume=True).model))
    steps.append(_weights(run(tmp_path / "plain", resume=True).model))
    averaged = run(tmp_path / "ema", recipe={"ema_decay": decay})
    assert averaged.steps == 3
    expected = dict(steps[0])
    for weights in steps[1:]:
        for key, value in weights.items():
            if value.is_floating_point():
                expected[key] = decay * expected[key] + (1 - decay) * value
    best = EmotionModel.from_pretrained(tmp_path / "ema" / "best")
    got, last = _weights(best), _weights(averaged.model)
    assert got.keys() == expected.keys()
    moved = 0
    for key, value in expected.items():
        if value.is_floating_point():
            torch.testing.assert_close(got[key], value)
            moved += not torch.allclose(got[key], steps[-1][key])
        torch.testing.assert_close(last[key], steps[-1][key], rtol=0, atol=0)
    assert moved  # the average is not the last step's weights
    val = SyntheticEmotion(best, 16, seed=2)
    loader = [collate([val[i] for i in range(len(val))], lengths=val.fixed_lengths)]
    preds = predict(best, loader)
    scores, labels = preds.scores.float(), preds.labels.float().reshape(preds.scores.shape)
    loss = torch.nn.functional.l1_loss(scores, labels)
    assert averaged.history[0]["val/loss"] == pytest.approx(float(loss), rel=1e-5)


class _InterruptError(Exception):
    pass


class _BreaksWhileSaved:
    """Pickling this raises: ``torch.save`` stops half-way through writing the file."""

    def __reduce__(self) -> Any:
        raise _InterruptError


def test_an_interrupted_checkpoint_write_leaves_the_last_one_whole(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = emofuse.build("mcr_tiny")
    train = SyntheticEmotion(model, 32, seed=1)
    recipe = recipe_for(model, epochs=1)
    fit(model, recipe, train, out_dir=tmp_path, accelerator="cpu", progress=False)
    last = tmp_path / "last.ckpt"
    before = last.read_bytes()
    big = {"weights": torch.randn(256, 1024), "breaks": _BreaksWhileSaved()}
    with pytest.raises(_InterruptError):
        AtomicCheckpointIO().save_checkpoint(big, last)
    assert last.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    state = torch.load(last, weights_only=True)
    assert state["progress"]["step"] == 2
    # and the run continues from it
    result = fit(
        emofuse.build("mcr_tiny"), recipe.replace(epochs=2), train, out_dir=tmp_path,
        resume=True, accelerator="cpu", progress=False,
    )  # fmt: skip
    assert result.steps == 4


def test_without_validation_the_last_model_is_written(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = emofuse.build("mcr_tiny")
    train = SyntheticEmotion(model, 32, seed=1)
    result = fit(model, recipe_for(model, epochs=1), train, out_dir=tmp_path, progress=False)
    loaded = EmotionModel.from_pretrained(result.best_dir)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert result.best_score is None


def test_early_stopping_ends_the_run(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = emofuse.build("mcr_tiny")
    train = SyntheticEmotion(model, 32, seed=1)
    val = SyntheticEmotion(model, 16, seed=2)
    # lr far too small to change the figure by min_delta: no validation improves on the first
    recipe = recipe_for(model, epochs=20, lr=1e-9, patience=1, min_delta=1.0)
    result = fit(model, recipe, train, val, out_dir=tmp_path, progress=False)
    assert result.stopped_early and len(result.history) == 3 and result.best_epoch == 0


def test_bad_runs_are_refused(tmp_path: Path) -> None:
    model = emofuse.build("mcr_tiny")
    train = SyntheticEmotion(model, 8, seed=1)
    with pytest.raises(ValueError, match="resume: no checkpoint"):
        fit(model, recipe_for(model), train, out_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="loss: a regression model"):
        fit(model, recipe_for(model, loss="bce"), train, out_dir=tmp_path)
    with pytest.raises(ValueError, match="patience: early stopping needs val_data"):
        fit(model, recipe_for(model, patience=3), train, out_dir=tmp_path)
    with pytest.raises(ValueError, match="16-mixed"):
        fit(model, recipe_for(model, precision="16-mixed"), train, out_dir=tmp_path,
            accelerator="cpu")  # fmt: skip


def test_bf16_mixed_precision_trains_on_cpu(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = emofuse.build("mcr_tiny", dropout=0.0)
    train = SyntheticEmotion(model, 32, seed=1)
    before = _weights(model)
    recipe = recipe_for(model, epochs=1, precision="bf16-mixed", activation_checkpointing=True)
    result = fit(model, recipe, train, out_dir=tmp_path, accelerator="cpu", progress=False)
    after = _weights(result.model)
    assert all(v.dtype == before[k].dtype for k, v in after.items())  # weights stay float32
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_several_seeds_give_mean_and_std(tmp_path: Path) -> None:
    model_kwargs = {"dropout": 0.0}
    train = SyntheticEmotion("mcr_tiny", 32, seed=1)
    val = SyntheticEmotion("mcr_tiny", 16, seed=2)
    table, results = fit_seeds(
        lambda: emofuse.build("mcr_tiny", **model_kwargs), recipe_for("mcr_tiny", epochs=1),
        train, val, seeds=[0, 1], out_dir=tmp_path, progress=False,
    )  # fmt: skip
    assert [r.best_dir for r in results] == [tmp_path / f"seed_{s}" / "best" for s in (0, 1)]
    mean, std = table.summary()["val/MAE"]
    values = [r.best_score for r in results]
    assert mean == pytest.approx(sum(values) / 2) and std > 0
    assert "mean ± std" in table.to_markdown()
    with pytest.raises(ValueError, match="seeds"):
        fit_seeds(lambda: emofuse.build("mcr_tiny"), recipe_for("mcr_tiny"), train,
                  seeds=[1, 1], out_dir=tmp_path)  # fmt: skip
