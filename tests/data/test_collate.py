"""collate: padding, masks, labels, ids; BucketBatchSampler."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch.utils.data import DataLoader

import emofuse
from emofuse.data import BucketBatchSampler, collate


def _samples() -> list[dict]:
    return [
        {
            "audio": torch.randn(5, 4),
            "video": torch.randn(2, 3, 8, 8),
            "text": torch.tensor([7, 8, 9]),
            "label": 1,
            "id": "a",
            "speaker": "Ross",
        },
        {
            "audio": torch.randn(3, 4),
            "video": torch.randn(4, 3, 8, 8),
            "text": torch.tensor([5]),
            "label": 0,
            "id": "b",
            "speaker": "Monica",
        },
    ]


def test_pads_every_modality_and_builds_masks() -> None:
    samples = _samples()
    batch = collate(samples)
    assert batch["audio"].shape == (2, 5, 4) and batch["video"].shape == (2, 4, 3, 8, 8)
    assert batch["text"].shape == (2, 3) and batch["text"].dtype == torch.int64
    assert batch["audio_mask"].tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    assert batch["video_mask"].tolist() == [[True, True, False, False], [True] * 4]
    assert batch["text_mask"].tolist() == [[True] * 3, [True, False, False]]
    assert batch["audio_mask"].dtype == torch.bool
    torch.testing.assert_close(batch["audio"][1, :3], samples[1]["audio"])
    torch.testing.assert_close(batch["video"][0, :2], samples[0]["video"])
    assert batch["text"][1].tolist() == [5, 0, 0]
    assert (batch["audio"][1, 3:] == 0).all()
    assert batch["label"].tolist() == [1, 0] and batch["id"] == ["a", "b"]
    assert batch["speaker"] == ["Ross", "Monica"]


def test_padding_value_and_fixed_lengths() -> None:
    batch = collate(_samples(), padding_value={"text": 3}, lengths={"audio": 9})
    assert batch["audio"].shape == (2, 9, 4) and batch["audio_mask"].sum(1).tolist() == [5, 3]
    assert batch["text"][1].tolist() == [5, 3, 3]
    with pytest.raises(ValueError, match=r"samples\[0\]\['audio'\]: 5 steps, longer than"):
        collate(_samples(), lengths={"audio": 4})


def test_a_sample_mask_is_kept() -> None:
    samples = _samples()
    for s in samples:
        s["audio_mask"] = torch.ones(s["audio"].shape[0], dtype=torch.bool)
    samples[0]["audio_mask"][1] = False
    batch = collate(samples)
    assert batch["audio_mask"].tolist() == [
        [True, False, True, True, True],
        [True, True, True, False, False],
    ]
    samples[1]["audio_mask"] = torch.ones(2, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"samples\[1\]\['audio_mask'\]: expected \(3,\)"):
        collate(samples)


def test_multilabel_and_regression_labels_stack() -> None:
    samples = _samples()
    samples[0]["label"], samples[1]["label"] = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert collate(samples)["label"].shape == (2, 2)
    samples[0]["label"], samples[1]["label"] = 0.5, -1.25
    assert collate(samples)["label"].tolist() == [0.5, -1.25]


def test_bad_batches() -> None:
    with pytest.raises(ValueError, match="samples: expected at least one"):
        collate([])
    samples = _samples()
    samples[1]["audio"] = torch.randn(3, 5)
    with pytest.raises(ValueError, match=r"samples\[1\]\['audio'\]: expected \(T, 4\)"):
        collate(samples)
    samples = _samples()
    del samples[1]["speaker"]
    with pytest.raises(ValueError, match=r"samples\[1\]: expected the keys"):
        collate(samples)


def test_a_model_reads_a_collated_batch() -> None:
    model = emofuse.build("colearning_transformer_tiny").eval()
    samples = [
        {"audio": torch.randn(t, 240), "video": torch.randn(v, 3, 32, 32), "label": 0, "id": i}
        for i, (t, v) in enumerate([(12, 3), (20, 1)])
    ]
    batch = collate(samples)
    inputs = {k: v for k, v in batch.items() if k not in ("label", "id")}
    with torch.no_grad():
        joint = model(**inputs).logits
        alone = model(audio=samples[0]["audio"][None], video=samples[0]["video"][None]).logits
    # padding never changes an output: the padded sample scores as it does alone
    torch.testing.assert_close(joint[:1], alone, atol=1e-5, rtol=1e-4)


def test_bucket_batch_sampler_groups_similar_lengths() -> None:
    lengths = torch.randint(1, 200, (400,), generator=torch.Generator().manual_seed(0)).tolist()
    sampler = BucketBatchSampler(lengths, 8, pool_batches=10, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 50
    assert sorted(i for b in batches for i in b) == list(range(400))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    shuffled = torch.randperm(400, generator=torch.Generator().manual_seed(2)).view(50, 8)
    random_spread = sum(
        max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in shuffled.tolist()
    )
    assert spread < random_spread / 3
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_bucket_batch_sampler_drop_last_and_no_shuffle() -> None:
    lengths = [5, 1, 4, 2, 3, 9, 7]
    sampler = BucketBatchSampler(lengths, 3, shuffle=False)
    assert list(sampler) == [[1, 3, 4], [2, 0, 6], [5]] and len(sampler) == 3
    sampler = BucketBatchSampler(lengths, 3, shuffle=False, drop_last=True)
    assert list(sampler) == [[1, 3, 4], [2, 0, 6]] and len(sampler) == 2
    sampler = BucketBatchSampler(lengths, 2, pool_batches=2, drop_last=True)
    assert len(list(sampler)) == len(sampler) == 3
    with pytest.raises(ValueError, match="batch_size"):
        BucketBatchSampler(lengths, 0)


def test_dataloader_with_bucketing() -> None:
    data = [{"audio": torch.randn(t, 2), "label": t % 2, "id": t} for t in range(1, 30)]
    loader = DataLoader(
        data,
        batch_sampler=BucketBatchSampler([len(d["audio"]) for d in data], 4),
        collate_fn=partial(collate, padding_value=0.0),
    )
    seen = [i for batch in loader for i in batch["id"]]
    assert sorted(seen) == list(range(1, 30))


def test_raw_waveforms_are_refused_with_what_to_do() -> None:
    samples = [{"audio": torch.randn(1, n), "label": 0} for n in (100, 90)]
    with pytest.raises(ValueError, match=r"samples\[1\]\['audio'\].*raw waveform.*transform="):
        collate(samples)
