from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hara_checkpoints import save_hara_checkpoint
from torch import nn
from torchvision.models.video import r3d_18
from torchvision.models.video.resnet import BasicBlock, Bottleneck

from emofuse.encoders import ResNet3D, hara_to_torchvision
from emofuse.encoders.weights import load_hara_checkpoint, load_r3d_18_state


def test_hara_stem_and_blocks() -> None:
    model = ResNet3D(50)
    conv, _, _, pool = model.stem
    assert conv.kernel_size == (7, 7, 7) and conv.stride == (1, 2, 2) and conv.padding == (3,) * 3
    assert isinstance(pool, nn.MaxPool3d) and pool.kernel_size == 3 and pool.stride == 2
    assert isinstance(model.layer3[0], Bottleneck) and len(model.layer3) == 6
    assert isinstance(ResNet3D(18).layer1[0], BasicBlock)
    assert not hasattr(model, "fc")


@pytest.mark.parametrize(("depth", "channels"), [(18, 16), (50, 64)])
def test_output_shape_matches_output_size(depth: int, channels: int) -> None:
    model = ResNet3D(depth, widths=(8, 8, 16, 16)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 8, 64, 64))
    assert out.shape == (1, channels, *model.output_size(8, 64))


def test_resnet101_paper_size_on_meta() -> None:
    with torch.device("meta"):
        model = ResNet3D(101)
        out = model(torch.empty(6, 3, 16, 224, 224))
    assert [len(model.layer1), len(model.layer2), len(model.layer3), len(model.layer4)] == [
        3,
        4,
        23,
        3,
    ]
    assert out.shape == (6, 2048, 1, 7, 7) and model.output_size(16, 224) == (1, 7, 7)


def test_remap_of_hara_keys() -> None:
    assert hara_to_torchvision("module.conv1.weight") == "stem.0.weight"
    assert hara_to_torchvision("module.bn1.running_var") == "stem.1.running_var"
    assert hara_to_torchvision("module.layer1.0.conv1.weight") == "layer1.0.conv1.0.weight"
    assert hara_to_torchvision("module.layer3.12.bn3.bias") == "layer3.12.conv3.1.bias"
    assert (
        hara_to_torchvision("module.layer1.0.downsample.0.weight") == "layer1.0.downsample.0.weight"
    )
    assert hara_to_torchvision("module.fc.weight") is None


@pytest.mark.parametrize("depth", [18, 50])
def test_loads_a_hara_checkpoint(depth: int, tmp_path: Path) -> None:
    source = ResNet3D(depth, widths=(8, 16, 16, 32)).eval()
    for buffer in source.buffers():  # give the batch-norm statistics non-default values
        if buffer.is_floating_point():
            buffer.uniform_(0.5, 1.5)
    path = tmp_path / f"r3d{depth}_K_200ep.pth"
    save_hara_checkpoint(source, path)
    saved = torch.load(path, weights_only=True)["state_dict"]
    assert {"module.conv1.weight", "module.bn1.running_mean", "module.layer1.0.bn1.weight"} <= set(
        saved
    )
    target = ResNet3D(depth, widths=(8, 16, 16, 32)).eval()
    load_hara_checkpoint(target, path)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value, rtol=0, atol=0)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x))


def test_loads_a_2017_checkpoint_without_batch_norm_counters(tmp_path: Path) -> None:
    # Hara et al.'s 2017 files (PyTorch 0.3) have no num_batches_tracked entries
    source = ResNet3D(50, widths=(8, 8, 16, 16)).eval()
    path = tmp_path / "resnet-50-kinetics.pth"
    save_hara_checkpoint(source, path)
    checkpoint = torch.load(path, weights_only=True)
    state = checkpoint["state_dict"]
    checkpoint["state_dict"] = {k: v for k, v in state.items() if "num_batches" not in k}
    assert len(checkpoint["state_dict"]) < len(state)
    torch.save(checkpoint, path)
    target = ResNet3D(50, widths=(8, 8, 16, 16)).eval()
    load_hara_checkpoint(target, path)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value, rtol=0, atol=0)


def test_wrong_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r3d18.pth"
    save_hara_checkpoint(ResNet3D(18, widths=(8, 8, 8, 8)), path)
    with pytest.raises(ValueError, match="does not match ResNet3D"):
        load_hara_checkpoint(ResNet3D(50, widths=(8, 8, 8, 8)), path)
    with pytest.raises(ValueError, match="stem"):
        load_hara_checkpoint(ResNet3D(18, widths=(8, 8, 8, 8), stem="r3d"), path)


def test_r3d_stem_takes_torchvision_kinetics_layout() -> None:
    with torch.device("meta"):  # keys and shapes only: the full-width nets are slow to build
        torchvision_model = r3d_18()
        model = ResNet3D(18, stem="r3d")
        load_r3d_18_state(model, torchvision_model.state_dict())
        stem = torchvision_model.stem
        assert [type(m) for m in model.stem] == [type(m) for m in stem]
        assert model.stem[0].kernel_size == stem[0].kernel_size == (3, 7, 7)
        with pytest.raises(ValueError, match="r3d_18"):
            load_r3d_18_state(ResNet3D(18), torchvision_model.state_dict())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="depth"):
        ResNet3D(42)
    with pytest.raises(ValueError, match="widths"):
        ResNet3D(18, widths=(8, 8))


def test_r3d_stem_with_torchvision_weights_computes_r3d_18_features() -> None:
    torchvision_model = r3d_18().eval()
    model = ResNet3D(18, stem="r3d").eval()
    load_r3d_18_state(model, torchvision_model.state_dict())
    tv = torchvision_model
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        expected = nn.Sequential(tv.stem, tv.layer1, tv.layer2, tv.layer3, tv.layer4)(x)
        torch.testing.assert_close(model(x), expected)
