"""``benchmarks/ravdess_audio.py``: its wrappers train a model from cached stages (each equals
the model's own forward on the spectrograms the cache came from), an ensemble's seeds train
in parallel processes exactly as one after another, and its report shows an ensemble of seeds
with each seed alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from corpus_media import write_ravdess_speech
from models.test_av_attention_fusion import MOBILENET_AUDIO
from torch import nn

import emofuse
from benchmarks.ravdess_audio import (
    CONFIGS,
    Clips,
    Features,
    FromDescriptors,
    FromFrozenMaps,
    RandomView,
    fbank_features,
    report,
    run_model,
)
from emofuse.labels import RAVDESS_8


def test_training_from_frozen_maps_is_the_models_forward() -> None:
    """FromFrozenMaps on the maps of the frozen groups = forward on the segments (padded
    snippets included: their maps are never read), and only the later groups and the layers
    above them get gradients."""
    torch.manual_seed(0)
    model = emofuse.build("av_attention_fusion_tiny", **MOBILENET_AUDIO, audio_frozen_groups=7)
    model.eval()
    inputs = model.example_inputs(batch_size=2)
    stem = nn.Sequential(*model.audio_backbone.conv_groups()[:7])
    with torch.no_grad():
        maps = stem(inputs["audio"].flatten(0, 1)).unflatten(0, inputs["audio"].shape[:2])
    maps[~inputs["audio_mask"]] = float("nan")
    wrapper = FromFrozenMaps(model)
    got = wrapper(audio=maps, audio_mask=inputs["audio_mask"]).logits
    torch.testing.assert_close(got, model(**inputs).logits, atol=1e-5, rtol=1e-5)
    groups = {g["name"]: g["params"] for g in wrapper.param_groups(1e-3)}
    tuned = {id(p) for p in nn.Sequential(*model.audio_backbone.conv_groups()[7:]).parameters()}
    assert {id(p) for p in groups["audio_backbone"]} == tuned
    assert not {id(p) for p in groups["others"]} & {
        id(p) for p in model.audio_backbone.parameters()
    }


def test_training_from_descriptors_is_the_models_forward() -> None:
    model = emofuse.build("av_attention_fusion_tiny", **MOBILENET_AUDIO, freeze_audio_backbone=True)
    model.eval()
    inputs = model.example_inputs(batch_size=2)
    with torch.no_grad():
        descriptors = model.snippet_descriptors(**inputs)["audio"]
    got = FromDescriptors(model)(audio=descriptors, audio_mask=inputs["audio_mask"]).logits
    torch.testing.assert_close(got, model(**inputs).logits)


def test_the_report_shows_an_ensemble_and_each_of_its_seeds(tmp_path: Path) -> None:
    """A configuration tested as the mean of several seeds' probabilities is labelled so, each
    seed alone is reported with its own mean and wins against the linear baseline, and the
    issue's goal is checked item by item."""

    def run(fold: int, ua: float, members: list[dict[str, float]] | None = None) -> dict:
        confusion = np.eye(len(RAVDESS_8), dtype=int).tolist()
        out = {"fold": fold, "WA": ua, "UA": ua, "recall": [ua] * 8, "confusion": confusion}
        out.update(seconds=10.0, epochs=2)
        return {**out, "members": members} if members is not None else out

    def member(seed: int, ua: float) -> dict[str, float]:
        return {"seed": seed, "WA": ua, "UA": ua, "seconds": 5.0, "epochs": 1}

    results = {
        "command": "python benchmarks/ravdess_audio.py --data /somewhere/ravdess --seeds 0,1",
        "machine": "CPU",
        "date": "2026-12-01",
        "folds": [0, 1],
        "ids": ["a", "b"],
        "models": {
            "av_attention_fusion_tuned": [
                run(0, 0.6, [member(0, 0.55), member(1, 0.5)]),
                run(1, 0.7, [member(0, 0.65), member(1, 0.75)]),
            ],
            "linear": [run(0, 0.52), run(1, 0.7)],
        },
    }
    text = report(results, tmp_path / "page.md", tmp_path / "figure.png")
    assert "fine-tuned, ensemble of 2 seeds | 2 | 65.0 ± 7.1 | 65.0 ± 7.1 | 1 / 2 folds" in text
    assert "- seed 0: WA 60.0 ± 7.1 %, UA 60.0 ± 7.1 %, beats linear in 1 / 2 folds, 5 s" in text
    assert "- seed 1: WA 62.5 ± 17.7 %, UA 62.5 ± 17.7 %, beats linear in 1 / 2 folds" in text
    assert "--data RAVDESS_DIR --seeds 0,1" in text and (tmp_path / "figure.png").is_file()
    # the goal, item by item, for the best configuration (two folds of ten: not met)
    assert (
        "`av_attention_fusion_tuned`: 65.0 % mean UA over 2 folds (not met), above the linear "
        "baseline in 1 / 2 folds (not met), 10 s per fold on average and 10 s at most (met)."
    ) in text


def test_seeds_train_in_parallel_processes_as_one_after_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two seeds on two threads train in two forked one-thread processes; their members, the
    ensemble and the models written equal the same seeds trained one after another on one
    thread (training also reads a second rendering of the clips: RandomView)."""
    write_ravdess_speech(tmp_path / "corpus", actors=range(1, 25))
    clips = Clips(tmp_path / "corpus")
    features = fbank_features(clips, tmp_path / "cache")
    louder = [x + 1.0 for x in features]
    config, recipe = CONFIGS["colearning_transformer"]
    monkeypatch.setitem(CONFIGS, "colearning_transformer", (config, {**recipe, "epochs": 2}))
    threads = torch.get_num_threads()
    runs = {}
    try:
        for n in (2, 1):  # threads for the ensemble: 2 → parallel, 1 → one after another
            torch.set_num_threads(1)
            runs[n] = run_model(
                "colearning_transformer", features, clips, 9, [0, 1], tmp_path / f"runs{n}",
                threads=n, train_views=[louder],
            )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    parallel, sequential = runs[2], runs[1]
    assert parallel["parallel"] and not sequential["parallel"]
    assert [m["seed"] for m in parallel["members"]] == [0, 1]
    for key in ("WA", "UA", "confusion", "epochs"):
        assert parallel[key] == sequential[key]
    for a, b in zip(parallel["members"], sequential["members"], strict=True):
        assert (a["UA"], a["val_UA"], a["best_epoch"]) == (b["UA"], b["val_UA"], b["best_epoch"])
    written = sorted(p.name for p in (tmp_path / "runs2").iterdir())
    assert written == ["colearning_transformer-fold9-seed0", "colearning_transformer-fold9-seed1"]


def test_random_view_draws_each_rendering_with_the_global_generator(tmp_path: Path) -> None:
    write_ravdess_speech(tmp_path / "corpus", actors=(1,))
    clips = Clips(tmp_path / "corpus")
    index = torch.arange(len(clips.ids))
    views = [Features([torch.full((2, 3), float(v))] * len(index), clips, index) for v in range(3)]
    dataset = RandomView(views)
    assert len(dataset) == len(index) and dataset.labels.tolist() == clips.labels.tolist()

    def reads() -> list[float]:
        return [float(dataset[i % len(dataset)]["audio"][0, 0]) for i in range(60)]

    torch.manual_seed(0)
    first = reads()
    torch.manual_seed(0)
    assert reads() == first and set(first) == {0.0, 1.0, 2.0}
    assert dataset[3]["label"] == int(clips.labels[3])
    with pytest.raises(ValueError, match="views: expected datasets of one length"):
        RandomView([views[0], Features(views[1].features, clips, index[:2])])
