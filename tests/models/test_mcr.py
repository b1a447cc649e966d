from __future__ import annotations

import json

import pytest
import torch
from helpers import assert_outputs_close, scramble_padding

import emofuse
from emofuse.labels import IEMOCAP_4
from emofuse.models.mcr import MCRConfig

ABLATIONS = [
    {},
    {"use_cmu": False},
    {"use_scu": False},
    {"use_mutual_attention": False},
    {"use_scu_attention_layer": False},
    {"source_update": "sum_no_gate"},
    {"source_update": "low_level"},
    {"source_update": "ffn_only"},
    {"structure": "serial"},
    {"structure": "serial", "use_cmu": False},
    {"modalities": ("text",)},
    {"modalities": ("audio",)},
    {"modalities": ("video", "audio")},
    {"modalities": ("audio", "text")},
    {"num_layers": 1},
]


def _ids(overrides: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in overrides.items()) or "full"


@pytest.mark.parametrize("overrides", ABLATIONS, ids=_ids)
def test_every_ablation_builds_trains_and_ignores_padding(overrides: dict) -> None:
    model = emofuse.build("mcr_tiny", **overrides).train()
    inputs = model.example_inputs(batch_size=2)
    out = model(**inputs)
    assert out.logits.shape == (2, 1) and out.embedding.shape == (2, model.config.d_model)
    (out.logits.square().mean() + out.embedding.square().mean()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, no_grad
    assert all(p.grad.isfinite().all() for p in model.parameters())
    model.eval()
    with torch.no_grad():
        assert_outputs_close(model(**inputs), model(**scramble_padding(inputs)))


def test_single_modality_model_takes_only_that_modality() -> None:
    model = emofuse.build("mcr_tiny", modalities=("text",)).eval()
    inputs = model.example_inputs()
    assert set(inputs) == {"text", "text_mask"}
    assert set(emofuse.model_info("mcr_tiny")["inputs"]) >= {"audio", "video_mask"}
    out = model(**inputs, return_attentions=True)
    # one modality: its own copy is its only source, so no mutual term (no alpha)
    assert {k for k in out.attentions if k.endswith(("alpha", "gamma"))} == {
        "reinforcement.layers.0.scu.text.gamma",
        "reinforcement.layers.1.scu.text.gamma",
    }
    extra = dict(inputs, audio=torch.randn(2, 7, 6))
    with pytest.raises(ValueError, match="audio"):
        model(**extra)


def test_attentions_carry_alpha_and_gamma_per_layer_and_target() -> None:
    model = emofuse.build("mcr_tiny").eval()
    inputs = model.example_inputs(batch_size=3)
    attentions = model(**inputs, return_attentions=True).attentions
    lens = dict(zip(("text", "video", "audio"), model.config.seq_lens, strict=True))
    for i in range(model.config.num_layers):
        for t in ("text", "video", "audio"):
            layer = f"reinforcement.layers.{i}"
            alpha = attentions[f"{layer}.cmu.{t}.alpha"]
            assert alpha.shape == (3, sum(v for m, v in lens.items() if m != t))
            torch.testing.assert_close(alpha.sum(-1), torch.ones(3))
            gamma = attentions[f"{layer}.scu.{t}.gamma"]
            assert gamma.shape == (3, 2)
            s1 = next(m for m in lens if m != t)
            cmu = attentions[f"{layer}.cmu.{t}.attention_0"]
            assert cmu.shape == (3, model.config.num_heads, lens[t], lens[s1])
    quiet = emofuse.build("mcr_tiny", use_mutual_attention=False, use_scu_attention_layer=False)
    maps = quiet.eval()(**inputs, return_attentions=True).attentions
    assert maps and not any(k.endswith(("alpha", "gamma")) for k in maps)


def test_inputs_must_have_the_fixed_lengths() -> None:
    model = emofuse.build("mcr_tiny").eval()
    inputs = model.example_inputs()
    longer = dict(inputs, video=torch.randn(2, 10, 5), video_mask=torch.ones(2, 10, dtype=bool))
    with pytest.raises(ValueError, match=r"video: expected shape \(B, 9, 5"):
        model(**longer)
    with pytest.raises(ValueError, match="audio"):
        model(**{k: v for k, v in inputs.items() if not k.startswith("audio")})


def test_padding_does_not_leak_through_the_convolution() -> None:
    """The step next to the last valid one feeds the kernel: it must be zeroed, not read."""
    model = emofuse.build("mcr_tiny", num_layers=1).eval()
    inputs = model.example_inputs()
    poked = {k: v.clone() for k, v in inputs.items()}
    poked["audio"][1, -1] = 1e3  # row 1 has its last step padded
    assert not inputs["audio_mask"][1, -1]
    with torch.no_grad():
        assert_outputs_close(model(**inputs), model(**poked))


def test_tasks_and_presets() -> None:
    assert emofuse.default_config("mcr").task == "regression"
    iemocap = emofuse.default_config("mcr_iemocap")
    assert iemocap.task == "multilabel"
    assert iemocap.label_names == IEMOCAP_4 and iemocap.num_classes == 4
    assert iemocap.kernel_sizes == (3, 3, 5) and iemocap.num_heads == 10
    assert iemocap.seq_lens == (20, 500, 400) and iemocap.num_layers == 3
    mosi = emofuse.default_config("mcr_mosi")
    assert (mosi.seq_lens, mosi.input_dims, mosi.num_heads, mosi.num_layers) == (
        (50, 500, 375),
        (300, 20, 5),
        10,
        3,
    )
    mosei = emofuse.default_config("mcr")
    assert (mosei.seq_lens, mosei.input_dims, mosei.d_model, mosei.num_heads, mosei.num_layers) == (
        (50, 500, 500),
        (300, 35, 74),
        40,
        8,
        4,
    )
    model = emofuse.build("mcr_tiny", task="multiclass", num_classes=4).eval()
    assert model(**model.example_inputs()).logits.shape == (2, 4)
    assert model.config.task == "multiclass"
    assert emofuse.build("mcr_tiny").config.task == "regression"
    spec_name = emofuse.default_config("mcr_tiny", task="classification", num_classes=4)
    assert spec_name.task == "multilabel"
    assert spec_name == MCRConfig.from_dict(json.loads(spec_name.to_json()))
    assert emofuse.model_info("mcr_iemocap")["task"] == "multilabel"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"seq_lens": (5, 6)}, "seq_lens"),
        ({"kernel_sizes": (3, 4, 3)}, "kernel_sizes"),
        ({"d_model": 9}, "d_model"),
        ({"num_layers": 0}, "num_layers"),
        ({"task": "ordinal"}, "task"),
        ({"num_classes": 3}, "num_classes"),
        ({"modalities": ()}, "modalities"),
        ({"modalities": ("text", "text")}, "modalities"),
        ({"modalities": ("speech",)}, "modalities"),
        ({"use_cmu": False, "use_scu": False}, "use_cmu"),
        ({"source_update": "gru"}, "source_update"),
        ({"structure": "zigzag"}, "structure"),
    ],
)
def test_config_rejects_bad_values(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        MCRConfig(**overrides)


def test_param_groups_follow_the_paper() -> None:
    model = emofuse.build("mcr_tiny")
    (group,) = model.param_groups(2e-3)
    assert group["lr"] == 2e-3 and len(group["params"]) == len(list(model.parameters()))


def test_padding_anywhere_in_the_fixed_length_is_ignored() -> None:
    """Masks may mark leading or inner steps as padding, not only a tail (the card's claim)."""
    model = emofuse.build("mcr_tiny").eval()
    inputs = model.example_inputs(batch_size=3)
    for m in ("text", "video", "audio"):
        mask = torch.ones_like(inputs[f"{m}_mask"])
        mask[1, :2] = False  # leading padding
        mask[2, 3] = False  # a hole
        inputs[f"{m}_mask"] = mask
    with torch.no_grad():
        out = model(**inputs, return_attentions=True)
        again = model(**scramble_padding(inputs), return_attentions=True)
    assert_outputs_close(out, again)
    alpha = out.attentions["reinforcement.layers.0.cmu.text.alpha"]
    assert (alpha[1, :2] == 0).all() and (alpha[2, 3] == 0).all()
