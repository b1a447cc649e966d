from __future__ import annotations

import contextlib
import math

import pytest
import torch
from einops import einsum, rearrange
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

import emofuse
from emofuse.blocks import (
    CrossMutualUnit,
    ModalityReinforcementLayer,
    ModalityReinforcementStack,
    SelfCrossUnit,
    SourceUpdate,
    source_modalities,
)
from emofuse.layers import (
    MultiHeadAttention,
    masked_softmax,
    record,
    record_attentions,
    zero_padding,
)
from emofuse.validation import ensure_mask

DIM, HEADS = 8, 2
T_T, T_1, T_2 = 4, 5, 6


def _run(unit: nn.Module, *args: object) -> tuple:
    """The unit's output and the maps it records."""
    with record_attentions(unit) as maps:
        out = unit(*args)
    return out, maps


def _mask(batch: int, length: int, lengths: list[int]) -> torch.Tensor:
    return torch.arange(length)[None] < torch.tensor(lengths)[:, None]


def _scramble(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask[..., None], x, 100 * torch.randn_like(x))


def _silence_ffn(unit: nn.Module) -> None:
    """Zero the closing feed-forward branch so the unit's output is its attention sum."""
    last = unit.ffn.ffn[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)


def _cmu_inputs(batch: int = 2):
    target = torch.randn(batch, T_T, DIM)
    sources = [torch.randn(batch, T_1, DIM), torch.randn(batch, T_2, DIM)]
    masks = [_mask(batch, T_1, [5, 3]), _mask(batch, T_2, [6, 2])]
    return target, sources, masks


def test_source_modalities() -> None:
    assert source_modalities("text", ("text", "video", "audio")) == ("video", "audio")
    assert source_modalities("video", ("text", "video")) == ("text",)
    assert source_modalities("audio", ("audio",)) == ("audio",)


def test_cmu_without_mutual_term_is_layer_norm_plus_two_attentions() -> None:
    cmu = CrossMutualUnit(
        DIM, num_heads=HEADS, source_lens=(T_1, T_2), use_mutual_attention=False, dropout=0.0
    ).eval()
    _silence_ffn(cmu)
    target, sources, masks = _cmu_inputs()
    expected = cmu.norm_target(target)
    for i, (source, mask) in enumerate(zip(sources, masks, strict=True)):
        mha = MultiHeadAttention(DIM, num_heads=HEADS)
        mha.q_proj.load_state_dict(cmu.q_proj.state_dict())
        mha.k_proj.load_state_dict(cmu.k_proj[i].state_dict())
        mha.v_proj.load_state_dict(cmu.v_proj[i].state_dict())
        mha.out_proj.load_state_dict(cmu.out_proj[i].state_dict())
        z_s = cmu.norm_sources[i](source)
        expected = expected + mha(cmu.norm_target(target), z_s, key_padding_mask=mask)
    out, maps = _run(cmu, target, sources, masks)
    assert "alpha" not in maps and maps["attention_1"].shape == (2, HEADS, T_T, T_2)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


