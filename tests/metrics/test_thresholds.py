"""Threshold tuning: Dai et al.'s per-class grid search on validation, applied unchanged to
test; the API refuses thresholds tuned on the predictions being scored."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from emofuse.metrics import (
    DEFAULT_GRID,
    MultilabelF1,
    Thresholds,
    multilabel_accuracy,
    multilabel_f1,
    tune_thresholds,
)


def _split(seed: int, n: int = 80, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, k, generator=g) < 0.3).long()
    # informative but noisy scores
    probs = (0.35 * labels + 0.65 * torch.rand(n, k, generator=g)).double()
    return probs, labels


def test_default_grid_is_dai_et_al() -> None:
    np.testing.assert_allclose(DEFAULT_GRID, np.arange(0.05, 1, 0.05), atol=1e-12)
    assert len(DEFAULT_GRID) == 19


@pytest.mark.parametrize(
    ("criterion", "score"),
    [
        ("f1", lambda y, p: f1_score(y, p, zero_division=0)),
        ("accuracy", accuracy_score),
        ("weighted_accuracy", balanced_accuracy_score),
    ],
)
def test_tuning_matches_a_brute_force_search(criterion, score) -> None:
    probs, labels = _split(0)
    t = tune_thresholds(probs, labels, criterion=criterion)
    p, y = probs.numpy(), labels.numpy()
    for k in range(y.shape[1]):
        scores = [score(y[:, k], (p[:, k] > g).astype(int)) for g in DEFAULT_GRID]
        assert t.values[k] == pytest.approx(DEFAULT_GRID[int(np.argmax(scores))])
    assert t.criterion == criterion and t.grid == DEFAULT_GRID


def test_ties_take_the_lowest_threshold() -> None:
    probs = torch.tensor([[0.9], [0.1]], dtype=torch.float64)
    labels = torch.tensor([[1], [0]])
    # every threshold in [0.1, 0.9) separates the two samples perfectly
    t = tune_thresholds(probs, labels, grid=[0.2, 0.5, 0.8, 0.1])
    assert t.values == (0.1,)


def test_tuned_thresholds_score_test_but_not_their_own_validation_data() -> None:
    val_probs, val_labels = _split(1)
    test_probs, test_labels = _split(2)
    t = tune_thresholds(val_probs, val_labels)
    f1 = multilabel_f1(test_probs, test_labels, t, average="macro")
    y, p = test_labels.numpy(), (test_probs.numpy() > np.array(t.values)).astype(int)
    assert f1.item() == pytest.approx(f1_score(y, p, average="macro", zero_division=0), abs=1e-6)
    with pytest.raises(ValueError, match="tuned on the very predictions"):
        multilabel_f1(val_probs, val_labels, t)
    metric = MultilabelF1(t)
    metric.update(val_probs, val_labels)
    with pytest.raises(ValueError, match="tuned on the very predictions"):
        metric.compute()
    # thresholds set by hand carry no fingerprint
    multilabel_accuracy(val_probs, val_labels, Thresholds(values=t.values))


def test_thresholds_are_frozen_and_validated() -> None:
    t = Thresholds.constant(0.5, num_labels=3, label_names=["a", "b", "c"])
    assert t.values == (0.5, 0.5, 0.5) and t.fingerprint is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.values = (0.1, 0.1, 0.1)  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"values: expected one threshold in \[0, 1\]"):
        Thresholds(values=(0.5, 1.5))
    with pytest.raises(ValueError, match="label_names: expected 2 names"):
        Thresholds(values=(0.5, 0.5), label_names=("a",))


def test_bad_tuning_arguments_are_named() -> None:
    probs, labels = _split(3)
    with pytest.raises(ValueError, match="grid"):
        tune_thresholds(probs, labels, grid=[])
    with pytest.raises(ValueError, match="grid"):
        tune_thresholds(probs, labels, grid=[0.5, 2.0])
    with pytest.raises(ValueError, match="criterion"):
        tune_thresholds(probs, labels, criterion="auc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"val_probs: expected probabilities"):
        tune_thresholds(probs * 3, labels)
    with pytest.raises(ValueError, match="at least one validation sample"):
        tune_thresholds(probs[:0], labels[:0])
