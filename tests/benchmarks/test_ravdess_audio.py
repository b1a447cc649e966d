"""``benchmarks/ravdess_audio.py``'s wrappers train a model from cached stages: each equals the
model's own forward on the spectrograms the cache came from."""

from __future__ import annotations

import torch
from models.test_av_attention_fusion import MOBILENET_AUDIO
from torch import nn

import emofuse
from benchmarks.ravdess_audio import FromDescriptors, FromFrozenMaps


def test_training_from_frozen_maps_is_the_models_forward() -> None:
    """FromFrozenMaps on the maps of the frozen groups = forward on the segments (padded
    snippets included: their maps are never read), and only the later groups and the layers
    above them get gradients."""
    torch.manual_seed(0)
    model = emofuse.build("av_attention_fusion_tiny", **MOBILENET_AUDIO, audio_frozen_groups=7)
    model.eval()
    inputs = model.example_inputs(batch_size=2)
    stem = nn.Sequential(*model.audio_backbone.conv_groups()[:7])
    with torch.no_grad():
        maps = stem(inputs["audio"].flatten(0, 1)).unflatten(0, inputs["audio"].shape[:2])
    maps[~inputs["audio_mask"]] = float("nan")
    wrapper = FromFrozenMaps(model)
    got = wrapper(audio=maps, audio_mask=inputs["audio_mask"]).logits
    torch.testing.assert_close(got, model(**inputs).logits, atol=1e-5, rtol=1e-5)
    groups = {g["name"]: g["params"] for g in wrapper.param_groups(1e-3)}
    tuned = {id(p) for p in nn.Sequential(*model.audio_backbone.conv_groups()[7:]).parameters()}
    assert {id(p) for p in groups["audio_backbone"]} == tuned
    assert not {id(p) for p in groups["others"]} & {
        id(p) for p in model.audio_backbone.parameters()
    }


def test_training_from_descriptors_is_the_models_forward() -> None:
    model = emofuse.build("av_attention_fusion_tiny", **MOBILENET_AUDIO, freeze_audio_backbone=True)
    model.eval()
    inputs = model.example_inputs(batch_size=2)
    with torch.no_grad():
        descriptors = model.snippet_descriptors(**inputs)["audio"]
    got = FromDescriptors(model)(audio=descriptors, audio_mask=inputs["audio_mask"]).logits
    torch.testing.assert_close(got, model(**inputs).logits)