def test_cmu_mutual_term_matches_a_per_head_reference() -> None:
    """Eqs. 3–5 written out head by head and step by step."""
    cmu = CrossMutualUnit(DIM, num_heads=HEADS, source_lens=(T_1, T_2), dropout=0.0).eval()
    _silence_ffn(cmu)
    target, sources, masks = _cmu_inputs()
    out, maps = _run(cmu, target, sources, masks)
    alpha = maps["alpha"]
    hd = DIM // HEADS
    z_t = cmu.norm_target(target)
    q = cmu.q_proj(z_t)
    ks = [cmu.k_proj[i](cmu.norm_sources[i](s)) for i, s in enumerate(sources)]
    vs = [cmu.v_proj[i](cmu.norm_sources[i](s)) for i, s in enumerate(sources)]
    for b in range(2):
        valid = [m[b] for m in masks]
        sums = torch.cat([sources[i][b][valid[i]].sum(-1) for i in range(2)])
        a = torch.softmax(sums, 0)
        a_full = [torch.zeros(T_1), torch.zeros(T_2)]
        a_full[0][valid[0]] = a[: int(valid[0].sum())]
        a_full[1][valid[1]] = a[int(valid[0].sum()) :]
        torch.testing.assert_close(alpha[b], torch.cat(a_full), atol=1e-6, rtol=1e-5)
        expected = z_t[b].clone()
        contexts = [[], []]
        for h in range(HEADS):
            sl = slice(h * hd, (h + 1) * hd)
            e = [q[b, :, sl] @ ks[i][b, :, sl].T / math.sqrt(hd) for i in range(2)]
            e0 = [e[i] * valid[i] for i in range(2)]  # padded steps carry no score
            hat = [cmu.exchange[0](e0[0]), cmu.exchange[1](e0[1])]
            scores = [e[0] + a_full[0] * hat[1], e[1] + a_full[1] * hat[0]]
            for i in range(2):
                w = torch.softmax(scores[i].masked_fill(~valid[i], -1e9), -1)
                torch.testing.assert_close(maps[f"attention_{i}"][b, h], w)
                contexts[i].append(w @ vs[i][b, :, sl])
        for i in range(2):
            expected = expected + cmu.out_proj[i](torch.cat(contexts[i], -1))
        torch.testing.assert_close(out[b], expected, atol=1e-5, rtol=1e-4)


def test_cmu_mutual_term_changes_the_output_and_zero_exchange_removes_it() -> None:
    torch.manual_seed(1)
    cmu = CrossMutualUnit(DIM, num_heads=HEADS, source_lens=(T_1, T_2), dropout=0.0).eval()
    plain = CrossMutualUnit(
        DIM, num_heads=HEADS, source_lens=(T_1, T_2), use_mutual_attention=False, dropout=0.0
    ).eval()
    plain.load_state_dict(cmu.state_dict(), strict=False)
    target, sources, masks = _cmu_inputs()
    # same masks on both sides: only the α ⊙ Ê term may differ
    assert not torch.allclose(cmu(target, sources, masks), plain(target, sources, masks))
    with torch.no_grad():
        for ex in cmu.exchange:
            ex.weight.zero_()
            ex.bias.zero_()
    torch.testing.assert_close(cmu(target, sources, masks), plain(target, sources, masks))


def test_cmu_padding_invariance_and_alpha() -> None:
    cmu = CrossMutualUnit(DIM, num_heads=HEADS, source_lens=(T_1, T_2)).eval()
    target, sources, masks = _cmu_inputs()
    out, maps = _run(cmu, target, sources, masks)
    scrambled = [_scramble(s, m) for s, m in zip(sources, masks, strict=True)]
    out2, maps2 = _run(cmu, target, scrambled, masks)
    alpha, alpha2 = maps["alpha"], maps2["alpha"]
    torch.testing.assert_close(out2, out)
    torch.testing.assert_close(alpha2, alpha)
    valid = torch.cat(masks, 1)
    assert (alpha[~valid] == 0).all()
    torch.testing.assert_close(alpha.sum(-1), torch.ones(2))


def test_cmu_all_padded_sources_and_single_source_are_finite() -> None:
    cmu = CrossMutualUnit(DIM, num_heads=HEADS, source_lens=(T_1, T_2)).eval()
    target, sources, masks = _cmu_inputs()
    empty = [torch.zeros_like(m) for m in masks]
    out, maps = _run(cmu, target, sources, empty)
    assert out.isfinite().all() and all(m.isfinite().all() for m in maps.values())
    single = CrossMutualUnit(DIM, num_heads=HEADS, source_lens=(T_1,))
    assert not single.mutual
    out, maps = _run(single, target, sources[:1], masks[:1])
    assert out.shape == target.shape and "alpha" not in maps
    out.sum().backward()
    assert all(p.grad is not None for p in single.parameters())


