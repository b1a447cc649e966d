from __future__ import annotations

import pytest
import torch

from emofuse.transforms import collate_steps


def test_collate_steps_pads_and_masks() -> None:
    a, b = torch.randn(3, 1, 4, 2), torch.randn(1, 1, 4, 2)
    batch, mask = collate_steps([a, b])
    assert batch.shape == (2, 3, 1, 4, 2)
    assert mask.tolist() == [[True, True, True], [True, False, False]]
    torch.testing.assert_close(batch[0], a)
    torch.testing.assert_close(batch[1, :1], b)
    assert (batch[1, 1:] == 0).all()


def test_empty_sequences_still_make_a_batch_and_the_mask_follows_the_device() -> None:
    batch, mask = collate_steps([torch.zeros(0, 4), torch.zeros(0, 4)])
    assert batch.shape == (2, 1, 4) and not mask.any()
    batch, mask = collate_steps([torch.ones(2, 4)], min_steps=3)
    assert batch.shape == (1, 3, 4) and mask.tolist() == [[True, True, False]]
    batch, mask = collate_steps(
        [torch.zeros(3, 2, device="meta"), torch.zeros(1, 2, device="meta")]
    )
    assert batch.device.type == mask.device.type == "meta" and mask.shape == (2, 3)
    with pytest.raises(ValueError, match="sequences"):
        collate_steps([])
