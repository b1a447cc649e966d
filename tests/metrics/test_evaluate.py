"""evaluate / predict / evaluate_robustness on the tiny models, with the local collate."""

from __future__ import annotations

import pytest
import torch
from metric_loaders import ExampleDataset, loader

import emofuse
from emofuse.metrics import (
    MissingModality,
    ModalityNoise,
    Thresholds,
    evaluate,
    evaluate_robustness,
    predict,
    protocol,
    scores_from_output,
    tune_thresholds,
)
from emofuse.metrics.evaluate import _apply

CASES = [
    ("mer_sem_mbt_tiny", "xia2022/iemocap"),
    ("emotion_query_transformer_tiny", "le2023/cmu_mosei"),
    ("colearning_transformer_tiny", "takashima2022/cmu_mosei"),
    ("av_attention_fusion_tiny", "mocanu2023/ravdess"),
    ("mcr_tiny", "yang2023/mosi"),
]


def _build(name: str, proto: str) -> torch.nn.Module:
    overrides = {}
    if proto.endswith("cmu_mosei") and name.startswith("emotion_query"):
        overrides["label_names"] = emofuse.labels.CMU_MOSEI_6
    return emofuse.build(name, **overrides)


def _manual_scores(model, batches) -> tuple[torch.Tensor, torch.Tensor]:
    scores, labels = [], []
    model.eval()
    with torch.no_grad():
        for b in batches:
            inputs = {k: v for k, v in b.items() if k not in ("label", "id")}
            scores.append(scores_from_output(model(**inputs), model.config.task))
            labels.append(b["label"])
    return torch.cat(scores), torch.cat(labels)


@pytest.mark.parametrize(("name", "proto"), CASES)
def test_evaluate_equals_the_protocol_on_a_manual_forward(name: str, proto: str) -> None:
    model = _build(name, proto)
    k = model.config.num_classes
    batches = loader(ExampleDataset(model, 11, num_classes=k), batch_size=4)
    p = protocol(proto)
    thresholds = Thresholds.constant(0.5, num_labels=k) if p.task == "multilabel" else None
    model.train()
    table = evaluate(model, batches, protocol=proto, thresholds=thresholds)
    assert model.training  # restored
    scores, labels = _manual_scores(model, batches)
    names = model.config.label_names
    expected = p.compute(scores, labels, thresholds=thresholds, label_names=names)
    assert list(table) == list(p.keys)
    assert dict(table) == pytest.approx(dict(expected), abs=1e-4, nan_ok=True)
    assert table.num_samples == 11


def test_thresholds_tuned_on_validation_score_test_and_not_validation() -> None:
    model = emofuse.build("mer_sem_mbt_tiny")
    val = loader(ExampleDataset(model, 12, num_classes=6, seed=1), batch_size=5)
    test = loader(ExampleDataset(model, 12, num_classes=6, seed=2), batch_size=5)
    v = predict(model, val)
    assert v.scores.shape == (12, 6) and v.ids.tolist() == list(range(12))
    t = tune_thresholds(v.scores, v.labels, label_names=model.config.label_names)
    evaluate(model, test, protocol="le2023/iemocap", thresholds=t)
    with pytest.raises(ValueError, match="tuned on the very predictions"):
        evaluate(model, val, protocol="le2023/iemocap", thresholds=t)


def test_bad_calls_are_named() -> None:
    model = emofuse.build("mcr_tiny")
    batches = list(loader(ExampleDataset(model, 3), batch_size=3))
    with pytest.raises(ValueError, match="protocol: le2023/iemocap scores multilabel"):
        evaluate(model, batches, protocol="le2023/iemocap")
    no_ids = [{k: v for k, v in b.items() if k != "id"} for b in batches]
    with pytest.raises(ValueError, match="loader: expected batches as dicts"):
        evaluate(model, no_ids, protocol="yang2023/mosi")
    with pytest.raises(ValueError, match="loader: yielded no batches"):
        evaluate(model, [], protocol="yang2023/mosi")
    with pytest.raises(ValueError, match="ids: expected 3 sample ids"):
        evaluate(model, [{**batches[0], "id": [0, 1]}], protocol="yang2023/mosi")


