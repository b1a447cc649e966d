"""colearning_transformer: audio-only, video-only and audio+video from the same weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import safetensors.torch
import timm
import torch
from helpers import append_padding, assert_outputs_close, scramble_padding

import emofuse
import emofuse.metrics
from emofuse.models.colearning_transformer import ColearningTransformer

SUBSETS = [("audio",), ("video",), ("audio", "video")]


def _subset(inputs: dict[str, torch.Tensor], keep: tuple[str, ...]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in inputs.items() if k.removesuffix("_mask") in keep}


@pytest.fixture(scope="module")
def model() -> ColearningTransformer:
    torch.manual_seed(0)
    return emofuse.build("colearning_transformer_tiny").eval()


@pytest.mark.parametrize("keep", SUBSETS)
def test_each_subset_predicts_and_ignores_padding(model, keep) -> None:
    inputs = _subset(model.example_inputs(batch_size=2), keep)
    with torch.no_grad():
        out = model(**inputs, return_attentions=True)
        assert_outputs_close(out, model(**scramble_padding(inputs)))
        assert_outputs_close(out, model(**append_padding(inputs, extra=5)))
    assert out.logits.shape == (2, 6) and out.embedding.shape == (2, 32)
    expected = {f"{m}_encoder.layers.0.self_attn" for m in keep}
    expected |= {"cross_modal.encoder.layers.0.self_attn", "classifier.pool"}
    assert set(out.attentions) == expected
    t_z = sum({"audio": 6, "video": 4}[m] for m in keep)  # ceil(22 / 4) audio steps
    assert out.attentions["classifier.pool"].shape == (2, t_z)
    assert out.attentions["cross_modal.encoder.layers.0.self_attn"].shape == (2, 2, t_z, t_z)


def test_same_weights_give_three_different_predictions(model) -> None:
    inputs = model.example_inputs(batch_size=2)
    with torch.no_grad():
        logits = [model(**_subset(inputs, keep)).logits for keep in SUBSETS]
    assert not torch.allclose(logits[0], logits[2]) and not torch.allclose(logits[1], logits[2])
    assert not torch.allclose(logits[0], logits[1])


def test_single_modality_prediction_equals_its_own_pipeline(model) -> None:
    """Audio-only is the audio encoder, the cross-modal encoder over A alone and the head."""
    inputs = _subset(model.example_inputs(batch_size=2), ("audio",))
    with torch.no_grad():
        a, mask = model.encode_audio(inputs["audio"], inputs["audio_mask"])
        z, z_mask = model.cross_modal({"audio": (a, mask)})
        logits, _ = model.classifier(z, z_mask)
        torch.testing.assert_close(model(**inputs).logits, logits)


def test_masks_default_to_all_valid(model) -> None:
    inputs = model.example_inputs(batch_size=2)
    full = {k: v[:1] for k, v in inputs.items()}  # row 0 has no padding
    bare = {k: v for k, v in full.items() if not k.endswith("_mask")}
    with torch.no_grad():
        assert_outputs_close(model(**full), model(**bare))


def test_neither_modality_is_a_value_error(model) -> None:
    with pytest.raises(ValueError, match="audio, video"):
        model()
    with pytest.raises(ValueError, match="video_mask"):
        model(video_mask=torch.ones(2, 3, dtype=torch.bool))


def test_wrong_frame_size_names_video(model) -> None:
    with pytest.raises(ValueError, match="video"):
        model(video=torch.randn(1, 2, 3, 64, 64))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="frame_backbone"):
        emofuse.build("colearning_transformer_tiny", frame_backbone="resnet_nonexistent")
    with pytest.raises(ValueError, match="d_model"):
        emofuse.build("colearning_transformer_tiny", d_model=30, num_heads=4)
    with pytest.raises(ValueError, match="conv_kernel"):
        emofuse.build("colearning_transformer_tiny", conv_kernel=2)
    with pytest.raises(ValueError, match="num_conv_layers"):  # the convolutions map to d_model
        emofuse.build("colearning_transformer_tiny", num_conv_layers=0)


def test_paper_configuration_structure() -> None:
    with torch.device("meta"):
        model = emofuse.build("colearning_transformer")
    c = model.config
    assert (c.d_model, c.ffn_dim, c.num_heads, c.audio_dim, c.num_classes) == (128, 512, 4, 240, 6)
    assert len(model.audio_encoder.layers) == 6 and len(model.video_encoder.layers) == 2
    assert len(model.cross_modal.encoder.layers) == 2 and model.subsampler.stride == 4
    assert model.frame_encoder.backbone.default_cfg["architecture"] == "mobilenetv3_large_100"
    layer = model.audio_encoder.layers[0]
    assert isinstance(layer.ffn[1], torch.nn.SiLU)  # Swish feed-forward


def test_pretrained_frame_backbone_from_a_local_file(tmp_path: Path) -> None:
    source = timm.create_model("mobilenetv3_small_050", num_classes=1000)
    path = tmp_path / "mobilenetv3_small_050.safetensors"
    safetensors.torch.save_file(source.state_dict(), str(path))
    model = emofuse.build(
        "colearning_transformer_tiny", pretrained=True, frame_backbone_weights=str(path)
    )
    torch.testing.assert_close(
        model.frame_encoder.backbone.conv_stem.weight, source.conv_stem.weight, atol=0, rtol=0
    )


def test_param_groups_cover_every_parameter_once(model) -> None:
    groups = model.param_groups(3e-4)
    names = [g["name"] for g in groups]
    assert names == ["frame_backbone", "audio_encoder", "video_encoder", "cross_modal_classifier"]
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    torch.optim.RAdam(groups)


def test_frame_order_matters_through_the_positions(model) -> None:
    """Eq. 9 adds positions to the frame features; without them the video path (per-frame CNN,
    self-attention, attentive pooling) would be blind to the order of the frames."""
    inputs = _subset(model.example_inputs(batch_size=2), ("video",))
    row = {k: v[:1] for k, v in inputs.items()}  # row 0: every frame valid
    reversed_row = {**row, "video": row["video"].flip(1)}
    with torch.no_grad():
        logits, flipped = model(**row).logits, model(**reversed_row).logits
    assert not torch.allclose(logits, flipped, atol=1e-5)


def test_dropout_only_inside_the_transformer_blocks() -> None:
    """Sec. 4.2: dropout 0.1 "in the transformer blocks"; the classifier has none."""
    model = emofuse.build("colearning_transformer_tiny")
    rates = {n: m.p for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout) and m.p}
    assert rates and all(r == 0.1 for r in rates.values())
    assert {n.split(".")[0] for n in rates} == {"audio_encoder", "video_encoder", "cross_modal"}


@pytest.mark.parametrize("name", ["colearning_transformer", "colearning_transformer_tiny"])
def test_outputs_follow_the_papers_emotion_order(name: str) -> None:
    """Takashima et al. (tables 1-2) list happy, sad, anger, surprise, disgust, fear: the
    CMU-MultimodalSDK order; output k is the paper's column k, and the takashima2022 protocol
    reports the columns in the same order."""
    paper = ("happiness", "sadness", "anger", "surprise", "disgust", "fear")
    assert emofuse.default_config(name).label_names == paper
    protocol = emofuse.metrics.protocol("takashima2022")
    assert tuple(dict.fromkeys(k.split("/")[0] for k in protocol.keys))[:6] == paper


# -- modalities and the multiclass task (issue 19.4) -------------------------------------------
def _numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_audio_only_paper_model_carries_no_frame_cnn() -> None:
    with torch.device("meta"):
        full = emofuse.build("colearning_transformer")
        audio = emofuse.build("colearning_transformer", modalities=("audio",))
    assert not hasattr(audio, "frame_encoder") and not hasattr(audio, "video_encoder")
    video_parts = _numel(full.frame_encoder) + _numel(full.video_encoder)
    one_segment_row = full.config.d_model  # the visual segment embedding
    assert _numel(audio) == _numel(full) - video_parts - one_segment_row
    assert _numel(audio) < 2e6 < 6e6 < _numel(full)  # 1.7 M of 6.5 M: the frame CNN is most
    assert [g["name"] for g in audio.param_groups(1e-4)] == [
        "audio_encoder",
        "cross_modal_classifier",
    ]


def test_video_only_model_has_no_audio_encoder() -> None:
    model = emofuse.build("colearning_transformer_tiny", modalities=("video",)).eval()
    assert not hasattr(model, "subsampler") and not hasattr(model, "audio_encoder")
    inputs = model.example_inputs(batch_size=2)
    assert set(inputs) == {"video", "video_mask"}
    assert [s.name for s in model.input_specs(model.config)] == ["video", "video_mask"]
    assert model(**inputs).logits.shape == (2, 6)


def test_single_modality_model_refuses_the_other_modality() -> None:
    model = emofuse.build("colearning_transformer_tiny", modalities=("audio",)).eval()
    video = torch.randn(2, 4, 3, 32, 32)
    with pytest.raises(ValueError, match=r"video: not an input .*modalities=\('audio',\)"):
        model(audio=torch.randn(2, 8, 240), video=video)
    with pytest.raises(ValueError, match="video_mask: not an input"):
        model(audio=torch.randn(2, 8, 240), video_mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"^audio: expected at least one of audio \(B"):
        model()


@pytest.mark.parametrize("modalities", [(), ("audio", "audio"), ("text",), ("audio", "text")])
def test_modalities_validated(modalities) -> None:
    with pytest.raises(ValueError, match="modalities"):
        emofuse.build("colearning_transformer_tiny", modalities=modalities)


def test_modalities_order_does_not_change_the_model() -> None:
    """The paper's concatenation order (audio, then video) whatever the config lists."""
    torch.manual_seed(0)
    a = emofuse.build("colearning_transformer_tiny").eval()
    torch.manual_seed(0)
    b = emofuse.build("colearning_transformer_tiny", modalities=("video", "audio")).eval()
    b.load_state_dict(a.state_dict())
    inputs = a.example_inputs(batch_size=2)
    with torch.no_grad():
        torch.testing.assert_close(a(**inputs).logits, b(**inputs).logits)


def test_audio_only_multiclass_model_saves_and_loads(tmp_path: Path) -> None:
    model = emofuse.build(
        "colearning_transformer_tiny",
        modalities=("audio",),
        task="multiclass",
        label_names=emofuse.labels.RAVDESS_8,
    ).eval()
    model.save_pretrained(tmp_path)
    loaded = emofuse.load(tmp_path).eval()
    assert loaded.config.modalities == ("audio",) and loaded.config.task == "multiclass"
    inputs = model.example_inputs(batch_size=2)
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, loaded(**inputs).logits)
    assert emofuse.model_info("colearning_transformer")["task"] == "multilabel"
