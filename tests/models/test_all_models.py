"""The contract every registered model keeps. A model joins by registering itself: the tiny
variants run forward and backward here, every other variant is built on the meta device."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import safetensors.torch
import torch
from helpers import (
    append_padding,
    assert_outputs_close,
    masked_inputs,
    poison_padding,
    scattered_masks,
    scramble_padding,
)
from torch import nn

import emofuse
from emofuse.encoders.text import HFTextEncoder
from emofuse.layers import MultiHeadAttention, is_recording
from emofuse.outputs import EmotionOutput
from emofuse.registry import get_entry, library_models

TINY = emofuse.list_models("*_tiny")
# (model, input) for every input a tiny model may be called without
OPTIONAL = [
    (name, spec.name)
    for name in TINY
    for spec in get_entry(name).model_class.input_specs(emofuse.default_config(name))
    if not spec.required and spec.needs is None
]
FULL = [n for n in emofuse.list_models() if not n.endswith("_tiny")]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "models"


def _eval_model(name: str) -> emofuse.EmotionModel:
    return emofuse.build(name).eval()


def _expected_logit_shape(model: emofuse.EmotionModel, batch: int) -> tuple[int, int]:
    return (batch, model.config.num_classes)


@pytest.mark.parametrize("name", TINY)
def test_forward_backward_reaches_every_parameter(name: str) -> None:
    model = emofuse.build(name).train()
    out = model(**model.example_inputs(batch_size=2))
    loss = out.logits.square().mean()
    if out.embedding is not None:
        loss = loss + out.embedding.square().mean()
    for logits in (out.modality_logits or {}).values():
        loss = loss + logits.square().mean()
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without a gradient: {no_grad[:10]}"
    bad = [
        n for n, p in model.named_parameters() if p.grad is not None and not p.grad.isfinite().all()
    ]
    assert not bad, f"non-finite gradients: {bad[:10]}"


@pytest.mark.parametrize("name", TINY)
def test_output_contract(name: str) -> None:
    model = _eval_model(name)
    inputs = model.example_inputs(batch_size=3)
    with torch.no_grad():
        out = model(**inputs)
        out_att = model(**inputs, return_attentions=True)
    assert isinstance(out, EmotionOutput)
    assert out.logits.shape == _expected_logit_shape(model, 3)
    assert out.logits.isfinite().all()
    assert out.attentions is None
    if out.embedding is not None:
        assert out.embedding.shape[0] == 3 and out.embedding.dim() == 2
    for key, logits in (out.modality_logits or {}).items():
        assert logits.shape == out.logits.shape, key
    assert out_att.attentions, "return_attentions=True must return attention maps"
    for key, value in out_att.attentions.items():
        assert isinstance(value, torch.Tensor) and value.shape[0] == 3, key
        assert value.isfinite().all(), key
    assert dict(out)["logits"] is out.logits  # usable as a mapping


@pytest.mark.parametrize("name", TINY)
def test_example_inputs_are_valid_and_padded(name: str) -> None:
    model = _eval_model(name)
    inputs = model.example_inputs(batch_size=2)
    sizes = model.check_inputs(**inputs)
    assert sizes["B"] == 2
    masks = [inputs[f"{k}_mask"] for k in masked_inputs(inputs)]
    assert masks, "example_inputs must include masks"
    assert any((~m).any() for m in masks), "example_inputs must pad some steps"
    assert set(inputs) <= set(emofuse.model_info(name)["inputs"])
    assert set(emofuse.model_info(name)["required_inputs"]) <= set(inputs)


@pytest.mark.parametrize("name", TINY)
def test_example_inputs_follow_the_weights_dtype(name: str) -> None:
    """A model in float64 gets float64 example inputs (token ids and masks keep theirs), which
    its own input check accepts."""
    model = _eval_model(name).double()
    inputs = model.example_inputs(batch_size=2)
    for key, value in inputs.items():
        assert value.dtype == torch.float64 or not value.is_floating_point(), key
    with torch.no_grad():
        assert model(**inputs).logits.dtype == torch.float64


@pytest.mark.parametrize("name", TINY)
def test_padding_never_changes_an_output(name: str) -> None:
    model = _eval_model(name)
    inputs = model.example_inputs(batch_size=2)
    with torch.no_grad():
        reference = model(**inputs)
        assert_outputs_close(reference, model(**scramble_padding(inputs)))
        if not model.fixed_lengths:
            assert_outputs_close(reference, model(**append_padding(inputs)))


def _train_outputs_and_grads(
    model: nn.Module, inputs: dict[str, torch.Tensor]
) -> tuple[EmotionOutput, dict[str, torch.Tensor]]:
    """A training forward and backward, the same dropout draws for the same inputs."""
    model.zero_grad()
    torch.manual_seed(1)
    out = model(**inputs)
    loss = out.logits.square().sum()
    if out.embedding is not None:
        loss = loss + out.embedding.square().sum()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out, grads


@pytest.mark.parametrize("name", TINY)
def test_nonfinite_padding_anywhere_never_reaches_an_output_or_gradient(name: str) -> None:
    """NaN, inf and -inf in padded steps at the start, middle and end of every input (other
    random ids for token inputs) give the outputs and gradients of zeros there, in training
    and evaluation."""
    model = emofuse.build(name)
    inputs = scattered_masks(model.example_inputs(batch_size=4))
    clean, poisoned = poison_padding(inputs, 0.0, seed=3), poison_padding(inputs, seed=4)
    want, want_grads = _train_outputs_and_grads(model.train(), clean)
    got, got_grads = _train_outputs_and_grads(model, poisoned)
    assert got.logits.isfinite().all()
    assert_outputs_close(want, got)
    assert want_grads.keys() == got_grads.keys()
    for key, grad in got_grads.items():
        assert grad.isfinite().all(), key
        torch.testing.assert_close(grad, want_grads[key], atol=1e-5, rtol=1e-4, msg=key)
    model.eval()
    with torch.no_grad():
        want = model(**clean, return_attentions=True)
        got = model(**poisoned, return_attentions=True)
    assert_outputs_close(want, got)
    for key, attention in got.attentions.items():
        assert attention.isfinite().all(), key


@pytest.mark.parametrize(("name", "key"), OPTIONAL)
def test_all_padding_modality_row_equals_the_modality_left_out(name: str, key: str) -> None:
    """A modality whose row is all padding takes no part in that row: its outputs equal those
    of the row alone with the modality not given."""
    model = _eval_model(name)
    inputs = model.example_inputs(batch_size=2)
    inputs[f"{key}_mask"][1] = False
    inputs = poison_padding(inputs)
    row = {k: v[1:] for k, v in inputs.items() if k not in (key, f"{key}_mask")}
    with torch.no_grad():
        out = model(**inputs)
        alone = model(**row)
    torch.testing.assert_close(out.logits[1:], alone.logits, atol=1e-5, rtol=1e-4)
    if alone.embedding is not None:
        torch.testing.assert_close(out.embedding[1:], alone.embedding, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", TINY)
def test_empty_batch_gives_empty_outputs(name: str) -> None:
    model = _eval_model(name)
    with torch.no_grad():
        full = model(**model.example_inputs(batch_size=2), return_attentions=True)
        out = model(**model.example_inputs(batch_size=0), return_attentions=True)
    assert out.logits.shape == (0, *full.logits.shape[1:])
    if full.embedding is not None:
        assert out.embedding.shape == (0, *full.embedding.shape[1:])
    assert (out.modality_logits or {}).keys() == (full.modality_logits or {}).keys()
    for key, logits in (out.modality_logits or {}).items():
        assert logits.shape == (0, *full.modality_logits[key].shape[1:]), key
    assert out.attentions.keys() == full.attentions.keys()
    for key, attention in out.attentions.items():
        assert attention.shape == (0, *full.attentions[key].shape[1:]), key


def _batch_norm_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{buffer}": getattr(m, buffer).clone()
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for buffer in ("running_mean", "running_var", "num_batches_tracked")
    }


@pytest.mark.parametrize("name", TINY)
def test_training_with_a_single_valid_step_in_the_batch(name: str) -> None:
    """One valid frame in the whole batch: the frame CNNs' BatchNorm layers cannot estimate
    batch statistics, so they normalise with their running statistics and keep them."""
    model = emofuse.build(name).train()
    inputs = model.example_inputs(batch_size=2)
    for key in masked_inputs(inputs):
        inputs[f"{key}_mask"][:] = False
        inputs[f"{key}_mask"][0, 0] = True
    before = _batch_norm_state(model)
    out = model(**inputs)
    out.logits.square().sum().backward()
    assert out.logits.isfinite().all()
    assert all(m.training for m in model.modules())
    for key, value in _batch_norm_state(model).items():
        torch.testing.assert_close(value, before[key], msg=key)
    bad = [
        n for n, p in model.named_parameters() if p.grad is not None and not p.grad.isfinite().all()
    ]
    assert not bad, f"non-finite gradients: {bad[:10]}"


@pytest.mark.parametrize("name", TINY)
def test_all_padding_row_is_finite(name: str) -> None:
    model = _eval_model(name)
    inputs = model.example_inputs(batch_size=2)
    for key in masked_inputs(inputs):
        inputs[f"{key}_mask"][1] = False
    with torch.no_grad():
        out = model(**inputs, return_attentions=True)
    assert out.logits.isfinite().all()
    if out.embedding is not None:
        assert out.embedding.isfinite().all()
    bad = [k for k, v in (out.attentions or {}).items() if not v.isfinite().all()]
    assert not bad, f"non-finite maps for an all-padding row: {bad}"


@pytest.mark.parametrize("name", TINY)
def test_attentions_are_keyed_by_module_path_in_the_documented_layout(name: str) -> None:
    """Every attention that runs records (B, heads, T_query, T_key) under its module path,
    (B, T, heads, T_query, T_key) inside a frame CNN; other maps (fusion and pooling weights)
    under their module's path plus at most a short suffix."""
    model = _eval_model(name)
    inputs = model.example_inputs(batch_size=3)
    with torch.no_grad():
        maps = model(**inputs, return_attentions=True).attentions
    assert not is_recording(), "return_attentions must leave no recording behind"
    modules = dict(model.named_modules())
    attention = {p for p, m in modules.items() if isinstance(m, MultiHeadAttention)}
    assert attention <= set(maps), f"attentions that recorded nothing: {attention - set(maps)}"
    for key, value in maps.items():
        path = key if key in modules else key.rsplit(".", 1)[0]
        assert path in modules and path, f"{key}: not a module path (+ a suffix)"
        if key in attention:
            assert value.dim() in (4, 5) and value.shape[0] == 3, (key, value.shape)
            assert value.shape[-3] == modules[key].num_heads, (key, value.shape)
            sums = value.sum(-1)
            # each query's weights sum to one; rows of padded queries or steps are zero
            assert ((sums - 1).abs() < 1e-4).logical_or(sums == 0).all(), key


