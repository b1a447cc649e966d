from __future__ import annotations

import math

import pytest
import torch

from emofuse.labels import IEMOCAP_6
from emofuse.losses import bce_pos_weight

LABELS = torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 1], [0, 0, 1]])


def test_weights_from_labels_and_from_counts() -> None:
    expected = torch.tensor([3 / 2, 4 / 1, 0 / 5])
    torch.testing.assert_close(bce_pos_weight(LABELS), expected)
    torch.testing.assert_close(bce_pos_weight(positives=[2, 1, 5], total=5), expected)
    # Table 2's IEMOCAP counts over its 7380 samples: angry 1103 -> 6277 / 1103
    counts = [1103, 1041, 1849, 595, 1708, 1084]
    weights = bce_pos_weight(positives=counts, total=7380)
    torch.testing.assert_close(weights[0], torch.tensor((7380 - 1103) / 1103))


def test_bce_with_logits_and_these_weights_is_eq_8() -> None:
    weights = bce_pos_weight(LABELS)
    logits = torch.randn(5, 3)
    y = LABELS.float()
    loss = torch.nn.BCEWithLogitsLoss(pos_weight=weights)(logits, y)
    hand = 0.0
    for n in range(5):
        per_sample = 0.0
        for c in range(3):
            p = 1 / (1 + math.exp(-logits[n, c].item()))
            yc = y[n, c].item()
            per_sample -= weights[c].item() * yc * math.log(p) + (1 - yc) * math.log(1 - p)
        hand += per_sample / 3
    assert loss.item() == pytest.approx(hand / 5, rel=1e-5)


def test_class_without_positives_gets_weight_one_and_a_warning() -> None:
    labels = torch.zeros(4, 6)
    labels[:, 0] = torch.tensor([1, 0, 0, 0])
    with pytest.warns(UserWarning, match="excited"):
        weights = bce_pos_weight(labels, label_names=IEMOCAP_6)
    assert weights.tolist() == [3.0, 1.0, 1.0, 1.0, 1.0, 1.0]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="labels"):
        bce_pos_weight()
    with pytest.raises(ValueError, match="total"):
        bce_pos_weight(positives=[1, 2])
    with pytest.raises(ValueError, match="positives"):
        bce_pos_weight(positives=[1, 9], total=5)
    with pytest.raises(ValueError, match="labels"):
        bce_pos_weight(torch.ones(4))
    with pytest.raises(ValueError, match="0/1"):  # class indices, not multi-hot
        bce_pos_weight(torch.tensor([[0], [3], [5]]))
    bce_pos_weight(torch.tensor([[True, False], [False, True]]))  # bool labels are fine
