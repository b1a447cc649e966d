from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from emofuse.encoders import VGGish
from emofuse.encoders.weights import load_torchvggish_state


class TorchVGGishReference(nn.Module):
    """torchvggish's VGG (harritaylor/torchvggish, torchvggish/vggish.py) re-typed here with
    its layer order, key names and transpose-based flatten; widths are parameters so the test
    can run narrow (the released model: 64, 128, 256, 512 and 4096, 4096, 128)."""

    def __init__(self, c=(64, 128, 256, 512), fc=(4096, 4096, 128)) -> None:
        super().__init__()
        layers, in_channels = [], 1
        for v in [c[0], "M", c[1], "M", c[2], c[2], "M", c[3], c[3], "M"]:
            if v == "M":
                layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
            else:
                layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.ReLU(True)]
                in_channels = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(c[3] * 4 * 6, fc[0]),
            nn.ReLU(True),
            nn.Linear(fc[0], fc[1]),
            nn.ReLU(True),
            nn.Linear(fc[1], fc[2]),
            nn.ReLU(True),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.transpose(x, 1, 3)
        x = torch.transpose(x, 1, 2)
        return self.embeddings(x.contiguous().view(x.size(0), -1))


NARROW = {"c": (4, 8, 8, 16), "fc": (32, 32, 12)}


def test_full_size_layout_matches_torchvggish_keys_and_shapes() -> None:
    with torch.device("meta"):
        ours, ref = VGGish(), TorchVGGishReference()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    assert "features.13.weight" in ours.state_dict() and "embeddings.4.bias" in ours.state_dict()


def test_loads_a_torchvggish_state_dict_file_and_reproduces_its_outputs(tmp_path: Path) -> None:
    ref = TorchVGGishReference(**NARROW).eval()
    state = {**ref.state_dict(), "pproc.pca_means": torch.zeros(12, 1)}
    torch.save(state, tmp_path / "vggish-10086976.pth")
    ours = VGGish(NARROW["c"], fc_dims=NARROW["fc"]).eval()
    load_torchvggish_state(ours, tmp_path / "vggish-10086976.pth")
    x = torch.randn(3, 1, 96, 64)
    torch.testing.assert_close(ours(x), ref(x))
    assert ours(x).shape == (3, 12)


def test_exposes_its_stages() -> None:
    ours = VGGish(NARROW["c"], fc_dims=NARROW["fc"]).eval()
    x = torch.randn(2, 1, 96, 64)
    groups = ours.conv_groups()
    assert len(groups) == 4 and ours.group_channels == tuple(NARROW["c"])
    h = x
    for group, width in zip(groups, ours.group_channels, strict=True):
        h = group(h)
        assert h.shape[1] == width
    torch.testing.assert_close(ours.forward_head(h), ours(x))


def test_wrong_state_dict_is_a_clear_error() -> None:
    ours = VGGish(NARROW["c"], fc_dims=NARROW["fc"])
    state = TorchVGGishReference(c=(4, 8, 8, 8), fc=NARROW["fc"]).state_dict()
    with pytest.raises(ValueError, match="torchvggish state dict does not match"):
        load_torchvggish_state(ours, state)
