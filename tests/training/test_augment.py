"""SpecAugment and mixup: masks select (padding, even NaN, is never read), labels follow."""

from __future__ import annotations

import pytest
import torch

from emofuse.training.augment import mixup, spec_augment


def test_spec_augment_zeroes_bands_and_steps_per_sample() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 50, 20) + 10  # no value near 0 before masking
    y = spec_augment(x, time_masks=2, time_mask_width=10, freq_masks=1, freq_mask_width=5)
    assert y.shape == x.shape
    zeroed = y == 0
    assert zeroed.any() and torch.equal(y[~zeroed], x[~zeroed])
    # a frequency mask spans whole bands, a time mask whole steps; samples differ
    assert not torch.equal(zeroed[0], zeroed[1])
    assert torch.equal(spec_augment(x, time_masks=0, time_mask_width=0, freq_masks=0,
                                    freq_mask_width=0), x)  # fmt: skip
    with pytest.raises(ValueError, match=r"audio: SpecAugment takes \(B, T, F\)"):
        spec_augment(torch.randn(2, 3, 1, 8, 8), time_masks=1, time_mask_width=1, freq_masks=0,
                     freq_mask_width=0)  # fmt: skip


def test_mixup_mixes_valid_steps_and_never_reads_padding() -> None:
    torch.manual_seed(0)
    x = torch.randn(6, 5, 3)
    mask = torch.arange(5) < torch.tensor([5, 3, 1, 4, 2, 5])[:, None]
    x = torch.where(mask[..., None], x, torch.nan)  # padding holds NaN
    labels = torch.eye(3)[torch.tensor([0, 1, 2, 0, 1, 2])]
    out, mixed = mixup({"audio": x, "audio_mask": mask}, labels, alpha=0.4)
    assert torch.isfinite(out["audio"][out["audio_mask"]]).all()
    assert out["audio_mask"].sum() >= mask.sum()
    assert torch.allclose(mixed.sum(1), torch.ones(6))  # each row still a distribution
    assert ((mixed > 0).sum(1) <= 2).all()


def test_mixup_refuses_token_ids() -> None:
    tokens = torch.randint(5, 100, (4, 7))
    with pytest.raises(ValueError, match="text: mixup mixes float inputs"):
        mixup({"text": tokens}, torch.rand(4), alpha=0.2)
