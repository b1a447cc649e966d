from __future__ import annotations

import math

import pytest
import torch

from emofuse.labels import IEMOCAP_6
from emofuse.losses import bce_pos_weight, multilabel_bce

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


@pytest.mark.parametrize("names", [IEMOCAP_6[:2], (*IEMOCAP_6, "calm")])
def test_label_names_must_name_every_class(names) -> None:
    # issue #11.8: too few names gave an IndexError while building the warning
    with pytest.raises(ValueError, match=r"label_names: expected one name per class \(6\)"):
        bce_pos_weight(torch.zeros(4, 6), label_names=names)
    with pytest.raises(ValueError, match="label_names"):
        bce_pos_weight(positives=[1, 2, 0, 0, 1, 1], total=4, label_names=names)
    with pytest.raises(ValueError, match="label_names: expected a sequence"):
        bce_pos_weight(torch.ones(2, 3), label_names="abc")


@pytest.mark.parametrize("labels", [torch.zeros(5, 3), torch.zeros(0, 3)], ids=["zeros", "empty"])
def test_all_zero_or_empty_labels_give_weight_one_per_class_with_a_warning(labels) -> None:
    with pytest.warns(UserWarning, match=r"\['anger', 'excited', 'frustrated'\]"):
        weights = bce_pos_weight(labels, label_names=IEMOCAP_6[:3])
    assert weights.tolist() == [1.0, 1.0, 1.0]
    with pytest.warns(UserWarning, match="no positive sample"):
        assert bce_pos_weight(positives=[0, 0], total=0).tolist() == [1.0, 1.0]


def test_weights_stay_on_the_input_device() -> None:
    weights = bce_pos_weight(torch.zeros(4, 6, device="meta"), label_names=IEMOCAP_6)
    assert weights.device.type == "meta" and weights.shape == (6,)
    assert weights.dtype == torch.float32
    counts = torch.zeros(6, device="meta")
    assert bce_pos_weight(positives=counts, total=4).device.type == "meta"


def test_total_must_be_a_sample_count() -> None:
    for total in (-1, 2.5, True):
        with pytest.raises(ValueError, match="total: expected the number of samples"):
            bce_pos_weight(positives=[0, 0], total=total)


def test_multilabel_bce_is_torchs_weighted_bce_on_a_batch() -> None:
    logits, y = torch.randn(5, 3), LABELS.float()
    weights = bce_pos_weight(LABELS)
    want = torch.nn.BCEWithLogitsLoss(pos_weight=weights)(logits, y)
    torch.testing.assert_close(multilabel_bce(logits, LABELS, weights), want)
    plain = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
    torch.testing.assert_close(multilabel_bce(logits, y), plain)


def test_multilabel_bce_of_an_empty_batch_is_zero_with_a_zero_finite_gradient() -> None:
    logits = torch.zeros(0, 3, requires_grad=True)
    loss = multilabel_bce(logits, torch.zeros(0, 3), torch.ones(3))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None and logits.grad.shape == (0, 3)


def test_multilabel_bce_runs_on_meta_and_names_bad_arguments() -> None:
    loss = multilabel_bce(torch.randn(2, 3, device="meta"), torch.zeros(2, 3, device="meta"))
    assert loss.device.type == "meta"
    with pytest.raises(ValueError, match=r"targets: expected the shape of logits \(2, 3\)"):
        multilabel_bce(torch.randn(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match=r"pos_weight: expected \(3,\)"):
        multilabel_bce(torch.randn(2, 3), torch.zeros(2, 3), torch.ones(2))
