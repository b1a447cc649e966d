"""TimmFrameEncoder: timm CNN per valid frame, local weights, clear offline error."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest
import safetensors.torch
import timm
import torch

from emofuse.encoders import TimmFrameEncoder
from emofuse.encoders.weights import create_timm_backbone

NAME = "mobilenetv3_small_050"


def test_shape_zeros_at_padding_and_padding_invariance() -> None:
    encoder = TimmFrameEncoder(NAME, out_dim=16).eval()
    frames = torch.randn(2, 3, 3, 32, 32)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    with torch.no_grad():
        out = encoder(frames, mask)
        scrambled = frames.clone()
        scrambled[1, 1:] = torch.randn(2, 3, 32, 32)
        again = encoder(scrambled, mask)
        single = encoder(frames[1:, :1])
    assert out.shape == (2, 3, 16)
    assert (out[1, 1:] == 0).all()
    torch.testing.assert_close(out, again)
    torch.testing.assert_close(out[1:, :1], single, atol=1e-6, rtol=1e-5)


def test_cnn_runs_once_on_valid_frames_only() -> None:
    encoder = TimmFrameEncoder(NAME, out_dim=8).eval()
    seen: list[int] = []
    encoder.backbone.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    mask = torch.tensor([[True, True, False, False], [True, True, True, False]])
    with torch.no_grad():
        encoder(torch.randn(2, 4, 3, 32, 32), mask)
    assert seen == [5]


def test_unknown_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="frame_backbone"):
        create_timm_backbone("no_such_net")


def test_local_weights_file_is_loaded_under_timm_key_names(tmp_path: Path) -> None:
    # A checkpoint as timm publishes it: the full model with its ImageNet classifier.
    source = timm.create_model(NAME, pretrained=False, num_classes=1000)
    state = {k: v.clone() for k, v in source.state_dict().items()}
    assert any(k.startswith("classifier.") for k in state)
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file(state, str(path))
    encoder = TimmFrameEncoder(NAME, out_dim=8, pretrained=True, weights=path)
    for key, value in encoder.backbone.state_dict().items():
        torch.testing.assert_close(value, state[key], atol=0, rtol=0)
    torch.save({"state_dict": state}, tmp_path / "ckpt.pth")  # a wrapped .pth works too
    other = create_timm_backbone(NAME, pretrained=True, weights=tmp_path / "ckpt.pth")
    torch.testing.assert_close(other.conv_stem.weight, state["conv_stem.weight"])


def test_weights_file_of_another_model_is_rejected(tmp_path: Path) -> None:
    state = timm.create_model("mobilenetv3_small_075", num_classes=0).state_dict()
    safetensors.torch.save_file(state, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="shape mismatch"):
        create_timm_backbone(NAME, pretrained=True, weights=tmp_path / "other.safetensors")


def test_a_named_weights_file_is_loaded_whatever_pretrained_is(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="frame_backbone_weights: .*absent.safetensors"):
        create_timm_backbone(NAME, weights=tmp_path / "absent.safetensors")
    state = timm.create_model(NAME, num_classes=0).state_dict()
    safetensors.torch.save_file(state, str(tmp_path / "model.safetensors"))
    model = create_timm_backbone(NAME, pretrained=False, weights=tmp_path / "model.safetensors")
    torch.testing.assert_close(model.conv_stem.weight, state["conv_stem.weight"], rtol=0, atol=0)


def test_offline_pretrained_error_names_the_file_and_the_config_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(OSError, match="frame_backbone_weights=") as info:
        create_timm_backbone(NAME, pretrained=True)
    assert "model.safetensors" in str(info.value)
    assert "timm/mobilenetv3_small_050" in str(info.value)