def _reference_cmu_forward(
    cmu: CrossMutualUnit,
    target: Tensor,
    sources: list[Tensor],
    source_masks: list[Tensor | None] | None = None,
    target_mask: Tensor | None = None,
) -> Tensor:
    """CrossMutualUnit.forward as emofuse 0.2.0 computed it: the exchange Ê applied to the
    (B, heads, T_t, T_s) score maps, then a softmax and dropout on the weights."""
    source_masks = source_masks or [None] * len(sources)
    masks = [ensure_mask(m, s) for m, s in zip(source_masks, sources, strict=True)]
    sources = [zero_padding(s, m) for s, m in zip(sources, masks, strict=True)]
    target = zero_padding(target, target_mask)
    z_t = cmu.norm_target(target)
    q = rearrange(cmu.q_proj(z_t), "b t (h d) -> b h t d", h=cmu.num_heads)
    values, scores = [], []
    for i, source in enumerate(sources):
        z_s = cmu.norm_sources[i](source)
        k = rearrange(cmu.k_proj[i](z_s), "b s (h d) -> b h s d", h=cmu.num_heads)
        values.append(rearrange(cmu.v_proj[i](z_s), "b s (h d) -> b h s d", h=cmu.num_heads))
        scores.append(einsum(q, k, "b h t d, b h s d -> b h t s") * cmu.scale)
    valid = [m[:, None, None, :] for m in masks]
    if cmu.mutual:
        hat = [
            ex(e.masked_fill(~v, 0.0)) for ex, e, v in zip(cmu.exchange, scores, valid, strict=True)
        ]
        alpha = masked_softmax(
            torch.cat([s.sum(-1) for s in sources], dim=1), torch.cat(masks, dim=1)
        )
        record(cmu, alpha, "alpha")
        a1, a2 = alpha.split([s.shape[1] for s in sources], dim=1)
        scores = [
            scores[0] + a1[:, None, None, :] * hat[1],
            scores[1] + a2[:, None, None, :] * hat[0],
        ]
    out = z_t
    for i, (e, v, m, proj) in enumerate(zip(scores, values, valid, cmu.out_proj, strict=True)):
        weights = masked_softmax(e, m)
        record(cmu, weights, f"attention_{i}")
        context = rearrange(cmu.attn_dropout(weights) @ v, "b h t d -> b t (h d)")
        out = out + cmu.dropout(proj(context))
    return cmu.ffn(out)


def _grads(out: Tensor, tensors: list[Tensor], weight: Tensor) -> list[Tensor]:
    return list(torch.autograd.grad((out * weight).sum(), tensors, allow_unused=True))


@pytest.mark.parametrize("mutual", [True, False])
@pytest.mark.parametrize("recording", [False, True])
def test_cmu_equals_the_reference_in_float64(mutual: bool, recording: bool) -> None:
    """The exchange folded into the keys (and the fused attention) changes no output, map or
    gradient: float64, padding (an all-padded source row too) and training mode at dropout 0."""
    cmu = CrossMutualUnit(
        DIM, num_heads=HEADS, source_lens=(T_1, T_2), use_mutual_attention=mutual, dropout=0.0
    ).double()
    with torch.no_grad():  # the exchange's default init is small: make its term count
        for p in cmu.parameters():
            p.normal_(0.0, 0.5)
    target = torch.randn(3, T_T, DIM, dtype=torch.float64, requires_grad=True)
    sources = [torch.randn(3, t, DIM, dtype=torch.float64, requires_grad=True) for t in (T_1, T_2)]
    masks = [_mask(3, T_1, [5, 3, 0]), _mask(3, T_2, [6, 2, 4])]
    target_mask = _mask(3, T_T, [4, 2, 3])
    leaves = [target, *sources, *cmu.parameters()]
    weight = torch.randn(3, T_T, DIM, dtype=torch.float64)
    runs = []
    for forward in (CrossMutualUnit.forward, _reference_cmu_forward):
        with record_attentions(cmu) if recording else contextlib.nullcontext({}) as maps:
            out = forward(cmu, target, sources, masks, target_mask)
        runs.append((out, dict(maps), _grads(out, leaves, weight)))
    (out, maps, grads), (ref_out, ref_maps, ref_grads) = runs
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=1e-10)
    assert maps.keys() == ref_maps.keys()
    for key in maps:
        torch.testing.assert_close(maps[key], ref_maps[key], atol=1e-12, rtol=1e-10)
    for grad, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref, atol=1e-12, rtol=1e-10)


