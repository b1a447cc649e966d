from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from emofuse.encoders import ResNetEncoder
from emofuse.encoders.weights import load_torchvision_resnet_state


def test_default_equals_torchvision_resnet18_and_loads_an_affectnet_style_file(
    tmp_path: Path,
) -> None:
    reference = torchvision.models.resnet18(num_classes=8).eval()  # an 8-class head, as AffectNet
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}  # DataParallel keys
    torch.save({"state_dict": state}, tmp_path / "affectnet_resnet18.pth")
    ours = ResNetEncoder().eval()
    assert sum(p.numel() for p in ours.parameters()) == 11_176_512  # resnet18 without fc
    load_torchvision_resnet_state(ours, tmp_path / "affectnet_resnet18.pth")
    reference.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x))


def test_resnet34_layout_matches_torchvision() -> None:
    with torch.device("meta"):
        ours, reference = ResNetEncoder(34), torchvision.models.resnet34()
    expected = {k: v.shape for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    assert {k: v.shape for k, v in ours.state_dict().items()} == expected


def test_one_channel_spectrogram_loads_imagenet_with_conv1_averaged_over_rgb() -> None:
    imagenet = torchvision.models.resnet18().eval()
    ours = ResNetEncoder(in_channels=1).eval()
    load_torchvision_resnet_state(ours, imagenet.state_dict())
    torch.testing.assert_close(ours.conv1.weight, imagenet.conv1.weight.mean(1, keepdim=True))
    torch.testing.assert_close(ours.layer4[1].conv2.weight, imagenet.layer4[1].conv2.weight)
    # a grey image through the averaged conv equals the RGB net on (x, x, x) / 3
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours.conv1(x), imagenet.conv1(x.expand(-1, 3, -1, -1) / 3))
        assert ours(torch.randn(2, 1, 224, 224)).shape == (2, 512)


def test_narrow_widths_and_stages() -> None:
    ours = ResNetEncoder(widths=(8, 16, 32, 64)).eval()
    x = torch.randn(2, 3, 64, 64)
    out = ours(x)
    assert out.shape == (2, 64) and ours.out_dim == 64
    assert len(ours.conv_groups()) == 5 and ours.group_channels == (8, 8, 16, 32, 64)
    h = x
    for group, width in zip(ours.conv_groups(), ours.group_channels, strict=True):
        h = group(h)
        assert h.shape[1] == width
    torch.testing.assert_close(ours.forward_head(h), out)
    with pytest.raises(ValueError, match="ResNet state dict does not match"):
        load_torchvision_resnet_state(ours, torchvision.models.resnet18().state_dict())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="depth"):
        ResNetEncoder(50)
    with pytest.raises(ValueError, match="widths"):
        ResNetEncoder(widths=(8, 16))
