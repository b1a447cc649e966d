from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hara_checkpoints import save_hara_checkpoint
from torch import nn

import emofuse
from emofuse.blocks import CrossCorrelationFusion, TemporalAttention
from emofuse.encoders import MobileNetV2Encoder, ResNet3D
from emofuse.encoders.weights import WeightsUnavailableError
from emofuse.labels import RAVDESS_8
from emofuse.models.av_attention_fusion import AVAttentionFusion

TINY = "av_attention_fusion_tiny"


def test_paper_configuration_on_meta() -> None:
    with torch.device("meta"):
        model = emofuse.build("av_attention_fusion")
    c = model.config
    assert (c.num_snippets, c.frames_per_snippet, c.face_size, c.num_heads) == (6, 16, 224, 8)
    assert c.label_names == RAVDESS_8 and c.fused_dim == 512
    assert isinstance(model.video_backbone, ResNet3D) and len(model.video_backbone.layer3) == 23
    assert model.video_backbone.out_channels == 2048
    # s = 7 × 7 = 49 positions: 8 heads of ceil(49 / 8) = 7 dims, projected back to 49
    channel = model.video_stream.channel_attention.attention
    assert channel.head_dim == 7 and channel.out_proj.out_features == 49
    assert model.video_stream.spatial_attention.attention.q_proj.in_features == 2048
    assert model.video_stream.temporal.attention.out_proj.out_features == 512
    assert model.audio_stream.temporal.attention.q_proj.in_features == 512
    assert model.fusion.weight.shape == (512, 512)
    assert model.embedding.in_features == 1024 and model.classifier.out_features == 8


def test_outputs_and_attention_maps() -> None:
    model = emofuse.build(TINY).eval()
    c = model.config
    inputs = model.example_inputs(batch_size=2)
    out = model(**inputs, return_attentions=True)
    n, h, s, m = c.num_snippets, c.num_heads, 4, 16  # 40 px frames give a 2 × 2 conv5 map
    assert out.logits.shape == (2, 8) and out.embedding.shape == (2, c.embedding_dim)
    shapes = {k: tuple(v.shape) for k, v in out.attentions.items()}
    assert shapes == {
        "video_stream.spatial_attention.attention": (2, n, h, s, s),
        "video_stream.channel_attention.attention": (2, n, h, m, m),
        "video_stream.temporal.attention": (2, h, n, n),
        "audio_stream.temporal.attention": (2, h, n, n),
        "fusion.corr": (2, 1, n, n),
        "fusion.audio_weights": (2, 1, n, n),
        "fusion.video_weights": (2, 1, n, n),
    }
    padded = ~inputs["video_mask"][1]  # sample 1 has padded snippets: zero maps there
    spatial = out.attentions["video_stream.spatial_attention.attention"]
    assert padded.any() and (spatial[1, padded] == 0).all()
    assert (out.attentions["video_stream.temporal.attention"][1, :, :, padded] == 0).all()


def test_backbones_run_once_on_valid_steps_only() -> None:
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=3)
    seen: dict[str, list[int]] = {"video": [], "audio": []}
    model.video_backbone.register_forward_hook(lambda m, i, o: seen["video"].append(len(i[0])))
    model.audio_backbone.register_forward_hook(lambda m, i, o: seen["audio"].append(len(i[0])))
    with torch.no_grad():
        model(**inputs)
    assert seen["video"] == [int(inputs["video_mask"].sum())]
    assert seen["audio"] == [int(inputs["audio_mask"].sum())]


@pytest.mark.parametrize(
    ("switch", "absent"),
    [
        ("use_spatial", "spatial_attention"),
        ("use_channel", "channel_attention"),
        ("use_temporal", None),
    ],
)
def test_attention_ablations(switch: str, absent: str | None) -> None:
    model = emofuse.build(TINY, **{switch: False}).eval()
    if absent:
        assert not hasattr(model.video_stream, absent)
    else:  # no temporal attention: a linear map to m' in both streams
        assert isinstance(model.video_stream.temporal, nn.Linear)
        assert isinstance(model.audio_stream.temporal, nn.Linear)
        assert not any(isinstance(m, TemporalAttention) for m in model.modules())
    inputs = model.example_inputs(batch_size=2)
    out = model(**inputs, return_attentions=True)
    assert out.logits.shape == (2, 8) and out.logits.isfinite().all()
    key = {"use_spatial": "spatial_attention", "use_channel": "channel_attention"}.get(
        switch, "temporal"
    )
    assert f"video_stream.{key}.attention" not in out.attentions
    assert "fusion.corr" in out.attentions


