"""Each protocol reproduces the figures of a small hand-made example, in the paper's order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emofuse import labels as label_sets
from emofuse.metrics import MetricTable, Thresholds, list_protocols, protocol

# Four clips, six classes (columns in the data's label order). Per column, by hand:
#   col  labels    decisions  TP FP TN FN  Acc   F1   WA     two-class F1 (weighted, macro)
#   0    1 0 0 0   1 0 0 0    1  0  3  0   1     1    1      1,     1
#   1    1 1 0 0   1 0 1 0    1  1  1  1   .5    .5   .5     .5,    .5
#   2    0 0 0 0   0 0 0 1    0  1  3  0   .75   0    .75    6/7,   3/7   (no positive)
#   3    1 1 1 1   1 1 1 0    3  0  0  1   .75   6/7  .75    6/7,   3/7   (all positive)
#   4    0 1 0 0   0 0 0 0    0  0  3  1   .75   0    .5     9/14,  3/7   (never predicted)
#   5    0 0 1 1   0 1 1 1    2  1  1  0   .75   .8   .75    11/15, 11/15
LABELS = torch.tensor(
    [[1, 1, 0, 1, 0, 0], [0, 1, 0, 1, 1, 0], [0, 0, 0, 1, 0, 1], [0, 0, 0, 1, 0, 1]]
)
DECISIONS = torch.tensor(
    [[1, 1, 0, 1, 0, 0], [0, 0, 0, 1, 0, 1], [0, 1, 0, 1, 0, 1], [0, 0, 1, 0, 0, 1]]
)
PROBS = torch.where(DECISIONS.bool(), 0.9, 0.1).double()
HALF = Thresholds.constant(0.5, num_labels=6)
ACC = [1, 0.5, 0.75, 0.75, 0.75, 0.75]
F1 = [1, 0.5, 0, 6 / 7, 0, 0.8]
WA = [1, 0.5, 0.75, 0.75, 0.5, 0.75]
WF1 = [1, 0.5, 6 / 7, 6 / 7, 9 / 14, 11 / 15]
MF1 = [1, 0.5, 3 / 7, 3 / 7, 3 / 7, 11 / 15]


def _expected(order: list[int], columns: dict[str, list[float]], names, scale=1.0, avg="avg"):
    out = {}
    for i in order:
        for col, values in columns.items():
            out[f"{names[i]}/{col}"] = scale * values[i]
    if avg:
        for col, values in columns.items():
            out[f"{avg}/{col}"] = scale * float(np.mean(values))
    return out


def _check(table: MetricTable, expected: dict[str, float]) -> None:
    assert list(table) == list(expected)  # the paper's order
    for key, value in expected.items():
        assert table[key] == pytest.approx(value, abs=1e-5), key  # torchmetrics: float32


def test_xia2022_iemocap() -> None:
    table = protocol("xia2022", "iemocap").compute(PROBS, LABELS, thresholds=HALF)
    # table 2 order: happiness, anger, sadness, excited, frustrated, neutral
    order = [3, 0, 5, 1, 2, 4]
    _check(table, _expected(order, {"Acc": ACC, "F1": F1}, label_sets.IEMOCAP_6))
    assert table["avg/Acc"] == pytest.approx(0.75)
    assert table.protocol == "xia2022/iemocap" and table.num_samples == 4


def test_xia2022_cmu_mosei() -> None:
    table = protocol("xia2022", "cmu_mosei").compute(PROBS, LABELS, thresholds=HALF)
    # happiness, sadness, anger, surprise, fear, disgust
    order = [3, 4, 0, 5, 2, 1]
    _check(table, _expected(order, {"WA": WA, "F1": F1}, label_sets.CMU_MOSEI_6))
    assert table["avg/WA"] == pytest.approx(4.25 / 6)


def test_le2023_both_datasets_in_percent() -> None:
    table = protocol("le2023", "iemocap").compute(PROBS, LABELS, thresholds=HALF)
    _check(table, _expected(range(6), {"Acc": ACC, "F1": F1}, label_sets.IEMOCAP_6, 100.0))
    table = protocol("le2023", "cmu_mosei").compute(PROBS, LABELS, thresholds=HALF)
    _check(table, _expected(range(6), {"WAcc": WA, "F1": F1}, label_sets.CMU_MOSEI_6, 100.0))


def test_takashima2022() -> None:
    table = protocol("takashima2022").compute(PROBS, LABELS, thresholds=HALF)
    # happy, sad, anger, surprise, disgust, fear
    order = [3, 4, 0, 5, 1, 2]
    _check(table, _expected(order, {"wF1": WF1, "mF1": MF1}, label_sets.CMU_MOSEI_6, 100.0))


def test_yang2023_iemocap() -> None:
    four = [0, 3, 4, 5]  # anger, happiness, neutral, sadness = IEMOCAP_4's order
    table = protocol("yang2023", "iemocap").compute(
        PROBS[:, four], LABELS[:, four], thresholds=Thresholds.constant(0.5, num_labels=4)
    )
    expected = {
        "happiness/Acc": 75.0,
        "happiness/F1": 100 * 6 / 7,
        "sadness/Acc": 75.0,
        "sadness/F1": 100 * 11 / 15,
        "anger/Acc": 100.0,
        "anger/F1": 100.0,
        "neutral/Acc": 75.0,
        "neutral/F1": 100 * 9 / 14,
    }
    _check(table, expected)


def test_yang2023_sentiment() -> None:
    target = torch.tensor([2.0, -1.0, 0.0, 0.6, -2.4, 3.0], dtype=torch.float64)
    preds = torch.tensor([1.6, 0.4, -0.2, 0.4, -3.5, 2.5], dtype=torch.float64)
    # Acc7: rounded clipped preds 2, 0, -0, 0, -3, 2 vs targets 2, -1, 0, 1, -2, 3 -> 2/6
    # Acc2 without the zero label: pred>0 T T T F T vs target>0 T F T F T -> 4/5
    # F1: positive 3 true, TP 3 FP 1 -> 6/7; negative 2 true, TP 1 FN 1 -> 2/3;
    #     weighted (3·6/7 + 2·2/3) / 5 = 82/105
    expected = {
        "Acc7": 100 * 2 / 6,
        "Acc2": 80.0,
        "F1": 100 * 82 / 105,
        "MAE": 3.8 / 6,
        "Corr": float(np.corrcoef(preds.numpy(), target.numpy())[0, 1]),
    }
    for dataset in ("mosi", "mosei"):
        _check(protocol("yang2023", dataset).compute(preds, target), expected)


def _multiclass(counts: list[tuple[int, int]], num_classes: int):
    """Class c has n_c clips, the first k_c classified right, the rest as class c + 1."""
    labels, preds = [], []
    for c, (n, k) in enumerate(counts):
        labels += [c] * n
        preds += [c] * k + [(c + 1) % num_classes] * (n - k)
    return torch.nn.functional.one_hot(torch.tensor(preds), num_classes).float(), torch.tensor(
        labels
    )


def test_mocanu2023_ravdess_average_is_accuracy() -> None:
    # RAVDESS_8 order: neutral (half the clips), calm, happy, sad, angry, fearful, disgust,
    # surprised
    counts = [(2, 1), (4, 4), (4, 3), (4, 2), (4, 4), (4, 1), (4, 3), (4, 0)]
    scores, labels = _multiclass(counts, 8)
    table = protocol("mocanu2023", "ravdess").compute(scores, labels)
    expected = {
        "surprised/Acc": 0.0,
        "angry/Acc": 100.0,
        "fearful/Acc": 25.0,
        "neutral/Acc": 50.0,
        "calm/Acc": 100.0,
        "happy/Acc": 75.0,
        "sad/Acc": 50.0,
        "disgust/Acc": 75.0,
        "Average": 100 * 18 / 30,  # not the column mean, 59.375
    }
    _check(table, expected)


def test_mocanu2023_crema_d_average_is_the_column_mean() -> None:
    # CREMA_D_6 order: anger, disgust, fear, happy, neutral, sad
    counts = [(4, 3), (4, 2), (4, 4), (4, 1), (2, 2), (4, 0)]
    scores, labels = _multiclass(counts, 6)
    table = protocol("mocanu2023", "crema_d").compute(scores, labels)
    expected = {
        "anger/Acc": 75.0,
        "fear/Acc": 100.0,
        "neutral/Acc": 100.0,
        "happy/Acc": 25.0,
        "sad/Acc": 0.0,
        "disgust/Acc": 50.0,
        "Average": 350 / 6,  # not the accuracy, 12/22
    }
    _check(table, expected)


def test_outputs_are_matched_to_the_table_by_name() -> None:
    perm = [5, 2, 0, 4, 1, 3]
    names = [label_sets.IEMOCAP_6[i] for i in perm]
    p = protocol("xia2022", "iemocap")
    direct = p.compute(PROBS, LABELS, thresholds=HALF)
    permuted = p.compute(PROBS[:, perm], LABELS[:, perm], thresholds=HALF, label_names=names)
    assert dict(permuted) == pytest.approx(dict(direct))
    with pytest.raises(ValueError, match=r"lack \['happiness'\]"):
        p.compute(PROBS, LABELS, thresholds=HALF, label_names=[*names[:5], "calm"])


def test_protocol_arguments_are_checked() -> None:
    assert len(list_protocols()) == 10
    with pytest.raises(ValueError, match="dataset: xia2022 reports"):
        protocol("xia2022")
    with pytest.raises(ValueError, match="name: expected one of"):
        protocol("tsai2019")
    with pytest.raises(ValueError, match="dataset: le2023 reports"):
        protocol("le2023", "ravdess")
    assert protocol("le2023/iemocap") is protocol("le2023", "iemocap")
    with pytest.raises(ValueError, match="thresholds: protocol xia2022/iemocap"):
        protocol("xia2022", "iemocap").compute(PROBS, LABELS)
    with pytest.raises(ValueError, match="takes no thresholds"):
        protocol("yang2023", "mosi").compute(torch.zeros(3), torch.zeros(3), thresholds=HALF)
    with pytest.raises(ValueError, match="label_names: protocol yang2023/mosi"):
        protocol("yang2023", "mosi").compute(torch.zeros(3), torch.zeros(3), label_names=["a"])
    tuned_for = Thresholds(values=(0.5,) * 6, label_names=tuple("abcdef"))
    with pytest.raises(ValueError, match="thresholds: tuned for classes"):
        protocol("le2023", "iemocap").compute(PROBS, LABELS, thresholds=tuned_for)


def test_markdown() -> None:
    table = protocol("yang2023", "mosi").compute(
        torch.tensor([1.0, -1.0, 2.0]), torch.tensor([1.0, 1.0, 2.0])
    )
    lines = table.to_markdown(digits=2).splitlines()
    assert lines[0] == "| Acc7 | Acc2 | F1 | MAE | Corr |"
    assert lines[2].startswith("| 66.67 | 66.67 |")


def _with_class_accuracies(percent: list[float], counts: list[int]):
    """Clips per class (in label order) of which round(percent · n / 100) are classified right,
    the rest as the next class."""
    return _multiclass(
        [(n, round(p * n / 100)) for p, n in zip(percent, counts, strict=True)], len(counts)
    )


# Mocanu et al. 2023, tables 1–2: per-emotion accuracies (table order) and the "Average".
RAVDESS_ROWS = [
    ([88.75, 88.13, 68.75, 81.25, 91.88, 62.52, 66.88, 65.63], 76.42),
    ([79.38, 86.88, 75.63, 65.02, 83.13, 86.56, 59.38, 78.13], 77.54),
    ([82.51, 88.13, 77.52, 67.51, 84.38, 88.75, 60.01, 78.75], 79.17),
    ([82.02, 87.51, 80.01, 75.25, 84.25, 92.51, 66.88, 84.38], 82.02),
    ([86.88, 93.13, 86.88, 86.75, 91.01, 92.75, 78.25, 86.63], 87.85),
]
CREMA_D_ROWS = [
    ([73.75, 50.63, 72.63, 49.63, 65.63, 64.38], 62.77),
    ([84.94, 64.38, 76.25, 90.63, 63.13, 77.51], 76.14),
    ([85.69, 62.56, 77.51, 91.88, 65.63, 79.38], 77.12),
    ([87.94, 67.44, 80.44, 93.44, 65.25, 82.56], 79.51),
    ([88.81, 70.25, 84.63, 93.69, 67.94, 84.94], 81.71),
]


@pytest.mark.parametrize(("columns", "average"), RAVDESS_ROWS)
def test_mocanu2023_ravdess_reproduces_table1_averages(columns, average) -> None:
    """RAVDESS has half as many neutral clips (no strong intensity): the overall accuracy of
    the table's per-class figures gives its Average column; their plain mean does not."""
    p = protocol("mocanu2023", "ravdess")
    order = [label_sets.RAVDESS_8.index(c.split("/")[0]) for c in p.keys[:-1]]
    percent = [0.0] * 8
    for column, index in zip(columns, order, strict=True):
        percent[index] = column
    counts = [10_000 if name == "neutral" else 20_000 for name in label_sets.RAVDESS_8]
    table = p.compute(*_with_class_accuracies(percent, counts))
    assert [table[k] for k in p.keys[:-1]] == pytest.approx(columns, abs=1e-3)
    assert table["Average"] == pytest.approx(average, abs=0.01)


