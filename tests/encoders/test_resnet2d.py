from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from emofuse.encoders import ResNetEncoder


def test_width_64_equals_torchvision_resnet18_and_loads_an_affectnet_style_file(
    tmp_path: Path,
) -> None:
    reference = torchvision.models.resnet18(num_classes=8).eval()  # an 8-class head, as AffectNet
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}  # DataParallel keys
    torch.save({"state_dict": state}, tmp_path / "affectnet_resnet18.pth")
    ours = ResNetEncoder().eval()
    assert sum(p.numel() for p in ours.parameters()) == 11_176_512  # resnet18 without fc
    ours.load_torchvision(tmp_path / "affectnet_resnet18.pth")
    reference.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x))


def test_sem_slots_narrow_width_and_groups() -> None:
    ours = ResNetEncoder(width=8, sem_after=(1, 3, 5), text_dim=6).eval()
    x, text = torch.randn(2, 3, 64, 64), torch.randn(2, 6)
    out, *maps = ours(x, text, return_attention=True)
    assert out.shape == (2, 64) and ours.out_dim == 64
    assert [m.shape for m in maps] == [(2, 32, 32), (2, 8, 8), (2, 2, 2)]
    assert len(ours.conv_groups()) == 5
    with pytest.raises(ValueError, match="ResNet state dict does not match"):
        ours.load_torchvision(torchvision.models.resnet18().state_dict())
