from __future__ import annotations

import pytest
import torch

from emofuse.transforms import SnippetSampler, uniform_snippet_indices


@pytest.mark.parametrize("num_frames", [96, 115, 125, 40])
def test_indices_cover_the_clip_uniformly(num_frames: int) -> None:
    index = uniform_snippet_indices(num_frames, 6, 16)
    assert index.shape == (6, 16)
    flat = index.flatten()
    assert (flat.diff() >= 0).all() and flat.min() >= 0 and flat.max() <= num_frames - 1
    step = num_frames / 96
    gaps = flat.diff().float()
    assert (gaps - step).abs().max() <= 1  # evenly spaced up to rounding
    assert flat[0] <= step and flat[-1] >= num_frames - 1 - step  # start to end of the clip
    if num_frames >= 96:
        assert len(flat.unique()) == 96  # snippets do not overlap


def test_snippets_layout_and_eval_is_deterministic() -> None:
    frames = torch.randint(0, 256, (120, 3, 72, 64), dtype=torch.uint8)
    sampler = SnippetSampler(6, frames_per_snippet=16, size=32)
    out = sampler(frames)
    assert out.shape == (6, 3, 16, 32, 32) and out.dtype == torch.float32
    torch.testing.assert_close(out, sampler(frames))
    # snippet 2, frame 5 comes from the indexed frame (centre 64 × 64 square of 72 × 64)
    t = uniform_snippet_indices(120, 6, 16)[2, 5]
    want = torch.nn.functional.interpolate(
        frames[t : t + 1, :, 4:68].float() / 255, size=(32, 32), mode="bilinear", antialias=True
    )
    want = (want - sampler.mean) / sampler.std
    torch.testing.assert_close(out[2, :, 5], want[0])


def test_training_augmentation_is_reproducible_under_a_generator() -> None:
    frames = torch.rand(50, 3, 40, 40)
    sampler = SnippetSampler(2, frames_per_snippet=4, size=24, train=True)
    a = sampler(frames, torch.Generator().manual_seed(3))
    b = sampler(frames, torch.Generator().manual_seed(3))
    c = sampler(frames, torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_flip_and_brightness() -> None:
    frames = torch.rand(8, 3, 16, 16) * 0.5
    plain = SnippetSampler(2, frames_per_snippet=4, size=16)(frames)
    flipped = SnippetSampler(
        2, frames_per_snippet=4, size=16, train=True, crop_scale=(1, 1), flip_p=1, brightness=0
    )
    torch.testing.assert_close(flipped(frames), plain.flip(-1))
    bright = SnippetSampler(
        2, frames_per_snippet=4, size=16, train=True, crop_scale=(1, 1), flip_p=0, brightness=0.5
    )
    g = torch.Generator().manual_seed(0)
    raw = bright(frames, g) * bright.std.view(3, 1, 1, 1) + bright.mean.view(3, 1, 1, 1)
    base = plain * bright.std.view(3, 1, 1, 1) + bright.mean.view(3, 1, 1, 1)
    ratio = (raw / base).median()
    assert 0.5 <= ratio <= 1.5 and abs(ratio - 1) > 1e-3
    torch.testing.assert_close(raw, base * ratio, atol=1e-4, rtol=1e-3)


def test_bad_frames() -> None:
    with pytest.raises(ValueError, match="frames"):
        SnippetSampler()(torch.rand(10, 16, 16, 3))


@pytest.mark.parametrize("train", [False, True])
def test_snippets_stay_on_the_frames_device(train: bool) -> None:
    frames = torch.zeros(20, 3, 24, 24, dtype=torch.uint8, device="meta")
    out = SnippetSampler(2, frames_per_snippet=4, size=16, train=train)(frames)
    assert out.device.type == "meta" and out.shape == (2, 3, 4, 16, 16)