def test_string_ids_and_repeated_samples_count_once() -> None:
    model = emofuse.build("mcr_tiny")
    data = ExampleDataset(model, 9, string_ids=True)
    once = evaluate(model, loader(data, batch_size=4), protocol="yang2023/mosi")
    batches = list(loader(data, batch_size=4))
    twice = evaluate(model, batches + batches[:1], protocol="yang2023/mosi")
    assert twice.num_samples == 9
    assert dict(twice) == pytest.approx(dict(once))


def test_robustness_in_one_call() -> None:
    model = emofuse.build("mcr_tiny")
    data = ExampleDataset(model, 10)
    conditions = [
        MissingModality("audio"),
        ModalityNoise("video", std=0.0),
        ModalityNoise("text", std=0.5, seed=3),
    ]
    result = evaluate_robustness(
        model, loader(data, batch_size=4), protocol="yang2023/mosi", conditions=conditions
    )
    assert list(result) == ["clean", "audio missing", "video noise σ=0", "text noise σ=0.5"]
    clean = evaluate(model, loader(data, batch_size=4), protocol="yang2023/mosi")
    assert dict(result["clean"]) == pytest.approx(dict(clean))
    assert dict(result["video noise σ=0"]) == pytest.approx(dict(clean))
    # missing = zeros in place of the required audio features (MultiBench)
    zeroed = [{**b, "audio": torch.zeros_like(b["audio"])} for b in loader(data, batch_size=4)]
    missing = evaluate(model, zeroed, protocol="yang2023/mosi")
    assert dict(result["audio missing"]) == pytest.approx(dict(missing))
    assert result["audio missing"]["MAE"] != pytest.approx(clean["MAE"])
    # the noise of a sample does not depend on the batch it lands in
    again = evaluate_robustness(
        model, loader(data, batch_size=7), protocol="yang2023/mosi", conditions=conditions[2:]
    )
    assert dict(again["text noise σ=0.5"]) == pytest.approx(dict(result["text noise σ=0.5"]))
    assert "| condition | Acc7 |" in result.to_markdown()


def test_missing_optional_modality_is_left_out() -> None:
    model = emofuse.build("colearning_transformer_tiny")
    data = ExampleDataset(model, 6, num_classes=6)
    half = Thresholds.constant(0.5, num_labels=6)
    result = evaluate_robustness(
        model,
        loader(data, batch_size=3),
        protocol="takashima2022",
        conditions=[MissingModality("video")],
        thresholds=half,
    )
    audio_only = [
        {k: v for k, v in b.items() if not k.startswith("video")}
        for b in loader(data, batch_size=3)
    ]
    expected = evaluate(model, audio_only, protocol="takashima2022", thresholds=half)
    assert dict(result["video missing"]) == pytest.approx(dict(expected))


def test_noise_leaves_padded_steps_alone_and_needs_a_float_modality() -> None:
    model = emofuse.build("mer_sem_mbt_tiny")
    inputs = model.example_inputs(3)
    noisy = _apply(ModalityNoise("audio", std=1.0), model, inputs, torch.arange(3))
    mask = inputs["audio_mask"]
    assert not mask.all()
    changed = (noisy["audio"] != inputs["audio"]).flatten(2).any(-1)
    assert torch.equal(changed, mask)
    with pytest.raises(ValueError, match="needs a float modality"):
        _apply(ModalityNoise("text", std=1.0), model, inputs, torch.arange(3))
    with pytest.raises(ValueError, match="std"):
        ModalityNoise("audio", std=-1.0)
    with pytest.raises(ValueError, match="needs the batch to hold 'depth'"):
        _apply(MissingModality("depth"), model, inputs, torch.arange(3))
