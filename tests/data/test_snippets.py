"""RandomSnippets: another random subset of each training clip's snippets at every read."""

from __future__ import annotations

import pytest
import torch

import emofuse
from emofuse.data import RandomSnippets, SyntheticEmotion, collate


def _sample(n: int = 10) -> dict[str, object]:
    return {"audio": torch.arange(float(n))[:, None], "label": 3, "id": "a"}


def test_each_read_draws_k_snippets_in_time_order() -> None:
    dataset = RandomSnippets([_sample(), {"audio": torch.ones(2, 1), "label": 0}], 5)
    torch.manual_seed(0)
    drawn = [dataset[0]["audio"].flatten() for _ in range(20)]
    for snippets in drawn:
        assert snippets.shape == (5,) and bool((snippets.diff() > 0).all())
    assert len({tuple(d.tolist()) for d in drawn}) > 1  # another subset on another read
    assert dataset[0]["label"] == 3 and dataset[0]["id"] == "a" and len(dataset) == 2
    torch.testing.assert_close(dataset[1]["audio"], torch.ones(2, 1))  # at most k: all kept


def test_a_seeded_draw_repeats() -> None:
    dataset = RandomSnippets([_sample()], 3)
    torch.manual_seed(7)
    first = [dataset[0]["audio"] for _ in range(4)]
    torch.manual_seed(7)
    for expected in first:
        torch.testing.assert_close(dataset[0]["audio"], expected)


def test_aligned_modalities_share_one_draw_and_padding_is_never_drawn() -> None:
    mask = torch.tensor([True] * 6 + [False] * 4)
    audio = torch.arange(10.0)[:, None].clone()
    audio[~mask] = float("nan")
    sample = {"audio": audio, "audio_mask": mask, "video": torch.arange(10.0) * 10, "label": 1}
    dataset = RandomSnippets([sample], 4, keys=("audio", "video"))
    torch.manual_seed(0)
    for _ in range(20):
        out = dataset[0]
        assert out["audio"].shape == (4, 1) and bool(out["audio"].isfinite().all())
        torch.testing.assert_close(out["video"], out["audio"].flatten() * 10)
        assert bool(out["audio_mask"].all()) and out["audio_mask"].shape == (4,)


def test_bad_arguments_and_samples_are_named() -> None:
    with pytest.raises(ValueError, match="k: expected at least one snippet per sample, got 0"):
        RandomSnippets([_sample()], 0)
    with pytest.raises(ValueError, match="keys: expected a sequence of modality names"):
        RandomSnippets([_sample()], 2, keys="audio")
    with pytest.raises(ValueError, match=r"keys: 'video' is not in the sample"):
        RandomSnippets([_sample()], 2, keys=("video",))[0]
    with pytest.raises(ValueError, match=r"label: expected a \(N, \.\.\.\) tensor"):
        RandomSnippets([_sample()], 2, keys=("label",))[0]
    uneven = {"audio": torch.zeros(10, 1), "video": torch.zeros(6, 1)}
    with pytest.raises(ValueError, match=r"same number of snippets N .*'audio': 10, 'video': 6"):
        RandomSnippets([uneven], 2, keys=("audio", "video"))[0]


def test_a_snippet_model_trains_on_the_subsets_and_evaluates_on_every_snippet() -> None:
    model = emofuse.build("av_attention_fusion_tiny", modalities=("audio",))
    synthetic = SyntheticEmotion(model, 4, seed=0)
    n = synthetic[0]["audio"].shape[0]
    batch = collate([RandomSnippets(synthetic, n - 1)[i] for i in range(4)])
    assert batch["audio"].shape[1] == n - 1 and bool(batch["audio_mask"].all())
    model(**{k: v for k, v in batch.items() if k.startswith("audio")}).logits.sum().backward()
