from __future__ import annotations

import pytest
import torch
from torchvision.models import ResNet, resnet18

from emofuse.encoders import SpectrogramResNet


def test_conv5_map_of_one_channel_images() -> None:
    with torch.device("meta"):
        model = SpectrogramResNet()
        out = model(torch.empty(2, 1, 224, 224))
    assert isinstance(model, ResNet) and not hasattr(model, "fc")
    assert out.shape == (2, 512, 7, 7)


def test_imagenet_state_with_first_conv_averaged_over_rgb() -> None:
    imagenet = resnet18().eval()
    model = SpectrogramResNet().eval()
    model.load_imagenet_state(imagenet.state_dict())
    rgb = imagenet.conv1.weight
    torch.testing.assert_close(model.conv1.weight, rgb.mean(1, keepdim=True))
    torch.testing.assert_close(model.layer4[1].conv2.weight, imagenet.layer4[1].conv2.weight)
    # a grey image through the averaged conv equals the RGB net on (x, x, x) / 3
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.conv1(x), imagenet.conv1(x.expand(-1, 3, -1, -1) / 3))


def test_narrow_variant_and_bad_arguments() -> None:
    model = SpectrogramResNet(widths=(8, 8, 16, 16))
    assert model(torch.randn(2, 1, 64, 64)).shape == (2, 16, 2, 2)
    with pytest.raises(ValueError, match="ImageNet"):
        model.load_torchvision_imagenet()
    with pytest.raises(ValueError, match="depth"):
        SpectrogramResNet(50)
