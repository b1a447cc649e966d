"""Target and source modality co-reinforcement (Yang et al. 2023, sec. 3.3–3.4).

Each target modality ``t`` is reinforced by the other modalities (its *sources*) in two ways:
the cross-mutual unit :class:`CrossMutualUnit` (fine-grained, one attention per source, the two
attentions sharing information) and the self-cross unit :class:`SelfCrossUnit` (mixed-grained,
attention to the concatenated sources beside self-attention). :class:`SourceUpdate` then updates
every source copy from the same modality's reinforced target stream.
:class:`ModalityReinforcementLayer` runs all of it for every target, and
:class:`ModalityReinforcementStack` stacks the layers from their starting state.

With a single modality, the modality's own source copy is its only source, so both units reduce
to attention within the modality (sec. 4.5.1); with two modalities each target has one source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal, get_args

import torch
from einops import einsum, rearrange
from torch import Tensor, nn

from emofuse.config import check_choice
from emofuse.layers import (
    FeedForward,
    MultiHeadAttention,
    masked_softmax,
    record,
    scaled_dot_product,
    zero_padding,
)
from emofuse.validation import ensure_mask

SourceUpdateMode = Literal["sum", "sum_no_gate", "low_level", "ffn_only"]
Structure = Literal["parallel", "serial"]
SOURCE_UPDATES: tuple[SourceUpdateMode, ...] = get_args(SourceUpdateMode)
STRUCTURES: tuple[Structure, ...] = get_args(Structure)


def source_modalities(target: str, modalities: Sequence[str]) -> tuple[str, ...]:
    """The sources of ``target``: every other modality, or ``target`` itself when it is alone."""
    others = tuple(m for m in modalities if m != target)
    return others or (target,)


class _ResidualFeedForward(nn.Module):
    """``x + Drop(FFN(LN(x)))``: the position-wise feed-forward layer with a skip that closes
    both target units."""

    def __init__(self, d_model: int, *, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, ffn_dim=ffn_dim, dropout=dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.dropout(self.ffn(self.norm(x)))


class CrossMutualUnit(nn.Module):
    """Cross-mutual attention reinforcement unit CMU_{s1,s2→t} (Yang et al. 2023, eqs. 2–5).

    ``Q = LN(Z_t) W_Q``, ``K_s = LN(Z_s) W_K_s``, ``V_s = LN(Z_s) W_V_s`` and, per head,
    ``E_{s→t} = Q K_sᵀ / √d_head``. With two sources the attentions exchange information: a
    learned map of each score matrix along its source axis, ``Ê_{s1→t}`` (T_s1 → T_s2) and
    ``Ê_{s2→t}`` (T_s2 → T_s1) — the paper's "1D convolution" with kernel 1, i.e. a linear map of
    that axis, shared by heads and target steps — is added to the other source's scores,
    weighted by the selective weights ``α = softmax([Z_s1; Z_s2] · 1)`` over both sources' valid
    steps (eq. 3): ``Z_{s1→t} = softmax(E_{s1→t} + α_s1 ⊙ Ê_{s2→t}) V_s1`` (eqs. 4–5).
    Then ``Z_t,a = LN(Z_t) + Z_{s1→t} + Z_{s2→t}`` and a pre-norm feed-forward layer with a skip.

    Args:
        d_model: width of target and sources.
        num_heads: attention heads (``d_model`` must divide by it).
        source_lens: (T_s1,) or (T_s1, T_s2), the fixed source lengths the exchange maps between.
        use_mutual_attention: add the α ⊙ Ê term (needs two sources); False gives plain
            cross-modal attention per source (table 5, "w/o mutual attention").
        ffn_dim: hidden width of the feed-forward layer (default ``4 * d_model``).
        dropout: on the attention weights and the residual branches.

    Inputs:
        target: (B, T_t, d_model); sources: one or two (B, T_s, d_model) with T_s = ``source_lens``;
        source_masks: one (B, T_s) bool per source, True = valid; target_mask: (B, T_t) bool
        or None. Queries need no mask: a padded target step only produces an output that
        later steps ignore; with ``target_mask`` it is zeroed first, so that NaN or inf there
        stays out of the output.
    Returns:
        Z_t,a (B, T_t, d_model). Padded source steps change nothing, even when they hold NaN or
        inf; a sample with no valid source step gets ``LN(Z_t)`` alone from the attention.
    Records:
        ``attention_<i>``: the attention of the target over source i (B, heads, T_t, T_s_i),
        i = 0, 1; ``alpha``: the selective weights α (B, T_s1 + T_s2) when the mutual term is
        used.

    Raises:
        ValueError: not one or two ``source_lens``, or ``d_model`` not divisible by
            ``num_heads``.
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        source_lens: Sequence[int],
        use_mutual_attention: bool = True,
        ffn_dim: int | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if len(source_lens) not in (1, 2):
            raise ValueError(f"source_lens: expected one or two lengths, got {list(source_lens)}")
        if d_model % num_heads:
            raise ValueError(f"d_model: {d_model} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.scale = 1.0 / math.sqrt(d_model // num_heads)
        self.mutual = use_mutual_attention and len(source_lens) == 2
        n = len(source_lens)
        self.norm_target = nn.LayerNorm(d_model)
        self.norm_sources = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n))
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n))
        self.v_proj = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n))
        self.out_proj = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n))
        if self.mutual:
            t1, t2 = source_lens
            # exchange[0] is Ê_{s1→t} (T_s1 → T_s2), exchange[1] is Ê_{s2→t} (T_s2 → T_s1).
            self.exchange = nn.ModuleList([nn.Linear(t1, t2), nn.Linear(t2, t1)])
        self.attn_dropout = nn.Dropout(dropout)
        self.dropout = nn.Dropout(dropout)
        self.ffn = _ResidualFeedForward(d_model, ffn_dim=ffn_dim or 4 * d_model, dropout=dropout)

    def forward(
        self,
        target: Tensor,
        sources: Sequence[Tensor],
        source_masks: Sequence[Tensor | None] | None = None,
        target_mask: Tensor | None = None,
    ) -> Tensor:
        source_masks = source_masks or [None] * len(sources)
        masks = [ensure_mask(m, s) for m, s in zip(source_masks, sources, strict=True)]
        # select, never multiply: NaN or inf in padded steps must reach no score or product
        sources = [zero_padding(s, m) for s, m in zip(sources, masks, strict=True)]
        target = zero_padding(target, target_mask)
        z_t = self.norm_target(target)
        q = rearrange(self.q_proj(z_t), "b t (h d) -> b h t d", h=self.num_heads)
        keys, values = [], []
        for i, source in enumerate(sources):
            z_s = self.norm_sources[i](source)
            keys.append(rearrange(self.k_proj[i](z_s), "b s (h d) -> b h s d", h=self.num_heads))
            values.append(rearrange(self.v_proj[i](z_s), "b s (h d) -> b h s d", h=self.num_heads))
        biases: list[Tensor | None] = [None] * len(sources)
        if self.mutual:
            alpha = masked_softmax(
                torch.cat([s.sum(-1) for s in sources], dim=1), torch.cat(masks, dim=1)
            )
            record(self, alpha, "alpha")
            keys, biases = self._exchange(keys, masks, alpha)
        dropout = self.attn_dropout.p if self.training else 0.0
        out = z_t
        for i, (k, v, m, bias, proj) in enumerate(
            zip(keys, values, masks, biases, self.out_proj, strict=True)
        ):
            context = scaled_dot_product(
                q,
                k,
                v,
                mask=m[:, None, None, :],  # broadcast over heads and target steps
                bias=bias,
                dropout_p=dropout,
                scale=self.scale,
                recorder=(self, f"attention_{i}"),
            )
            out = out + self.dropout(proj(rearrange(context, "b h t d -> b t (h d)")))
        return self.ffn(out)

    def _exchange(
        self, keys: Sequence[Tensor], masks: Sequence[Tensor], alpha: Tensor
    ) -> tuple[list[Tensor], list[Tensor | None]]:
        """The mutual term ``α ⊙ Ê`` of eqs. 4–5, folded into the keys and a score bias.

        The exchange is linear along the source axis, so with ``W``, ``b`` the weight and bias
        of ``Ê_{s2→t}`` (T_s2 → T_s1) and ``K̃_s2`` the keys of s2 with padded steps zeroed,
        ``E_{s1→t} + α_s1 ⊙ Ê_{s2→t} = Q (K_s1 + α_s1 ⊙ W K̃_s2)ᵀ / √d_head + α_s1 ⊙ b``
        (likewise for s2): the (B, heads, T_t, T_s) maps of ``Ê`` are never built, and the
        exchange costs T_s1 · T_s2 · d_model multiply-adds per sample instead of
        T_t · T_s1 · T_s2 · heads.

        Inputs:
            keys: (B, heads, T_s, d_head) per source; masks: (B, T_s) bool per source;
            alpha: (B, T_s1 + T_s2) the selective weights.
        Returns:
            (keys, score biases (B, 1, 1, T_s)) of each source.
        """
        lengths = [k.shape[2] for k in keys]
        weights = alpha.split(lengths, dim=1)
        # padded source steps hold arbitrary scores; they must not enter the exchange
        hidden = [
            torch.where(m[:, None, :, None], k, 0.0) for k, m in zip(keys, masks, strict=True)
        ]
        new_keys, biases = [], []
        # source i receives the exchange of the other source j: Ê_{j→t} maps T_j → T_i
        for i, j in ((0, 1), (1, 0)):
            exchange, a = self.exchange[j], weights[i]
            moved = einsum(exchange.weight, hidden[j], "s r, b h r d -> b h s d")
            new_keys.append(keys[i] + a[:, None, :, None] * moved)
            biases.append((a * exchange.bias)[:, None, None, :])
        return new_keys, biases