@pytest.mark.parametrize("modality", ["audio", "video"])
def test_single_modality_has_no_fusion(modality: str) -> None:
    model = emofuse.build(TINY, modalities=(modality,)).eval()
    assert not any(isinstance(m, CrossCorrelationFusion) for m in model.modules())
    other = "video" if modality == "audio" else "audio"
    assert not hasattr(model, f"{other}_stream")
    assert emofuse.model_info(TINY)["modalities"] == ["audio", "video"]
    assert [s.name for s in model.input_specs(model.config)] == [modality, f"{modality}_mask"]
    inputs = model.example_inputs(batch_size=2)
    assert set(inputs) == {modality, f"{modality}_mask"}
    out = model(**inputs, return_attentions=True)
    assert out.logits.shape == (2, 8)
    assert f"{modality}_stream.temporal.attention" in out.attentions
    assert model.embedding.in_features == model.config.fused_dim
    with pytest.raises(ValueError, match=modality):
        model()


def test_missing_modality_and_snippet_count_mismatch() -> None:
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=2)
    with pytest.raises(ValueError, match="video"):
        model(audio=inputs["audio"])
    short_audio = {**inputs, "audio": inputs["audio"][:, :2], "audio_mask": None}
    with pytest.raises(ValueError, match="N = 2"):
        model(**short_audio)
    wrong_size = {**inputs, "video": inputs["video"][..., :32, :32]}
    with pytest.raises(ValueError, match="video"):
        model(**wrong_size)


def test_param_groups_train_everything_at_lr() -> None:
    model = emofuse.build(TINY)
    (group,) = model.param_groups(1e-4)
    assert group["lr"] == 1e-4 and group["name"] == "all"
    assert len(group["params"]) == len(list(model.parameters()))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="modalities"):
        emofuse.build(TINY, modalities=("text",))
    with pytest.raises(ValueError, match="video_depth"):
        emofuse.build(TINY, video_depth=20)
    with pytest.raises(ValueError, match="audio_widths"):
        emofuse.build(TINY, audio_widths=(8, 8))
    with pytest.raises(TypeError, match="valid fields"):
        emofuse.build(TINY, hidden=3)


def test_pretrained_without_published_weights_asks_for_a_local_checkpoint() -> None:
    with pytest.raises(WeightsUnavailableError, match="video_backbone_weights="):
        emofuse.build("av_attention_fusion", pretrained=True)


def test_pretrained_loads_a_hara_checkpoint(tmp_path: Path) -> None:
    config = {"modalities": ("video",), "video_depth": 18, "video_widths": (8, 8, 16, 16)}
    source = emofuse.build(TINY, **config)
    path = tmp_path / "r3d18_K_200ep.pth"
    save_hara_checkpoint(source.video_backbone, path)
    model = emofuse.build(TINY, pretrained=True, video_backbone_weights=str(path), **config)
    for key, value in source.video_backbone.state_dict().items():
        assert torch.equal(model.video_backbone.state_dict()[key], value), key


def test_registered_with_citation() -> None:
    info = emofuse.model_info("av_attention_fusion")
    assert info["citation"]["doi"] == "10.1016/j.imavis.2023.104676"
    assert info["task"] == "multiclass"
    assert info["inputs"]["video"].startswith("(B, N, 3, k, 224, 224)")
    assert isinstance(emofuse.build(TINY), AVAttentionFusion)


def test_pretrained_loads_a_local_audio_resnet_file(tmp_path: Path) -> None:
    config = {"modalities": ("audio",), "audio_widths": (8, 8, 16, 16)}
    source = emofuse.build(TINY, **config)
    state = {k: v for k, v in source.audio_backbone.state_dict().items()}
    state["fc.weight"] = torch.zeros(3, 16)  # a classifier head is dropped
    torch.save(state, tmp_path / "audio_resnet18.pth")
    path = str(tmp_path / "audio_resnet18.pth")
    model = emofuse.build(TINY, pretrained=True, audio_backbone_weights=path, **config)
    for key, value in source.audio_backbone.state_dict().items():
        assert torch.equal(model.audio_backbone.state_dict()[key], value), key


