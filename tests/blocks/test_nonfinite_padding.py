"""NaN or inf in padded steps reaches no output and no gradient of the fusion blocks (see
tests/layers/test_nonfinite_padding.py for the method): every output, padded steps included,
and every gradient is finite and the same as with zeros in the padding."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from helpers import PaddingCase, check_padding_case, padding_mask
from torch import Tensor

from emofuse.blocks import (
    AttentiveDecisionFusion,
    AttentiveSwishClassifier,
    BiCrossAttention,
    BottleneckTransformer,
    CrossCorrelationFusion,
    CrossModalTransformer,
    CrossMutualUnit,
    EarlyFusion,
    EmotionQueryDecoder,
    JointTransformer,
    ModalityReinforcementLayer,
    SelfCrossUnit,
    TemporalAttention,
    TokenFusionEncoder,
)
from emofuse.encoders import ConvolutionPooling

B, D = 4, 8
LENGTHS = {"text": 5, "video": 4, "audio": 6}


def _seq(length: int, dim: int = D) -> tuple[Tensor, Tensor]:
    return torch.randn(B, length, dim), padding_mask(length)


def _two_streams(block: torch.nn.Module) -> PaddingCase:
    am, vm = padding_mask(5), padding_mask(4)
    return block, [_seq(5), _seq(4)], lambda m, xs: m(xs[0], xs[1], am, vm)[:2]


def _token_fusion(block: torch.nn.Module) -> PaddingCase:
    masks = [padding_mask(n) for n in (5, 4, 6)]
    return block, [_seq(5), _seq(4), _seq(6)], lambda m, xs: m(xs, masks)[:2]


def _cross_mutual(with_target_mask: bool) -> PaddingCase:
    masks = [padding_mask(5), padding_mask(4)]
    target = _seq(6) if with_target_mask else (torch.randn(B, 6, D), None)
    target_mask = padding_mask(6) if with_target_mask else None
    return (
        CrossMutualUnit(D, num_heads=2, source_lens=(5, 4)),
        [target, _seq(5), _seq(4)],
        lambda m, xs: m(xs[0], xs[1:], masks, target_mask),
    )


def _reinforcement_layer() -> PaddingCase:
    names = list(LENGTHS)
    masks = {m: padding_mask(t) for m, t in LENGTHS.items()}

    def call(m: torch.nn.Module, xs: list[Tensor]) -> tuple:
        targets = dict(zip(names, xs[:3], strict=True))
        sources = dict(zip(names, xs[3:], strict=True))
        combined = {t: torch.cat([sources[s] for s in names if s != t], 1) for t in names}
        return m(targets, sources, combined, masks)

    pairs = [_seq(LENGTHS[m]) for m in names] * 2
    return ModalityReinforcementLayer(D, num_heads=2, seq_lens=LENGTHS), pairs, call


CASES: dict[str, Callable[[], PaddingCase]] = {
    "TemporalAttention": lambda: (
        TemporalAttention(D, num_heads=2, out_dim=6),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "TemporalAttention_residual": lambda: (
        TemporalAttention(D, num_heads=2, use_residual=True),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "CrossCorrelationFusion": lambda: (
        CrossCorrelationFusion(D),
        [_seq(6), _seq(6)],
        lambda m, xs: m(xs[0], xs[1], padding_mask(6), padding_mask(6)),
    ),
    "BottleneckTransformer": lambda: _two_streams(
        BottleneckTransformer(D, num_bottlenecks=2, num_heads=2)
    ),
    "JointTransformer": lambda: _two_streams(JointTransformer(D, num_heads=2)),
    "BiCrossAttention": lambda: _two_streams(BiCrossAttention(D, num_heads=2)),
    "TokenFusionEncoder": lambda: _token_fusion(
        TokenFusionEncoder(D, num_layers=2, num_heads=2, ffn_dim=16, use_positional_encoding=True)
    ),
    "EarlyFusion": lambda: _token_fusion(EarlyFusion()),
    "EmotionQueryDecoder": lambda: (
        EmotionQueryDecoder(3, d_model=D, num_layers=2, num_heads=2, ffn_dim=16),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "CrossModalTransformer": lambda: (
        CrossModalTransformer(("audio", "video"), d_model=D, num_heads=2, ffn_dim=16, num_layers=2),
        [_seq(5), _seq(4)],
        lambda m, xs: m({"audio": (xs[0], padding_mask(5)), "video": (xs[1], padding_mask(4))})[0],
    ),
    "AttentiveSwishClassifier": lambda: (
        AttentiveSwishClassifier(D, num_classes=3),
        [_seq(6)],
        lambda m, xs: m(xs[0], padding_mask(6)),
    ),
    "CrossMutualUnit": lambda: _cross_mutual(with_target_mask=False),
    "CrossMutualUnit_target_mask": lambda: _cross_mutual(with_target_mask=True),
    "SelfCrossUnit": lambda: (
        SelfCrossUnit(D, num_heads=2),
        [_seq(5), _seq(9)],
        lambda m, xs: m(xs[0], xs[1], padding_mask(5), padding_mask(9)),
    ),
    "ModalityReinforcementLayer": _reinforcement_layer,
    "ConvolutionPooling": lambda: (
        ConvolutionPooling(6, out_dim=D),
        [_seq(9, 6)],
        lambda m, xs: m(xs[0], padding_mask(9)),
    ),
    "AttentiveDecisionFusion": lambda: (
        AttentiveDecisionFusion(5),
        [(torch.randn(B, 3, 5), padding_mask(3))],
        lambda m, xs: m(xs[0], padding_mask(3)),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_nonfinite_padding_reaches_no_output_or_gradient(name: str) -> None:
    check_padding_case(CASES[name]())
