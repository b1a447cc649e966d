from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from emofuse import labels
from emofuse.hub import load_remapped, load_state_dict_file
from emofuse.outputs import EmotionOutput


def test_label_orders_follow_the_spec() -> None:
    assert labels.IEMOCAP_6 == ("anger", "excited", "frustrated", "happiness", "neutral", "sadness")
    assert labels.CMU_MOSEI_6 == ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
    assert labels.label_set("cmu_mosei_sdk_6") == labels.CMU_MOSEI_SDK_6
    assert sorted(labels.CMU_MOSEI_SDK_6) == list(labels.CMU_MOSEI_6)  # same emotions
    assert labels.RAVDESS_8[:3] == ("neutral", "calm", "happy") and len(labels.RAVDESS_8) == 8
    assert labels.label_set("IEMOCAP_4") == labels.IEMOCAP_4
    with pytest.raises(ValueError, match="label set"):
        labels.label_set("affectnet")


def test_polarity_table() -> None:
    assert labels.polarities(labels.RAVDESS_8) == (0, 1, 1, -1, -1, -1, -1, 1)
    assert labels.polarities(labels.IEMOCAP_6) == (-1, 1, -1, 1, 0, -1)
    assert labels.polarity("Surprise") == labels.POSITIVE
    for name in {n for s in labels.LABEL_SETS.values() for n in s}:
        labels.polarity(name)  # every label of every set has a polarity
    with pytest.raises(ValueError, match="polarity"):
        labels.polarity("boredom")


def test_emotion_output_is_a_mapping_of_present_fields() -> None:
    out = EmotionOutput(logits=torch.zeros(2, 3), embedding=torch.ones(2, 4))
    assert list(out) == ["logits", "embedding"] and len(out) == 2
    assert out["embedding"] is out.embedding
    with pytest.raises(KeyError):
        out["attentions"]
    leaves, _ = torch.utils._pytree.tree_flatten(out)
    assert len(leaves) == 2  # registered with pytree (torch.compile / export)


def test_load_state_dict_file_formats(tmp_path: Path) -> None:
    import safetensors.torch

    net = nn.Linear(3, 2)
    torch.save(
        {"state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, tmp_path / "a.pth"
    )
    safetensors.torch.save_file(net.state_dict(), str(tmp_path / "b.safetensors"))
    for name in ("a.pth", "b.safetensors"):
        state = load_state_dict_file(tmp_path / name)
        assert set(state) == {"weight", "bias"}
        torch.testing.assert_close(state["weight"], net.weight.detach())


def test_load_state_dict_file_refuses_pickled_objects(tmp_path: Path) -> None:
    torch.save({"weight": torch.zeros(1), "obj": Path("x")}, tmp_path / "evil.pth")
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        load_state_dict_file(tmp_path / "evil.pth")
    with pytest.raises(FileNotFoundError):
        load_state_dict_file(tmp_path / "missing.pth")


def test_load_remapped_renames_and_reports() -> None:
    src, dst = nn.Linear(3, 2), nn.Sequential(nn.Linear(3, 2))
    state = {"fc." + k: v for k, v in src.state_dict().items()} | {"head.weight": torch.zeros(1)}

    def rename(key: str) -> str | None:
        return None if key.startswith("head.") else key.replace("fc.", "0.")

    load_remapped(dst, state, rename)
    torch.testing.assert_close(dst[0].weight, src.weight)
    with pytest.raises(ValueError, match=r"missing \['0.bias'\]"):
        load_remapped(dst, {"0.weight": src.weight}, lambda k: k)