@pytest.mark.parametrize("name", TINY)
def test_bad_inputs_raise_value_error_naming_the_argument(name: str) -> None:
    model = _eval_model(name)
    inputs = model.example_inputs(batch_size=2)
    key = masked_inputs(inputs)[0]
    short = dict(inputs, **{f"{key}_mask": inputs[f"{key}_mask"][:, :-1]})
    with pytest.raises(ValueError, match=f"{key}_mask"):
        model(**short)
    wrong_dtype = dict(inputs, **{f"{key}_mask": inputs[f"{key}_mask"].float()})
    with pytest.raises(ValueError, match=f"{key}_mask"):
        model(**wrong_dtype)
    one_row = dict(inputs, **{key: inputs[key][:1], f"{key}_mask": inputs[f"{key}_mask"][:1]})
    with pytest.raises(ValueError, match=r"B = \d"):
        model(**one_row)
    squeezed = dict(inputs, **{key: inputs[key][0]})
    with pytest.raises(ValueError, match=key):
        model(**squeezed)
    floats = [k for k in masked_inputs(inputs) if inputs[k].is_floating_point()]
    for name in floats:
        double = dict(inputs, **{name: inputs[name].double()})
        with pytest.raises(ValueError, match=f"{name}: expected dtype torch.float32"):
            model(**double)
    meta = dict(inputs, **{key: inputs[key].to("meta")})
    with pytest.raises(ValueError, match=f"{key}: expected a tensor on cpu"):
        model(**meta)


