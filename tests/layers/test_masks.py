from __future__ import annotations

import pytest
import torch

from emofuse.layers import lengths_to_mask, mask_to_lengths, staircase_mask
from emofuse.models import example_mask


def test_lengths_to_mask_and_back() -> None:
    lengths = torch.tensor([3, 0, 1])
    mask = lengths_to_mask(lengths, 4)
    assert mask.dtype == torch.bool
    assert mask.int().tolist() == [[1, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]]
    assert lengths_to_mask(lengths).shape == (3, 3)  # max_len defaults to the longest
    assert mask_to_lengths(mask).tolist() == [3, 0, 1]
    assert lengths_to_mask(torch.zeros(0, dtype=torch.long)).shape == (0, 0)
    assert lengths_to_mask([2, 1], 2).tolist() == [[True, True], [True, False]]


def test_bad_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match=r"lengths: expected counts in \[0, 2\]"):
        lengths_to_mask(torch.tensor([3, 1]), 2)
    with pytest.raises(ValueError, match=r"lengths: expected counts"):
        lengths_to_mask(torch.tensor([-1, 1]))
    with pytest.raises(ValueError, match=r"lengths: expected \(B,\) integer"):
        lengths_to_mask(torch.tensor([1.5, 2.0]))
    with pytest.raises(ValueError, match=r"lengths: expected \(B,\) integer"):
        lengths_to_mask(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="max_len"):
        lengths_to_mask(torch.tensor([1]), -1)


def test_masks_stay_on_the_lengths_device() -> None:
    lengths = torch.tensor([3, 1], device="meta")
    mask = lengths_to_mask(lengths, 5)
    assert mask.device.type == "meta" and mask.shape == (2, 5)
    assert mask_to_lengths(mask).device.type == "meta"
    assert staircase_mask(3, 4, torch.device("meta")).device.type == "meta"
    with pytest.raises(ValueError, match="max_len: required .* meta"):
        lengths_to_mask(lengths)


def test_staircase_is_the_models_example_mask() -> None:
    assert staircase_mask(3, 4).int().tolist() == [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]]
    assert staircase_mask(6, 2).sum(1).tolist() == [2, 1, 1, 1, 1, 1]  # at least one step
    assert staircase_mask(2, 0).shape == (2, 0)
    assert torch.equal(example_mask(5, 3), staircase_mask(5, 3))