def test_fused_halves_are_averaged_over_their_own_modality_mask() -> None:
    # [V'; A'] (eq. 11) → masked mean: V' over the video mask, A' over the audio mask
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=3)
    inputs["audio_mask"] = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    inputs["video_mask"] = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 1, 1]], dtype=torch.bool)
    seen = {}
    model.fusion.register_forward_hook(lambda m, i, o: seen.update(fused=o))
    model.embedding.register_forward_hook(lambda m, i, o: seen.update(pooled=i[0]))
    with torch.no_grad():
        model(**inputs)
    video_half, audio_half = seen["fused"].chunk(2, dim=-1)
    video_mask, audio_mask = inputs["video_mask"], inputs["audio_mask"]
    want = torch.cat(
        [
            (video_half * video_mask[..., None]).sum(1) / video_mask.sum(1, keepdim=True),
            (audio_half * audio_mask[..., None]).sum(1) / audio_mask.sum(1, keepdim=True),
        ],
        dim=-1,
    )
    torch.testing.assert_close(seen["pooled"], want)


# -- audio alone on an ImageNet MobileNetV2, frozen; two-stage forward (issue 19.5) ------------
MOBILENET_AUDIO = {
    "modalities": ("audio",),
    "audio_backbone": "mobilenet_v2",
    "audio_output_stride": 16,
    "audio_widths": (64, 128, 256, 512),  # the tiny config's are a narrow ResNet's
    "audio_size": 32,
}


def test_mobilenet_v2_audio_backbone() -> None:
    model = emofuse.build(TINY, **MOBILENET_AUDIO).eval()
    assert isinstance(model.audio_backbone, MobileNetV2Encoder)
    assert model.audio_backbone.out_dim == 96 and len(model.audio_backbone.features) == 14
    assert model.audio_stream.temporal.attention.q_proj.in_features == 96
    out = model(**model.example_inputs(batch_size=2))
    assert out.logits.shape == (2, 8) and out.logits.isfinite().all()
    with torch.device("meta"):
        whole = emofuse.build(
            "av_attention_fusion", modalities=("audio",), audio_backbone="mobilenet_v2"
        )
    assert whole.audio_backbone.out_dim == 1280 and len(whole.audio_backbone.features) == 19


def test_frozen_audio_backbone_keeps_its_weights_and_statistics() -> None:
    model = emofuse.build(TINY, **MOBILENET_AUDIO, freeze_audio_backbone=True).train()
    backbone = model.audio_backbone
    assert not backbone.training and model.audio_stream.temporal.training
    assert not any(p.requires_grad for p in backbone.parameters())
    (group,) = model.param_groups(1e-3)
    frozen = {id(p) for p in backbone.parameters()}
    assert group["params"] and not frozen & {id(p) for p in group["params"]}
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    inputs = model.example_inputs(batch_size=2)
    model(**inputs).logits.sum().backward()
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, before[key]), key  # running statistics included
    assert model.audio_stream.temporal.attention.q_proj.weight.grad is not None


@pytest.mark.parametrize(("overrides", "k"), [({}, 2), (MOBILENET_AUDIO, 7)])
def test_frozen_audio_groups_keep_their_weights_and_the_rest_trains(overrides, k) -> None:
    """audio_frozen_groups=k: the first k conv groups keep weights and statistics (eval mode in
    training), every later group trains; the frozen part's output is the same map whatever
    the later groups learn."""
    model = emofuse.build(TINY, **{"modalities": ("audio",), **overrides, "audio_frozen_groups": k})
    model.train()
    groups = model.audio_backbone.conv_groups()
    frozen, tuned = groups[:k], groups[k:]
    assert [list(g.parameters()) for g in model.frozen_audio_groups()] == [
        list(g.parameters()) for g in frozen
    ]
    norms = [[m for g in part for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
             for part in (frozen, tuned)]  # fmt: skip
    assert norms[0] and not any(m.training for m in norms[0])
    assert all(m.training for m in norms[1])
    assert not any(p.requires_grad for g in frozen for p in g.parameters())
    assert all(p.requires_grad for g in tuned for p in g.parameters())
    before = {n: v.clone() for g in frozen for n, v in g.state_dict().items()}
    tuned_before = [p.clone() for g in tuned for p in g.parameters()]
    optimizer = torch.optim.SGD([p for g in model.param_groups(0.1) for p in g["params"]], 0.1)
    model(**model.example_inputs(batch_size=2)).logits.square().sum().backward()
    optimizer.step()
    after = {n: v for g in frozen for n, v in g.state_dict().items()}
    assert all(torch.equal(after[n], before[n]) for n in before)  # statistics included
    assert any(not torch.equal(p, q) for p, q in zip(
        [p for g in tuned for p in g.parameters()], tuned_before, strict=True
    ))  # fmt: skip


def test_audio_frozen_groups_out_of_range_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"audio_frozen_groups: expected 0-5 .*'resnet18'.* 6"):
        emofuse.build(TINY, audio_frozen_groups=6)
    with pytest.raises(ValueError, match=r"audio_frozen_groups: expected 0-14 .* got -1"):
        emofuse.build(TINY, **MOBILENET_AUDIO, audio_frozen_groups=-1)