class SelfCrossUnit(nn.Module):
    """Self-cross attention reinforcement unit SCU_{[s1,s2]→t} (Yang et al. 2023, eqs. 6–11).

    A cross branch ``Z_{ds→t} = MHA(LN(Z_t), LN(Z_ds))`` over the (gated, concatenated) sources
    and a self branch ``Z'_t = MHA(LN(Z_t))`` (eqs. 7–8), fused by the attention layer: a score
    per branch ``β_* = Σ_{valid steps} uᵀ(W_* z + b_*)`` with ``W_*`` per branch and ``u``
    shared (eq. 9), ``γ = softmax(β)`` over the two branches (eq. 10) and
    ``Z_t,b = γ_cross Z_{ds→t} + γ_self Z'_t`` (eq. 11); then a pre-norm feed-forward layer
    with a skip. The paper's ``W_*`` is a (T_t·d)² matrix over the flattened sequence; this is
    that matrix restricted to a block diagonal of tied (d × d) blocks, so any length works.

    Args:
        d_model: width; num_heads: attention heads.
        use_attention_layer: fuse with γ; False sums the two branches (table 5, "w/o attention
            layer").
        ffn_dim: hidden width of the feed-forward layer (default ``4 * d_model``).
        dropout: on the attention weights and the residual branches.

    Inputs:
        target: (B, T_t, d_model); source: (B, T_ds, d_model); target_mask: (B, T_t) bool;
        source_mask: (B, T_ds) bool; True = valid.
    Returns:
        Z_t,b (B, T_t, d_model). Padded steps never reach an output, even when they hold NaN or
        inf.
    Records:
        ``gamma``: γ (B, 2) as (cross, self) when ``use_attention_layer``; and through its
        attentions ``cross_attn`` (B, heads, T_t, T_ds) and ``self_attn`` (B, heads, T_t, T_t).
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        use_attention_layer: bool = True,
        ffn_dim: int | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.norm_target, self.norm_source = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.cross_attn = MultiHeadAttention(d_model, num_heads=num_heads, dropout=dropout)
        self.self_attn = MultiHeadAttention(d_model, num_heads=num_heads, dropout=dropout)
        self.use_attention_layer = use_attention_layer
        if use_attention_layer:
            self.branch_proj = nn.ModuleList(
                [nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)]
            )
            self.branch_score = nn.Linear(d_model, 1, bias=False)  # u, shared by both branches
        self.dropout = nn.Dropout(dropout)
        self.ffn = _ResidualFeedForward(d_model, ffn_dim=ffn_dim or 4 * d_model, dropout=dropout)

    def forward(
        self,
        target: Tensor,
        source: Tensor,
        target_mask: Tensor | None = None,
        source_mask: Tensor | None = None,
    ) -> Tensor:
        target_mask = ensure_mask(target_mask, target)
        # select, never multiply: NaN or inf in padded steps must reach no output
        target, source = zero_padding(target, target_mask), zero_padding(source, source_mask)
        z_t = self.norm_target(target)
        cross = self.cross_attn(z_t, self.norm_source(source), key_padding_mask=source_mask)
        self_ = self.self_attn(z_t, key_padding_mask=target_mask)
        if self.use_attention_layer:
            per_step = torch.stack(
                [
                    self.branch_score(proj(branch)).squeeze(-1)
                    for proj, branch in zip(self.branch_proj, (cross, self_), strict=True)
                ],
                dim=1,
            )  # (B, 2, T_t)
            beta = torch.where(target_mask[:, None], per_step, 0.0).sum(-1)
            gamma = beta.softmax(-1)
            record(self, gamma, "gamma")
            fused = gamma[:, 0, None, None] * cross + gamma[:, 1, None, None] * self_
        else:
            fused = cross + self_
        return self.ffn(self.dropout(fused))


class SourceUpdate(nn.Module):
    """Source modality update module SUM (Yang et al. 2023, eqs. 12–16).

    Each source copy ``S_m`` is updated by the same modality's reinforced target stream
    ``Z_m`` (same length): ``Ŝ_m = FFN(S_m)``, ``μ = σ(Ŝ_m Ŵ + Z_m W + b)`` and
    ``S_m ← (1 − μ) ⊙ tanh(Z_m) + μ ⊙ Ŝ_m`` (eqs. 13–14, the selective memory mechanism). Then
    for each target ``t`` the concatenation of its sources is gated:
    ``φ = σ([S_s1; S_s2] W_t + b_t)``, ``S_ds(t) = φ ⊙ tanh([S_s1; S_s2])`` (eqs. 15–16).
    Biases are per feature (the paper's per-position biases would fix one length).

    Args:
        d_model: width; modalities: the modality names, in concatenation order.
        mode: ``"sum"`` (the paper), ``"sum_no_gate"`` (``S_m ← Ŝ_m + Z_m``, table 5 "SUM w/o
            SMM"), ``"ffn_only"`` (``S_m ← Ŝ_m``, no target supervision, plain concatenation;
            "high-level feature (FFL)") or ``"low_level"`` (sources never change, plain
            concatenation; "low-level feature").
        ffn_dim: hidden width of ``FFN`` (default ``4 * d_model``); dropout: inside ``FFN``.
        combine: build the combined sources S_ds (False when no SCU reads them).

    Inputs:
        sources: {m: (B, T_m, d_model)}; targets: {m: (B, T_m, d_model)} reinforced target streams.
    Returns:
        (updated sources {m: (B, T_m, d_model)}, combined sources {t: (B, Σ T_s, d_model)} for the
        next SCU, the sources of ``t`` concatenated in time as :func:`source_modalities` orders
        them; empty when ``combine`` is False). Every step is updated position-wise, so padded
        steps never reach a valid one.

    Raises:
        ValueError: an unknown ``mode``.
    """

    def __init__(
        self,
        d_model: int,
        *,
        modalities: Sequence[str],
        mode: str = "sum",
        ffn_dim: int | None = None,
        dropout: float = 0.1,
        combine: bool = True,
    ) -> None:
        super().__init__()
        check_choice("mode", mode, SOURCE_UPDATES)
        self.mode, self.modalities, self.combine_sources = mode, tuple(modalities), combine
        ffn_dim = ffn_dim or 4 * d_model
        if mode != "low_level":
            self.ffn = nn.ModuleDict(
                {m: FeedForward(d_model, ffn_dim=ffn_dim, dropout=dropout) for m in self.modalities}
            )
        if mode == "sum":
            self.gate_source = nn.ModuleDict(
                {m: nn.Linear(d_model, d_model) for m in self.modalities}
            )
            # one bias per gate: the paper's two summed biases b̂_s + b_t are one parameter
            self.gate_target = nn.ModuleDict(
                {m: nn.Linear(d_model, d_model, bias=False) for m in self.modalities}
            )
        self.gated_combination = combine and mode in ("sum", "sum_no_gate")
        if self.gated_combination:
            self.combine = nn.ModuleDict({t: nn.Linear(d_model, d_model) for t in self.modalities})

    def forward(
        self, sources: Mapping[str, Tensor], targets: Mapping[str, Tensor]
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        updated = {}
        for m in self.modalities:
            if self.mode == "low_level":
                updated[m] = sources[m]
                continue
            hat = self.ffn[m](sources[m])
            if self.mode == "ffn_only":
                updated[m] = hat
            elif self.mode == "sum_no_gate":
                updated[m] = hat + targets[m]
            else:
                mu = torch.sigmoid(self.gate_source[m](hat) + self.gate_target[m](targets[m]))
                updated[m] = (1 - mu) * torch.tanh(targets[m]) + mu * hat
        combined = {}
        for t in self.modalities if self.combine_sources else ():
            cat = torch.cat([updated[s] for s in source_modalities(t, self.modalities)], dim=1)
            if self.gated_combination:
                cat = torch.sigmoid(self.combine[t](cat)) * torch.tanh(cat)
            combined[t] = cat
        return updated, combined


class ModalityReinforcementLayer(nn.Module):
    """One modality reinforcement layer of MCR (Yang et al. 2023, fig. 1b and sec. 3.2).

    For every target ``t``: ``Z_t ← CMU(S_s1, S_s2, Z_t) + SCU(S_ds(t), Z_t)`` (parallel, the
    paper) or ``Z_t ← SCU(S_ds(t), CMU(S_s1, S_s2, Z_t))`` (serial, table 5); all targets read
    the same sources. Then, when ``source_update`` is set, :class:`SourceUpdate` renews the
    sources for the next layer (the last layer has none: its update would feed nothing).

    Args:
        d_model: width.
        num_heads: attention heads.
        seq_lens: {modality: fixed length}, in concatenation order (the CMU exchange needs the
            lengths).
        ffn_dim: hidden width of every feed-forward layer (default ``4 * d_model``).
        dropout: dropout of all units.
        use_cmu: keep the CMU of each target (table 5 "w/o CMU").
        use_scu: keep the SCU of each target (table 5 "w/o SCU"); at least one of the two.
        use_mutual_attention: the α ⊙ Ê term of CMU.
        use_scu_attention_layer: the γ fusion of SCU.
        structure: ``"parallel"`` or ``"serial"``.
        source_update: a :class:`SourceUpdate` mode, or None for no update after this layer.

    Inputs:
        targets, sources: {m: (B, T_m, d_model)}; combined: {t: (B, Σ T_s, d_model)} the SCU
        sources; masks: {m: (B, T_m) bool}, True = valid.
    Returns:
        (targets, sources, combined), updated as the inputs.
    Records:
        through its units: ``cmu.<t>.alpha``, ``cmu.<t>.attention_<i>``, ``scu.<t>.gamma``,
        ``scu.<t>.cross_attn``, ``scu.<t>.self_attn`` (see :class:`CrossMutualUnit`,
        :class:`SelfCrossUnit`).

    Raises:
        ValueError: neither ``use_cmu`` nor ``use_scu``, or an unknown ``structure`` or
            ``source_update``.
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        seq_lens: Mapping[str, int],
        ffn_dim: int | None = None,
        dropout: float = 0.1,
        use_cmu: bool = True,
        use_scu: bool = True,
        use_mutual_attention: bool = True,
        use_scu_attention_layer: bool = True,
        structure: str = "parallel",
        source_update: str | None = "sum",
    ) -> None:
        super().__init__()
        check_choice("structure", structure, STRUCTURES)
        if not (use_cmu or use_scu):
            raise ValueError("use_cmu, use_scu: at least one target unit must be used")
        self.modalities = tuple(seq_lens)
        self.structure = structure
        self.sources_of = {t: source_modalities(t, self.modalities) for t in self.modalities}
        self.cmu = None
        if use_cmu:
            self.cmu = nn.ModuleDict(
                {
                    t: CrossMutualUnit(
                        d_model,
                        num_heads=num_heads,
                        source_lens=[seq_lens[s] for s in self.sources_of[t]],
                        use_mutual_attention=use_mutual_attention,
                        ffn_dim=ffn_dim,
                        dropout=dropout,
                    )
                    for t in self.modalities
                }
            )
        self.scu = None
        if use_scu:
            self.scu = nn.ModuleDict(
                {
                    t: SelfCrossUnit(
                        d_model,
                        num_heads=num_heads,
                        use_attention_layer=use_scu_attention_layer,
                        ffn_dim=ffn_dim,
                        dropout=dropout,
                    )
                    for t in self.modalities
                }
            )
        self.update = None
        if source_update is not None:
            self.update = SourceUpdate(
                d_model,
                modalities=self.modalities,
                mode=source_update,
                ffn_dim=ffn_dim,
                dropout=dropout,
                combine=use_scu,
            )

    def forward(
        self,
        targets: Mapping[str, Tensor],
        sources: Mapping[str, Tensor],
        combined: Mapping[str, Tensor],
        masks: Mapping[str, Tensor],
    ) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
        new_targets = {}
        for t in self.modalities:
            srcs = self.sources_of[t]
            z_a = z_b = None
            if self.cmu is not None:
                z_a = self.cmu[t](
                    targets[t], [sources[s] for s in srcs], [masks[s] for s in srcs], masks[t]
                )
            if self.scu is not None:
                serial = self.structure == "serial" and z_a is not None
                combined_mask = torch.cat([masks[s] for s in srcs], dim=1)
                z_b = self.scu[t](
                    z_a if serial else targets[t], combined[t], masks[t], combined_mask
                )
                z_a = None if serial else z_a  # serially the SCU output is the layer's output
            present = [z for z in (z_a, z_b) if z is not None]
            new_targets[t] = present[0] if len(present) == 1 else present[0] + present[1]
        if self.update is None:
            return new_targets, dict(sources), dict(combined)
        # the update is position-wise: zero padded steps so that NaN there stays out of it
        sources = {m: zero_padding(x, masks[m]) for m, x in sources.items()}
        new_sources, new_combined = self.update(sources, new_targets)
        return new_targets, new_sources, new_combined


