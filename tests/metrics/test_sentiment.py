"""Sentiment metrics equal MulT's / MMSA's computation with numpy, scikit-learn and scipy;
Acc-7 and CCC also by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, f1_score

from emofuse.metrics import (
    ConcordanceCC,
    MeanAbsoluteError,
    PearsonR,
    SentimentAcc2,
    SentimentAcc5,
    SentimentAcc7,
    SentimentF1,
    concordance_cc,
    mean_absolute_error,
    pearson_r,
    sentiment_acc2,
    sentiment_acc5,
    sentiment_acc7,
    sentiment_f1,
)


def _data(seed: int, n: int = 90) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels on the annotation grid (thirds), zeros and ±3.0 included; predictions spread
    beyond [-3, 3], some exactly 0 and some exactly at .5."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(-9, 10, (n,), generator=g).double() / 3
    target[:5] = 0.0
    preds = 0.6 * target + 1.5 * torch.randn(n, generator=g, dtype=torch.float64)
    preds[5:8] = torch.tensor([0.0, 2.5, -0.5], dtype=torch.float64)
    preds[8] = 4.2
    return preds, target


@pytest.mark.parametrize("seed", [0, 1])
def test_equal_mult_and_mmsa(seed: int) -> None:
    preds, target = _data(seed)
    p, t = preds.numpy(), target.numpy()
    nz = t != 0
    assert sentiment_acc2(preds, target, zero_labels="exclude").item() == pytest.approx(
        accuracy_score(t[nz] > 0, p[nz] > 0)
    )
    assert sentiment_f1(preds, target, zero_labels="exclude").item() == pytest.approx(
        f1_score(t[nz] > 0, p[nz] > 0, average="weighted"), abs=1e-6
    )
    assert sentiment_acc2(preds, target, zero_labels="non_negative").item() == pytest.approx(
        accuracy_score(t >= 0, p >= 0)
    )
    assert sentiment_f1(preds, target, zero_labels="non_negative").item() == pytest.approx(
        f1_score(t >= 0, p >= 0, average="weighted"), abs=1e-6
    )
    acc7 = np.mean(np.round(np.clip(p, -3, 3)) == np.round(np.clip(t, -3, 3)))
    acc5 = np.mean(np.round(np.clip(p, -2, 2)) == np.round(np.clip(t, -2, 2)))
    assert sentiment_acc7(preds, target).item() == pytest.approx(acc7)
    assert sentiment_acc5(preds, target).item() == pytest.approx(acc5)
    assert mean_absolute_error(preds, target).item() == pytest.approx(np.mean(np.abs(p - t)))
    assert pearson_r(preds, target).item() == pytest.approx(pearsonr(p, t).statistic, abs=1e-6)


def test_acc7_by_hand() -> None:
    preds = torch.tensor([2.5, -0.5, 0.49, 3.7, -2.6, 1.5])
    target = torch.tensor([2.0, 0.0, 0.0, 3.0, -3.0, 1.0])
    # rounded (half to even), predictions clipped to [-3, 3]: 2, -0, 0, 3, -3, 2
    # vs targets 2, 0, 0, 3, -3, 1 -> 5 of 6 agree
    assert sentiment_acc7(preds, target).item() == pytest.approx(5 / 6)


def test_acc2_definitions_by_hand() -> None:
    preds = torch.tensor([0.0, 1.0, -1.0, 0.5, -0.2])
    target = torch.tensor([0.0, 0.0, -2.0, 1.0, 1.0])
    # exclude zero labels: samples 2, 3, 4 -> pred>0: F, T, F; target>0: F, T, T -> 2/3
    assert sentiment_acc2(preds, target, zero_labels="exclude").item() == pytest.approx(2 / 3)
    # non-negative: pred>=0: T, T, F, T, F; target>=0: T, T, F, T, T -> 4/5
    assert sentiment_acc2(preds, target, zero_labels="non_negative").item() == pytest.approx(0.8)
    zeros = torch.zeros(4)
    assert sentiment_acc2(preds[:4], zeros, zero_labels="exclude").isnan()
    assert sentiment_f1(preds[:4], zeros, zero_labels="exclude").isnan()


def test_ccc_by_hand() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    y = torch.tensor([2.0, 2.0, 4.0, 5.0])
    # means 2.5, 3.25; population variances 1.25, 1.6875; covariance 1.375
    expected = 2 * 1.375 / (1.25 + 1.6875 + 0.75**2)
    assert concordance_cc(x, y).item() == pytest.approx(expected)
    assert concordance_cc(x, x).item() == pytest.approx(1.0)
    centred = x - x.mean()
    assert concordance_cc(centred, -centred).item() == pytest.approx(-1.0)
    # a shift is penalised, unlike Pearson's r: 2·1.25 / (2·1.25 + 5²)
    assert concordance_cc(x, x + 5).item() == pytest.approx(2.5 / 27.5)


@pytest.mark.parametrize(
    ("metric", "function", "kwargs"),
    [
        (SentimentAcc2, sentiment_acc2, {"zero_labels": "exclude"}),
        (SentimentF1, sentiment_f1, {"zero_labels": "non_negative"}),
        (SentimentAcc5, sentiment_acc5, {}),
        (SentimentAcc7, sentiment_acc7, {}),
        (MeanAbsoluteError, mean_absolute_error, {}),
        (PearsonR, pearson_r, {}),
        (ConcordanceCC, concordance_cc, {}),
    ],
)
def test_metric_over_batches_equals_function(metric, function, kwargs) -> None:
    preds, target = _data(2, n=50)
    m = metric(**kwargs)
    for start in range(0, 50, 9):
        m.update(
            preds[start : start + 9, None],
            target[start : start + 9],
            ids=list(range(start, min(start + 9, 50))),
        )
    m.update(preds[:3], target[:3], ids=[0, 1, 2])  # repeated samples count once
    torch.testing.assert_close(m.compute(), function(preds, target, **kwargs))


def test_bad_inputs_are_named() -> None:
    preds, target = _data(0, n=10)
    preds, target = preds[:6], target[:6]
    with pytest.raises(ValueError, match="target: expected 6 values"):
        sentiment_acc7(preds, target[:5])
    with pytest.raises(ValueError, match=r"preds: expected \(N,\) or \(N, 1\) float"):
        sentiment_acc7(preds.reshape(2, 3), target)
    with pytest.raises(ValueError, match="zero_labels"):
        sentiment_acc2(preds, target, zero_labels="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target: expected finite values"):
        mean_absolute_error(preds, target * torch.nan)