@pytest.mark.parametrize("overrides", [{}, MOBILENET_AUDIO])
def test_forward_is_descriptors_then_the_rest(overrides) -> None:
    model = emofuse.build(TINY, **overrides).eval()
    inputs = model.example_inputs(batch_size=2)
    masks = {k: v for k, v in inputs.items() if k.endswith("_mask")}
    with torch.no_grad():
        descriptors = model.snippet_descriptors(**inputs)
        assert set(descriptors) == set(model.config.modalities)
        staged = model.forward_descriptors(descriptors, **masks)
        direct = model(**inputs)
    torch.testing.assert_close(staged.logits, direct.logits)
    torch.testing.assert_close(staged.embedding, direct.embedding)
    padded = ~inputs[f"{model.config.modalities[0]}_mask"]
    assert (descriptors[model.config.modalities[0]][padded] == 0).all()


def test_forward_descriptors_checks_its_inputs() -> None:
    model = emofuse.build(TINY, **MOBILENET_AUDIO).eval()
    with pytest.raises(ValueError, match="descriptors: expected the modalities"):
        model.forward_descriptors({"video": torch.randn(2, 3, 96)})
    with pytest.raises(ValueError, match="audio: expected shape .*96"):
        model.forward_descriptors({"audio": torch.randn(2, 3, 95)})
    with pytest.raises(ValueError, match="audio_mask"):
        model.forward_descriptors(
            {"audio": torch.randn(2, 3, 96)}, audio_mask=torch.ones(2, 4, dtype=torch.bool)
        )


def test_audio_only_model_refuses_video() -> None:
    model = emofuse.build(TINY, modalities=("audio",)).eval()
    inputs = model.example_inputs(batch_size=2)
    video = torch.randn(2, 3, 3, 4, 40, 40)
    with pytest.raises(ValueError, match=r"video: not an input .*modalities=\('audio',\)"):
        model(**inputs, video=video)


def test_mobilenet_options_validated() -> None:
    with pytest.raises(ValueError, match="audio_output_stride"):
        emofuse.build(TINY, audio_output_stride=16)  # a ResNet audio backbone
    with pytest.raises(ValueError, match="audio_widths"):
        emofuse.build(TINY, audio_backbone="mobilenet_v2")  # the tiny config's narrow widths
    with pytest.raises(ValueError, match="audio_output_stride"):
        emofuse.build(TINY, **{**MOBILENET_AUDIO, "audio_output_stride": 8})
    with pytest.raises(ValueError, match="modalities"):
        emofuse.build(TINY, modalities=("audio", "audio"))


def test_pretrained_mobilenet_from_a_local_torchvision_file(tmp_path: Path) -> None:
    from torchvision.models import mobilenet_v2

    torch.manual_seed(0)
    source = mobilenet_v2()
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(source.state_dict(), path)
    model = emofuse.build(
        TINY, pretrained=True, audio_backbone_weights=str(path), **MOBILENET_AUDIO
    )
    own = model.audio_backbone.state_dict()
    stem = source.features[0][0].weight
    torch.testing.assert_close(own["features.0.0.weight"], stem.sum(1, keepdim=True))
    for key, value in source.state_dict().items():
        if (
            key.startswith("features.")
            and int(key.split(".")[1]) < 14
            and key != "features.0.0.weight"
        ):
            assert torch.equal(own[key], value), key
    assert len(own) < len(source.state_dict())  # classifier and stride-32 blocks dropped