@pytest.mark.parametrize("name", TINY)
def test_save_load_round_trip(name: str, tmp_path: Path) -> None:
    model = _eval_model(name)
    inputs = model.example_inputs(batch_size=2)
    model.save_pretrained(tmp_path)
    # a model with token-id text also carries its tokenizer (emofuse.transforms.for_model)
    has_text_encoder = any(isinstance(m, HFTextEncoder) for m in model.modules())
    tokenizer = {"tokenizer.json", "tokenizer_config.json"} if has_text_encoder else set()
    files = {"config.json", "model.safetensors", *tokenizer}
    assert {p.name for p in tmp_path.iterdir()} == files
    loaded = emofuse.build(name, pretrained=tmp_path).eval()
    assert loaded.config == model.config
    with torch.no_grad():
        assert_outputs_close(model(**inputs), loaded(**inputs), atol=0, rtol=0)
    again = type(model).from_pretrained(tmp_path, dropout=0.0)
    assert again.config.dropout == 0.0


# models whose modules moved into blocks in 0.2 (their 0.1 state-dict keys still load)
MOVED = ["av_attention_fusion_tiny", "mcr_tiny", "mer_sem_mbt_tiny"]


@pytest.mark.parametrize("name", MOVED)
def test_checkpoints_written_before_a_module_moved_still_load(name: str, tmp_path: Path) -> None:
    model = _eval_model(name)
    renames = type(model).legacy_state_dict_prefixes
    old_state = {}
    for key, value in model.state_dict().items():
        old = next((o for o, n in renames.items() if key.startswith(n)), None)
        old_state[key if old is None else old + key[len(renames[old]) :]] = value.clone()
    assert set(old_state) != set(model.state_dict()), "some keys must have moved"
    model.save_pretrained(tmp_path)
    safetensors.torch.save_file(old_state, str(tmp_path / "model.safetensors"))
    loaded = emofuse.build(name, pretrained=tmp_path).eval()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    fresh = emofuse.build(name)
    fresh.load_state_dict(old_state)  # strict: every old key finds its new place