class ModalityReinforcementStack(nn.Module):
    """The ``num_layers`` modality reinforcement layers of MCR with their starting state
    (Yang et al. 2023, sec. 3.2–3.3, fig. 1b).

    The source copies start as the embedded targets (sec. 3.3) and the SCU's combined sources
    as their plain concatenation; each :class:`ModalityReinforcementLayer` reinforces every
    target, then (all but the last) updates the sources with :class:`SourceUpdate`.

    Args:
        d_model: width.
        num_heads: attention heads.
        seq_lens: {modality: fixed length}, in concatenation order.
        num_layers: reinforcement layers (paper: 3 or 4).
        source_update: the :class:`SourceUpdate` mode between layers (paper: ``"sum"``).
        ffn_dim: as :class:`ModalityReinforcementLayer`, the same for every layer.
        dropout: as :class:`ModalityReinforcementLayer`, the same for every layer.
        use_cmu: as :class:`ModalityReinforcementLayer`, the same for every layer.
        use_scu: as :class:`ModalityReinforcementLayer`, the same for every layer.
        use_mutual_attention: as :class:`ModalityReinforcementLayer`, the same for every layer.
        use_scu_attention_layer: as :class:`ModalityReinforcementLayer`, the same for every layer.
        structure: as :class:`ModalityReinforcementLayer`, the same for every layer.

    Inputs:
        targets: {m: (B, T_m, d_model)} the embedded sequences, one per modality of ``seq_lens``;
        masks: {m: (B, T_m) bool}, True = valid.
    Returns:
        the reinforced targets {m: (B, T_m, d_model)}, in ``seq_lens`` order. Padded steps never
        reach a valid one.
    Records:
        ``layers.<i>.…``: the maps of each layer (see :class:`ModalityReinforcementLayer`).

    Raises:
        ValueError: ``num_layers < 1``, no target unit, or an unknown ``structure`` or
            ``source_update``.
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        seq_lens: Mapping[str, int],
        num_layers: int,
        source_update: str = "sum",
        ffn_dim: int | None = None,
        dropout: float = 0.1,
        use_cmu: bool = True,
        use_scu: bool = True,
        use_mutual_attention: bool = True,
        use_scu_attention_layer: bool = True,
        structure: str = "parallel",
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers: expected at least one layer, got {num_layers}")
        self.modalities, self.use_scu = tuple(seq_lens), use_scu
        self.layers = nn.ModuleList(
            ModalityReinforcementLayer(
                d_model,
                num_heads=num_heads,
                seq_lens=seq_lens,
                ffn_dim=ffn_dim,
                dropout=dropout,
                use_cmu=use_cmu,
                use_scu=use_scu,
                use_mutual_attention=use_mutual_attention,
                use_scu_attention_layer=use_scu_attention_layer,
                structure=structure,
                # the last layer's update would feed no later layer
                source_update=source_update if i < num_layers - 1 else None,
            )
            for i in range(num_layers)
        )

    def forward(
        self, targets: Mapping[str, Tensor], masks: Mapping[str, Tensor]
    ) -> dict[str, Tensor]:
        updated = {m: targets[m] for m in self.modalities}
        sources = dict(updated)  # the source copies (sec. 3.3)
        combined = {  # the SCU's sources before any update: plain concatenation
            t: torch.cat([sources[s] for s in source_modalities(t, self.modalities)], dim=1)
            for t in (self.modalities if self.use_scu else ())
        }
        for layer in self.layers:
            updated, sources, combined = layer(updated, sources, combined, masks)
        return updated


__all__ = [
    "SOURCE_UPDATES",
    "STRUCTURES",
    "CrossMutualUnit",
    "ModalityReinforcementLayer",
    "ModalityReinforcementStack",
    "SelfCrossUnit",
    "SourceUpdate",
    "SourceUpdateMode",
    "Structure",
    "source_modalities",
]
