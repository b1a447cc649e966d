"""Multi-label metrics equal scikit-learn (or the paper's formula by hand), including classes
with no positive sample, classes positive everywhere and classes never predicted."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from emofuse.metrics import (
    MultilabelAccuracy,
    MultilabelF1,
    MultilabelTwoClassF1,
    MultilabelWeightedAccuracy,
    Thresholds,
    multilabel_accuracy,
    multilabel_f1,
    multilabel_two_class_f1,
    multilabel_weighted_accuracy,
)

K = 6


def _data(seed: int, n: int = 57) -> tuple[torch.Tensor, torch.Tensor, Thresholds]:
    """Random probabilities and labels; class 1 has no positive, class 2 is positive in every
    sample, class 4's threshold is so high that it is never predicted."""
    g = torch.Generator().manual_seed(seed)
    probs = torch.rand(n, K, generator=g, dtype=torch.float64)
    labels = (torch.rand(n, K, generator=g) < 0.3).long()
    labels[:, 1] = 0
    labels[:, 2] = 1
    thresholds = Thresholds(values=(0.5, 0.3, 0.7, 0.45, 1.0, 0.2))
    return probs, labels, thresholds


def _decisions(probs: torch.Tensor, t: Thresholds) -> np.ndarray:
    return (probs.numpy() > np.array(t.values)).astype(int)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_and_f1_equal_sklearn(seed: int) -> None:
    probs, labels, t = _data(seed)
    y, p = labels.numpy(), _decisions(probs, t)
    acc = multilabel_accuracy(probs, labels, t)
    ref_acc = [accuracy_score(y[:, k], p[:, k]) for k in range(K)]
    np.testing.assert_allclose(acc.numpy(), ref_acc, atol=1e-6)
    assert multilabel_accuracy(probs, labels, t, average="macro").item() == pytest.approx(
        np.mean(ref_acc), abs=1e-6
    )
    ref_f1 = f1_score(y, p, average=None, zero_division=0)
    np.testing.assert_allclose(multilabel_f1(probs, labels, t).numpy(), ref_f1, atol=1e-7)
    for average in ("micro", "macro", "weighted"):
        got = multilabel_f1(probs, labels, t, average=average).item()
        assert got == pytest.approx(f1_score(y, p, average=average, zero_division=0), abs=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_accuracy_is_dai_formula_and_balanced_accuracy(seed: int) -> None:
    probs, labels, t = _data(seed)
    y, p = labels.numpy(), _decisions(probs, t)
    wa = multilabel_weighted_accuracy(probs, labels, t).numpy()
    for k in range(K):
        tp = int(((p[:, k] == 1) & (y[:, k] == 1)).sum())
        tn = int(((p[:, k] == 0) & (y[:, k] == 0)).sum())
        pos, neg = int(y[:, k].sum()), int((1 - y[:, k]).sum())
        if pos and neg:  # Dai et al.'s (TP·N/P + TN) / (2N), by hand
            assert wa[k] == pytest.approx((tp * neg / pos + tn) / (2 * neg), abs=1e-12)
        elif pos:  # all-one labels: TPR
            assert wa[k] == pytest.approx(tp / pos, abs=1e-12)
        else:  # no positive: TNR
            assert wa[k] == pytest.approx(tn / neg, abs=1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns for a class with one outcome
            ref = balanced_accuracy_score(y[:, k], p[:, k])
        assert wa[k] == pytest.approx(ref, abs=1e-12)
    assert multilabel_weighted_accuracy(probs, labels, t, average="macro").item() == (
        pytest.approx(wa.mean(), abs=1e-12)
    )


@pytest.mark.parametrize("average", ["weighted", "macro"])
def test_two_class_f1_equals_sklearn_per_class(average: str) -> None:
    probs, labels, t = _data(3)
    y, p = labels.numpy(), _decisions(probs, t)
    got = multilabel_two_class_f1(probs, labels, t, average=average).numpy()
    ref = [f1_score(y[:, k], p[:, k], average=average, zero_division=0) for k in range(K)]
    np.testing.assert_allclose(got, ref, atol=1e-7)


def test_two_class_f1_single_outcome_everywhere_is_one() -> None:
    """No positive label and none predicted: only 'absent' occurs, and it is all correct."""
    probs = torch.full((5, 1), 0.1, dtype=torch.float64)
    labels = torch.zeros(5, 1, dtype=torch.long)
    t = Thresholds.constant(0.5, num_labels=1)
    for average in ("weighted", "macro"):
        got = multilabel_two_class_f1(probs, labels, t, average=average).item()
        assert got == pytest.approx(f1_score([0] * 5, [0] * 5, average=average)) == 1.0


def test_thresholds_are_applied_per_class_strictly() -> None:
    probs = torch.tensor([[0.3, 0.3], [0.6, 0.6]], dtype=torch.float64)
    labels = torch.tensor([[1, 0], [1, 1]])
    t = Thresholds(values=(0.2, 0.6))  # class 0: both positive; class 1: 0.6 > 0.6 is False
    np.testing.assert_allclose(multilabel_accuracy(probs, labels, t).numpy(), [1.0, 0.5])


@pytest.mark.parametrize(
    ("metric", "function", "kwargs"),
    [
        (MultilabelAccuracy, multilabel_accuracy, {"average": "macro"}),
        (MultilabelWeightedAccuracy, multilabel_weighted_accuracy, {}),
        (MultilabelF1, multilabel_f1, {"average": "weighted"}),
        (MultilabelTwoClassF1, multilabel_two_class_f1, {"average": "macro"}),
    ],
)
def test_metric_over_batches_equals_function(metric, function, kwargs) -> None:
    probs, labels, t = _data(4, n=40)
    m = metric(t, **kwargs)
    for start in range(0, 40, 7):
        m.update(probs[start : start + 7], labels[start : start + 7])
    torch.testing.assert_close(m.compute(), function(probs, labels, t, **kwargs))


def test_metric_counts_a_repeated_id_once() -> None:
    probs, labels, t = _data(5, n=10)
    m = MultilabelF1(t, average="macro")
    m.update(probs[:6], labels[:6], ids=torch.arange(6))
    # the batch a DistributedSampler pads: samples 0 and 1 again
    m.update(
        torch.cat([probs[6:], probs[:2]]),
        torch.cat([labels[6:], labels[:2]]),
        ids=[6, 7, 8, 9, 0, 1],
    )
    torch.testing.assert_close(m.compute(), multilabel_f1(probs, labels, t, average="macro"))


def test_only_thresholds_objects_are_accepted() -> None:
    probs, labels, _ = _data(0, n=8)
    with pytest.raises(ValueError, match="thresholds: expected a Thresholds"):
        multilabel_f1(probs, labels, [0.5] * K)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="thresholds: expected a Thresholds"):
        MultilabelF1(0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected 6 thresholds"):
        multilabel_f1(probs, labels, Thresholds.constant(0.5, num_labels=4))


def test_bad_inputs_are_named() -> None:
    probs, labels, t = _data(0, n=8)
    with pytest.raises(ValueError, match=r"probs: expected probabilities in \[0, 1\]"):
        multilabel_f1(probs * 4 - 2, labels, t)
    with pytest.raises(ValueError, match="labels: expected multi-hot 0/1"):
        multilabel_f1(probs, labels * 2, t)
    with pytest.raises(ValueError, match=r"labels: expected \(N, K\)"):
        multilabel_f1(probs, labels[:, :3], t)
    with pytest.raises(ValueError, match="average"):
        multilabel_f1(probs, labels, t, average="samples")  # type: ignore[arg-type]