@pytest.mark.parametrize("name", TINY)
def test_param_groups(name: str) -> None:
    model = emofuse.build(name)
    groups = model.param_groups(1e-3)
    seen: set[int] = set()
    own = {id(p) for p in model.parameters()}
    for group in groups:
        assert group["lr"] > 0 and group["params"]
        for p in group["params"]:
            assert id(p) in own and id(p) not in seen and p.requires_grad
            seen.add(id(p))
    torch.optim.Adam(groups)  # a real optimizer accepts them


@pytest.mark.parametrize("name", emofuse.list_models())
def test_model_info(name: str) -> None:
    info = emofuse.model_info(name)
    assert info["name"] == name and info["modalities"] and info["inputs"]
    assert info["task"] in {"multilabel", "multiclass", "regression"}
    assert info["default_config"] == emofuse.default_config(name).to_dict()
    if name in library_models():
        cite = info["citation"]
        assert cite and cite["doi"] and cite["year"] and cite["title"] and cite["authors"]


@pytest.mark.parametrize("name", FULL)
def test_paper_configuration_builds_on_meta(name: str) -> None:
    with torch.device("meta"):
        model = emofuse.build(name)
    params = list(model.parameters())
    assert params and all(p.is_meta for p in params)
    count = sum(p.numel() for p in params)
    assert count > 0
    entry = get_entry(name)
    if name in library_models():
        card = DOCS / f"{entry.model_class.__module__.rsplit('.', 1)[-1]}.md"
        assert card.is_file(), f"missing model card {card}"
        stated = {
            int(m.replace(",", "")) for m in re.findall(r"\d{1,3}(?:,\d{3})+", card.read_text())
        }
        assert count in stated, f"{card.name} does not state {name}'s parameter count {count:,}"
