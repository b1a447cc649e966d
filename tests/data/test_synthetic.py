"""SyntheticEmotion: every registered tiny model learns it, on every task."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import emofuse
import emofuse.metrics as M
from emofuse.data import SyntheticEmotion, collate
from emofuse.registry import library_models

TINY = [name for name in library_models() if name.endswith("_tiny")]
TASKS = ("multiclass", "multilabel", "regression")
NUM_CLASSES = {"multiclass": 4, "multilabel": 4, "regression": 1}
# chance: 1/4 accuracy, 1/2 per-class accuracy, 0 correlation
CLEARLY_ABOVE_CHANCE = {"multiclass": 0.5, "multilabel": 0.65, "regression": 0.5}


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    # tiny models: a second intra-op thread only adds synchronisation (10x the CPU time here)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train_and_score(name: str, task: str, *, signal: float = 1.0, steps: int = 40) -> float:
    torch.manual_seed(0)
    model = emofuse.build(name, task=task, num_classes=NUM_CLASSES[task], dropout=0.0)
    train = SyntheticEmotion(model, 512, seed=1, signal=signal)
    val = SyntheticEmotion(model, 128, seed=2, signal=signal)
    batch = partial(collate, lengths=train.fixed_lengths)
    loader = DataLoader(
        train, batch_size=16, shuffle=True, collate_fn=batch,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step, inputs in enumerate(loader):
        if step == steps:
            break
        labels, _ = inputs.pop("label"), inputs.pop("id")
        logits = model(**inputs).logits
        if task == "multiclass":
            loss = F.cross_entropy(logits, labels)
        elif task == "multilabel":
            loss = F.binary_cross_entropy_with_logits(logits, labels)
        else:
            loss = F.mse_loss(logits[:, 0], labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    inputs = batch([val[i] for i in range(len(val))])
    labels, _ = inputs.pop("label"), inputs.pop("id")
    with torch.no_grad():
        scores = M.scores_from_output(model(**inputs), task)
    if task == "multiclass":
        return float(M.multiclass_accuracy(scores, labels))
    if task == "multilabel":
        thresholds = M.Thresholds.constant(0.5, num_labels=NUM_CLASSES[task])
        return float(M.multilabel_accuracy(scores, labels, thresholds, average="macro"))
    return float(M.pearson_r(scores, labels))


# every tiny model on its paper's task (all three tasks occur), and every task on mcr_tiny
CASES = sorted(
    {(name, emofuse.default_config(name).task) for name in TINY}
    | {("mcr_tiny", task) for task in TASKS}
)


@pytest.mark.parametrize("name, task", CASES)
def test_every_tiny_model_learns_the_synthetic_task(name: str, task: str) -> None:
    score = _train_and_score(name, task)
    assert score > CLEARLY_ABOVE_CHANCE[task], f"{name} {task}: validation {score:.3f}"


def test_without_the_signal_nothing_is_learned() -> None:
    # the control: the same training on inputs that carry no label stays at chance
    score = _train_and_score("mcr_tiny", "multiclass", signal=0.0)
    assert score < CLEARLY_ABOVE_CHANCE["multiclass"]


@pytest.mark.parametrize("name", TINY)
def test_samples_follow_the_model_layout(name: str) -> None:
    model = emofuse.build(name)
    data = SyntheticEmotion(name, 6, seed=3)
    assert data.task == model.config.task and data.num_classes == model.config.num_classes
    inputs = collate([data[i] for i in range(6)], lengths=data.fixed_lengths)
    labels, ids = inputs.pop("label"), inputs.pop("id")
    assert ids == list(range(6))
    model.check_inputs(**inputs)
    assert model(**inputs).logits.shape == (6, model.config.num_classes)
    assert labels.shape == ((6,) if model.config.task != "multilabel" else (6, data.num_classes))
    for key, mask in inputs.items():
        if key.endswith("_mask") and key[:-5] not in data.fixed_lengths:
            assert not mask.all(), f"{key}: every sample at full length"


def test_seeds_draw_samples_patterns_stay() -> None:
    a, b = SyntheticEmotion("mcr_tiny", 4, seed=0), SyntheticEmotion("mcr_tiny", 4, seed=0)
    torch.testing.assert_close(a[2]["audio"], b[2]["audio"])
    c = SyntheticEmotion("mcr_tiny", 4, seed=1)
    assert not torch.equal(a[2]["audio"], c[2]["audio"])
    torch.testing.assert_close(a._patterns["audio"], c._patterns["audio"])


def test_token_inputs_carry_class_keywords() -> None:
    data = SyntheticEmotion("emotion_query_transformer_tiny", 32, task="multiclass", num_classes=3)
    vocab = emofuse.build("emotion_query_transformer_tiny").vocab_sizes()["text"]  # 30522
    keywords, _ = data._keywords["text"]
    for i in range(32):
        sample = data[i]
        assert keywords[sample["label"]] in sample["text"]
        assert (sample["text"] >= 5).all() and (sample["text"] < vocab).all()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_samples"):
        SyntheticEmotion("mcr_tiny", 0)
    with pytest.raises(ValueError, match="min_length"):
        SyntheticEmotion("mcr_tiny", 4, min_length=0.0)
    with pytest.raises(ValueError, match="overrides"):
        SyntheticEmotion(emofuse.build("mcr_tiny"), 4, task="multiclass")
    with pytest.raises(ValueError, match="one keyword per class"):
        SyntheticEmotion("mer_sem_mbt_tiny", 4, num_classes=12)
    with pytest.raises(IndexError):
        SyntheticEmotion("mcr_tiny", 4)[4]
