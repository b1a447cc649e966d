"""Multiclass metrics equal scikit-learn, including classes absent from the labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    recall_score,
)
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from emofuse.metrics import (
    ConfusionMatrix,
    MulticlassAccuracy,
    MulticlassF1,
    PerClassAccuracy,
    UnweightedAccuracy,
    confusion_matrix,
    multiclass_accuracy,
    multiclass_f1,
    per_class_accuracy,
    unweighted_accuracy,
)

C = 6


def _data(seed: int, n: int = 61) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 5 never occurs in the labels (but may be predicted); class 4 is never predicted."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(n, C, generator=g)
    scores[:, 4] = -10
    labels = torch.randint(0, 5, (n,), generator=g)
    return scores, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_sklearn(seed: int) -> None:
    scores, labels = _data(seed)
    y, p = labels.numpy(), scores.argmax(1).numpy()
    assert 5 in p  # the absent class is predicted: the case where conventions differ
    assert multiclass_accuracy(scores, labels).item() == pytest.approx(
        accuracy_score(y, p), abs=1e-6
    )
    with pytest.warns(UserWarning):  # sklearn: y_pred contains classes not in y_true
        ua = balanced_accuracy_score(y, p)
    assert unweighted_accuracy(scores, labels).item() == pytest.approx(ua, abs=1e-12)
    ref = recall_score(y, p, labels=list(range(C)), average=None, zero_division=np.nan)
    np.testing.assert_allclose(per_class_accuracy(scores, labels).numpy(), ref, atol=1e-12)
    for average in ("macro", "weighted"):
        got = multiclass_f1(scores, labels, average=average).item()
        assert got == pytest.approx(f1_score(y, p, average=average, zero_division=0), abs=1e-6)
    ref_cm = sk_confusion_matrix(y, p, labels=list(range(C)))
    np.testing.assert_array_equal(confusion_matrix(scores, labels).numpy(), ref_cm)


@pytest.mark.parametrize(
    ("metric", "function"),
    [
        (MulticlassAccuracy, multiclass_accuracy),
        (UnweightedAccuracy, unweighted_accuracy),
        (PerClassAccuracy, per_class_accuracy),
        (MulticlassF1, multiclass_f1),
        (ConfusionMatrix, confusion_matrix),
    ],
)
def test_metric_over_batches_with_padding_duplicates_equals_function(metric, function) -> None:
    scores, labels = _data(3, n=30)
    m = metric()
    m.update(scores[:16], labels[:16], ids=torch.arange(16))
    m.update(scores[16:], labels[16:], ids=torch.arange(16, 30))
    m.update(scores[:2], labels[:2], ids=torch.arange(2))  # padding repeats
    torch.testing.assert_close(m.compute(), function(scores, labels), equal_nan=True)


def test_bad_inputs_are_named() -> None:
    scores, labels = _data(0, n=8)
    with pytest.raises(ValueError, match=r"labels: expected class indices in \[0, 6\)"):
        multiclass_accuracy(scores, labels + 3)
    with pytest.raises(ValueError, match=r"labels: expected \(8,\) integer class indices"):
        multiclass_accuracy(scores, labels.float())
    with pytest.raises(ValueError, match=r"scores: expected \(N, C\)"):
        multiclass_accuracy(scores[:, 0], labels)
    with pytest.raises(ValueError, match="average"):
        MulticlassF1(average="micro")  # type: ignore[arg-type]