@pytest.mark.parametrize(("columns", "average"), CREMA_D_ROWS)
def test_mocanu2023_crema_d_reproduces_table2_averages(columns, average) -> None:
    p = protocol("mocanu2023", "crema_d")
    order = [label_sets.CREMA_D_6.index(c.split("/")[0]) for c in p.keys[:-1]]
    percent = [0.0] * 6
    for column, index in zip(columns, order, strict=True):
        percent[index] = column
    counts = [1087 * 10 if name == "neutral" else 1271 * 10 for name in label_sets.CREMA_D_6]
    table = p.compute(*_with_class_accuracies(percent, counts))
    assert table["Average"] == pytest.approx(average, abs=0.015)


def test_takashima2022_reading_gives_table2_scale() -> None:
    """Fear: 385 of 4662 test clips (table 1). A classifier that never predicts fear scores
    wF1 87.8 and mF1 47.8 under the two-outcome reading, the scale of table 2's fear columns
    (87.4–88.0, 48.1–55.0); the positive-class F1 would be 0."""
    fear = label_sets.CMU_MOSEI_6.index("fear")
    labels = torch.zeros(4662, 6, dtype=torch.long)
    labels[:385, fear] = 1
    probs = torch.full((4662, 6), 0.1, dtype=torch.float64)
    table = protocol("takashima2022").compute(probs, labels, thresholds=HALF)
    assert table["fear/wF1"] == pytest.approx(87.8, abs=0.1)
    assert table["fear/mF1"] == pytest.approx(47.8, abs=0.1)