def test_mcr_equals_the_reference_cmu_in_float64(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole model, outputs and every gradient, against the same model running the
    reference CMU."""
    model = emofuse.build("mcr_tiny", dropout=0.0).double().train()
    inputs = model.example_inputs(3, generator=torch.Generator().manual_seed(0))
    inputs = {k: v.double() if v.is_floating_point() else v for k, v in inputs.items()}
    params = list(model.parameters())
    runs = []
    for forward in (CrossMutualUnit.forward, _reference_cmu_forward):
        monkeypatch.setattr(CrossMutualUnit, "forward", forward)
        out = model(**inputs)
        loss = out.logits.square().sum() + out.embedding.sum()
        runs.append((out.logits, torch.autograd.grad(loss, params)))
    (logits, grads), (ref_logits, ref_grads) = runs
    torch.testing.assert_close(logits, ref_logits, atol=1e-12, rtol=1e-10)
    for grad, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref, atol=1e-12, rtol=1e-10)


def test_cmu_exchange_costs_less_than_its_attention_at_mosei_sizes() -> None:
    """The mutual term must not cost heads · T_t · T_s1 · T_s2: at MCR's MOSEI lengths it
    adds less than the two plain attentions cost (counted on the meta device)."""
    flops = {}
    with torch.device("meta"):
        target, sources = torch.randn(8, 500, 40), [torch.randn(8, 500, 40)] * 2
        masks = [torch.ones(8, 500, dtype=torch.bool)] * 2
        for mutual in (True, False):
            cmu = CrossMutualUnit(
                40, num_heads=8, source_lens=(500, 500), use_mutual_attention=mutual
            )
            with FlopCounterMode(display=False) as counter:
                cmu(target, sources, masks)
            flops[mutual] = counter.get_total_flops()
    assert flops[True] < 2 * flops[False], flops


def test_cmu_dropout_keeps_the_expected_output() -> None:
    """Dropout on the attention weights and branches, averaged over many draws, gives the
    output without dropout (the unit is linear in them once the FFN is silenced), and each
    draw differs."""
    cmu = CrossMutualUnit(DIM, num_heads=HEADS, source_lens=(T_1, T_2), dropout=0.3).double()
    _silence_ffn(cmu)
    target, sources, masks = _cmu_inputs()
    target, sources = target.double(), [s.double() for s in sources]
    expected = cmu.eval()(target, sources, masks)
    cmu.train()
    with torch.no_grad():
        draws = torch.stack([cmu(target, sources, masks) for _ in range(4000)])
    assert not torch.allclose(draws[0], draws[1])
    spread = draws.std(0) / math.sqrt(len(draws))
    assert ((draws.mean(0) - expected).abs() <= 5 * spread + 1e-9).all()


def test_cmu_needs_one_or_two_sources() -> None:
    with pytest.raises(ValueError, match="source_lens"):
        CrossMutualUnit(DIM, num_heads=HEADS, source_lens=(3, 4, 5))
    with pytest.raises(ValueError, match="d_model"):
        CrossMutualUnit(9, num_heads=HEADS, source_lens=(3, 4))


def test_scu_gamma_is_softmax_of_branch_scores() -> None:
    scu = SelfCrossUnit(DIM, num_heads=HEADS, dropout=0.0).eval()
    _silence_ffn(scu)
    t_mask, s_mask = _mask(2, T_T, [4, 2]), _mask(2, T_1 + T_2, [11, 7])
    # zeros at padded steps, as the unit selects them before anything else
    target = torch.randn(2, T_T, DIM).masked_fill(~t_mask[..., None], 0.0)
    source = torch.randn(2, T_1 + T_2, DIM).masked_fill(~s_mask[..., None], 0.0)
    out, maps = _run(scu, target, source, t_mask, s_mask)
    gamma = maps["gamma"]
    assert maps["cross_attn"].shape == (2, HEADS, T_T, T_1 + T_2)
    z_t = scu.norm_target(target)
    cross = scu.cross_attn(z_t, scu.norm_source(source), key_padding_mask=s_mask)
    self_ = scu.self_attn(z_t, key_padding_mask=t_mask)
    beta = torch.stack(
        [
            (scu.branch_score(proj(x)).squeeze(-1) * t_mask).sum(-1)
            for proj, x in zip(scu.branch_proj, (cross, self_), strict=True)
        ],
        -1,
    )
    torch.testing.assert_close(gamma, beta.softmax(-1))
    expected = gamma[:, :1, None] * cross + gamma[:, 1:, None] * self_
    torch.testing.assert_close(out, expected)


def test_scu_without_attention_layer_sums_branches() -> None:
    scu = SelfCrossUnit(DIM, num_heads=HEADS, use_attention_layer=False, dropout=0.0).eval()
    _silence_ffn(scu)
    target, source = torch.randn(2, T_T, DIM), torch.randn(2, T_1, DIM)
    out, maps = _run(scu, target, source)
    z_t = scu.norm_target(target)
    expected = scu.cross_attn(z_t, scu.norm_source(source)) + scu.self_attn(z_t)
    assert "gamma" not in maps
    torch.testing.assert_close(out, expected)


def test_scu_padding_invariance_with_appended_steps() -> None:
    scu = SelfCrossUnit(DIM, num_heads=HEADS).eval()
    target, source = torch.randn(2, T_T, DIM), torch.randn(2, T_1, DIM)
    t_mask, s_mask = _mask(2, T_T, [4, 2]), _mask(2, T_1, [5, 3])
    out, maps = _run(scu, target, source, t_mask, s_mask)
    pad = torch.zeros(2, 3, dtype=torch.bool)
    out2, maps2 = _run(
        scu,
        torch.cat([_scramble(target, t_mask), torch.randn(2, 3, DIM)], 1),
        torch.cat([_scramble(source, s_mask), torch.randn(2, 3, DIM)], 1),
        torch.cat([t_mask, pad], 1),
        torch.cat([s_mask, pad], 1),
    )
    torch.testing.assert_close(maps2["gamma"], maps["gamma"])
    torch.testing.assert_close(out2[:, :T_T][t_mask], out[t_mask])


MODS = ("text", "video", "audio")
LENS = {"text": 4, "video": 5, "audio": 6}


def _streams(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {m: torch.randn(2, t, DIM, generator=g) for m, t in LENS.items()}


def test_source_update_gate_follows_eqs_13_to_16() -> None:
    update = SourceUpdate(DIM, modalities=MODS, dropout=0.0).eval()
    sources, targets = _streams(0), _streams(1)
    with torch.no_grad():
        for m in MODS:
            update.gate_source[m].weight.zero_()
            update.gate_target[m].weight.zero_()
            update.gate_source[m].bias.fill_(-30.0)  # μ ≈ 0: keep tanh(Z_m) only
    new, combined = update(sources, targets)
    for m in MODS:
        torch.testing.assert_close(new[m], torch.tanh(targets[m]))
    cat = torch.cat([new["video"], new["audio"]], 1)
    expected = torch.sigmoid(update.combine["text"](cat)) * torch.tanh(cat)
    torch.testing.assert_close(combined["text"], expected)
    with torch.no_grad():
        for m in MODS:
            update.gate_source[m].bias.fill_(30.0)  # μ ≈ 1: keep FFN(S_m) only
    new, _ = update(sources, targets)
    torch.testing.assert_close(new["audio"], update.ffn["audio"](sources["audio"]))


def test_source_update_matches_eqs_13_to_16_written_out() -> None:
    """Random weights, μ strictly inside (0, 1): the gate reads FFN(S_m) and Z_m (eq. 13)."""
    torch.manual_seed(3)
    update = SourceUpdate(DIM, modalities=MODS, dropout=0.0).eval()
    sources, targets = _streams(0), _streams(1)
    new, combined = update(sources, targets)
    expected = {}
    for m in MODS:
        hat = update.ffn[m](sources[m])
        w_hat, b = update.gate_source[m].weight, update.gate_source[m].bias
        mu = torch.sigmoid(hat @ w_hat.T + targets[m] @ update.gate_target[m].weight.T + b)
        assert ((mu > 0.01) & (mu < 0.99)).float().mean() > 0.5
        expected[m] = (1 - mu) * torch.tanh(targets[m]) + mu * hat
        torch.testing.assert_close(new[m], expected[m])
    for t in MODS:
        cat = torch.cat([expected[s] for s in source_modalities(t, MODS)], 1)
        phi = torch.sigmoid(cat @ update.combine[t].weight.T + update.combine[t].bias)
        torch.testing.assert_close(combined[t], phi * torch.tanh(cat))


@pytest.mark.parametrize("mode", ["sum", "sum_no_gate", "low_level", "ffn_only"])
def test_source_update_modes(mode: str) -> None:
    update = SourceUpdate(DIM, modalities=MODS, mode=mode, dropout=0.0)
    sources, targets = _streams(0), _streams(1)
    new, combined = update(sources, targets)
    for t in MODS:
        assert new[t].shape == sources[t].shape
        width = sum(LENS[s] for s in source_modalities(t, MODS))
        assert combined[t].shape == (2, width, DIM)
    if mode == "low_level":
        assert all(new[m] is sources[m] for m in MODS)
        assert not list(update.parameters())
        torch.testing.assert_close(
            combined["video"], torch.cat([sources["text"], sources["audio"]], 1)
        )
    elif mode == "ffn_only":
        torch.testing.assert_close(new["text"], update.ffn["text"](sources["text"]))
    elif mode == "sum_no_gate":
        torch.testing.assert_close(
            new["text"], update.ffn["text"](sources["text"]) + targets["text"]
        )
    with pytest.raises(ValueError, match="mode"):
        SourceUpdate(DIM, modalities=MODS, mode="gru")


def _layer_inputs(modalities=MODS):
    streams = _streams(2)
    masks = {m: _mask(2, LENS[m], [LENS[m], 2]) for m in modalities}
    # zeros at padded steps, as the units select them before anything else
    targets = {m: streams[m].masked_fill(~masks[m][..., None], 0.0) for m in modalities}
    sources = {m: t.clone() for m, t in targets.items()}
    combined = {
        t: torch.cat([sources[s] for s in source_modalities(t, modalities)], 1) for t in modalities
    }
    return targets, sources, combined, masks


@pytest.mark.parametrize("structure", ["parallel", "serial"])
@pytest.mark.parametrize("units", [(True, True), (True, False), (False, True)])
def test_layer_runs_every_structure(structure: str, units: tuple[bool, bool]) -> None:
    lens = {m: LENS[m] for m in MODS}
    layer = ModalityReinforcementLayer(
        DIM, num_heads=HEADS, seq_lens=lens, structure=structure, use_cmu=units[0], use_scu=units[1]
    ).eval()
    targets, sources, combined, masks = _layer_inputs()
    (new_t, new_s, _), weights = _run(layer, targets, sources, combined, masks)
    for m in MODS:
        assert new_t[m].shape == targets[m].shape and new_s[m].shape == sources[m].shape
    assert ("cmu.text.alpha" in weights) == units[0]
    assert ("scu.audio.gamma" in weights) == units[1]
    if units[0]:
        assert weights["cmu.text.alpha"].shape == (2, LENS["video"] + LENS["audio"])


def test_serial_structure_feeds_cmu_into_scu() -> None:
    lens = {m: LENS[m] for m in MODS}
    parallel = ModalityReinforcementLayer(
        DIM, num_heads=HEADS, seq_lens=lens, source_update=None
    ).eval()
    serial = ModalityReinforcementLayer(
        DIM, num_heads=HEADS, seq_lens=lens, structure="serial", source_update=None
    ).eval()
    serial.load_state_dict(parallel.state_dict())
    targets, sources, combined, masks = _layer_inputs()
    out_p = parallel(targets, sources, combined, masks)[0]["text"]
    out_s, new_sources = serial(targets, sources, combined, masks)[:2]
    z_a = parallel.cmu["text"](
        targets["text"],
        [sources["video"], sources["audio"]],
        [masks["video"], masks["audio"]],
    )
    mask = torch.cat([masks["video"], masks["audio"]], 1)
    expected = parallel.scu["text"](z_a, combined["text"], masks["text"], mask)
    torch.testing.assert_close(out_s["text"], expected)
    assert not torch.allclose(out_s["text"], out_p)
    assert new_sources["text"] is sources["text"]  # no update configured


def test_parallel_layer_sums_units_and_updates_sources_from_new_targets() -> None:
    """Z_t ← CMU + SCU over the old sources; SUM then reads the reinforced Z_m (eq. 12)."""
    lens = {m: LENS[m] for m in MODS}
    layer = ModalityReinforcementLayer(DIM, num_heads=HEADS, seq_lens=lens, dropout=0.0).eval()
    targets, sources, combined, masks = _layer_inputs()
    new_t, new_s, new_c = layer(targets, sources, combined, masks)
    for t in MODS:
        srcs = source_modalities(t, MODS)
        z_a = layer.cmu[t](targets[t], [sources[s] for s in srcs], [masks[s] for s in srcs])
        mask = torch.cat([masks[s] for s in srcs], 1)
        z_b = layer.scu[t](targets[t], combined[t], masks[t], mask)
        torch.testing.assert_close(new_t[t], z_a + z_b)
    expected_s, expected_c = layer.update(sources, new_t)
    for m in MODS:
        torch.testing.assert_close(new_s[m], expected_s[m])
        torch.testing.assert_close(new_c[m], expected_c[m])
    stale_s, _ = layer.update(sources, targets)
    assert not torch.allclose(new_s["text"], stale_s["text"])


def test_layer_with_one_modality_attends_within_it() -> None:
    layer = ModalityReinforcementLayer(
        DIM, num_heads=HEADS, seq_lens={"audio": LENS["audio"]}
    ).eval()
    targets, sources, combined, masks = _layer_inputs(("audio",))
    (new_t, _, new_c), weights = _run(layer, targets, sources, combined, masks)
    assert new_t["audio"].shape == targets["audio"].shape
    assert new_c["audio"].shape == sources["audio"].shape
    assert "cmu.audio.alpha" not in weights  # one source: no partner to exchange with
    assert weights["scu.audio.gamma"].shape == (2, 2)


def test_layer_needs_a_unit() -> None:
    with pytest.raises(ValueError, match="use_cmu"):
        ModalityReinforcementLayer(
            DIM, num_heads=HEADS, seq_lens=LENS, use_cmu=False, use_scu=False
        )
    with pytest.raises(ValueError, match="structure"):
        ModalityReinforcementLayer(DIM, num_heads=HEADS, seq_lens=LENS, structure="zigzag")


def test_stack_starts_sources_as_the_targets_and_updates_all_but_the_last_layer() -> None:
    """The starting state (sec. 3.3): source copies = the targets, SCU sources = their plain
    concatenation; then layer after layer, the last without a source update."""
    lens = {m: LENS[m] for m in MODS}
    stack = ModalityReinforcementStack(
        DIM, num_heads=HEADS, seq_lens=lens, num_layers=3, dropout=0.0
    ).eval()
    assert [layer.update is None for layer in stack.layers] == [False, False, True]
    targets, _, _, masks = _layer_inputs()
    sources = dict(targets)
    combined = {t: torch.cat([sources[s] for s in source_modalities(t, MODS)], 1) for t in MODS}
    expected = targets
    for layer in stack.layers:
        expected, sources, combined = layer(expected, sources, combined, masks)
    with record_attentions(stack) as maps:
        out = stack(targets, masks)
    for m in MODS:
        torch.testing.assert_close(out[m], expected[m])
    assert maps["layers.2.cmu.text.alpha"].shape == (2, LENS["video"] + LENS["audio"])
    with pytest.raises(ValueError, match="num_layers"):
        ModalityReinforcementStack(DIM, num_heads=HEADS, seq_lens=lens, num_layers=0)
