"""Every fusion block and the subsampler compile with ``torch.compile(fullgraph=True)`` (no graph
break) and give the eager outputs and gradients. ``backend="aot_eager"`` traces the same full
graph as inductor (dynamo and AOT autograd, where graph breaks arise) without generating code,
so the whole file stays fast. Tiny shapes with masks: full rows, padded rows and an all-padding
row, whose finite-output path must compile too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree

from emofuse.blocks import (
    AttentiveDecisionFusion,
    AttentiveSwishClassifier,
    BiCrossAttention,
    BottleneckTransformer,
    ChannelAttention,
    CrossCorrelationFusion,
    CrossModalTransformer,
    CrossMutualUnit,
    EarlyFusion,
    EmotionQueryDecoder,
    GroupWiseLinear,
    JointTransformer,
    ModalityReinforcementLayer,
    ModalityReinforcementStack,
    SelfCrossUnit,
    SemanticEnhancedBackbone,
    SemanticEnhancement,
    SnippetAttentionStream,
    SourceUpdate,
    SpatialAttention,
    TemporalAttention,
    TokenFusionEncoder,
)
from emofuse.encoders import ConvolutionPooling, ResNetEncoder

B, D = 3, 8


def _mask(length: int) -> Tensor:
    """(B, length): a full row, a row half padded, an all-padding row."""
    steps = torch.arange(length)
    return torch.stack([steps < length, steps < (length + 1) // 2, steps < 0])


def _x(length: int, dim: int = D) -> Tensor:
    return torch.randn(B, length, dim)


Case = Callable[[], tuple[nn.Module, Callable[[nn.Module], Any]]]


def _two_streams(block: nn.Module) -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    a, v, am, vm = _x(5), _x(4), _mask(5), _mask(4)
    return block, lambda m: m(a, v, am, vm)


def _semantic_enhancement() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    fmap, text = torch.randn(B, 4, 5, 5), torch.randn(B, 6)
    return SemanticEnhancement(4, text_dim=6), lambda m: m(fmap, text)


def _semantic_enhanced_backbone() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    images, text = torch.randn(B, 3, 32, 32), torch.randn(B, 6)
    backbone = ResNetEncoder(widths=(4, 4, 8, 8))
    return SemanticEnhancedBackbone(backbone, text_dim=6, sem_after=(3, 5)), lambda m: m(
        images, text
    )


def _snippet_attention_stream() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    snippets = torch.randn(B, 2, 3, 8, 8)  # (B, N, C, H, W); a conv gives a 4×4 map
    backbone = nn.Conv2d(3, 6, 3, stride=2, padding=1)
    stream = SnippetAttentionStream(
        backbone, backbone_dim=6, out_dim=D, num_heads=2, num_positions=16
    )
    return stream, lambda m: m(snippets)


def _decision_fusion() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    decisions = torch.randn(B, 3, 4)
    return AttentiveDecisionFusion(4), lambda m: m(decisions)


def _spatial() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    x = _x(5, 6)  # 6 channels over 4 heads: ceil(6 / 4) per head
    return SpatialAttention(6, num_heads=4, use_residual=True), lambda m: m(x)


def _channel() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    x = _x(5, 6)
    return ChannelAttention(5, num_heads=2), lambda m: m(x)


def _temporal() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    x, mask = _x(5, 6), _mask(5)
    return TemporalAttention(6, num_heads=2, out_dim=4), lambda m: (m(x, mask), m(x))


def _cross_correlation() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    a, v, mask = _x(5), _x(5), _mask(5)
    return CrossCorrelationFusion(D), lambda m: m(a, v, mask, mask)


def _cross_mutual() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    target, sources, masks = _x(6), [_x(5), _x(4)], [_mask(5), _mask(4)]
    return CrossMutualUnit(D, num_heads=2, source_lens=(5, 4)), lambda m: m(target, sources, masks)


def _self_cross() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    target, source = _x(5), _x(9)
    return SelfCrossUnit(D, num_heads=2), lambda m: m(target, source, _mask(5), _mask(9))


MODALITIES = {"text": 5, "video": 4, "audio": 6}


def _source_update() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    sources = {m: _x(t) for m, t in MODALITIES.items()}
    targets = {m: _x(t) for m, t in MODALITIES.items()}
    return SourceUpdate(D, modalities=tuple(MODALITIES)), lambda m: m(sources, targets)


def _reinforcement_layer() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    targets = {m: _x(t) for m, t in MODALITIES.items()}
    sources = {m: _x(t) for m, t in MODALITIES.items()}
    masks = {m: _mask(t) for m, t in MODALITIES.items()}
    combined = {t: torch.cat([sources[s] for s in MODALITIES if s != t], dim=1) for t in MODALITIES}
    layer = ModalityReinforcementLayer(D, num_heads=2, seq_lens=MODALITIES)
    return layer, lambda m: m(targets, sources, combined, masks)


def _reinforcement_stack() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    targets = {m: _x(t) for m, t in MODALITIES.items()}
    masks = {m: _mask(t) for m, t in MODALITIES.items()}
    stack = ModalityReinforcementStack(D, num_heads=2, seq_lens=MODALITIES, num_layers=2)
    return stack, lambda m: m(targets, masks)


def _emotion_queries() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    memory, mask = _x(5), _mask(5)
    decoder = EmotionQueryDecoder(3, d_model=D, num_layers=1, num_heads=2, ffn_dim=16)
    return decoder, lambda m: (m(memory, mask), m(memory))


def _group_wise_linear() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    x = _x(3)
    return GroupWiseLinear(3, d_model=D), lambda m: m(x)


def _token_fusion() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    xs, masks = [_x(5), _x(4), _x(6)], [_mask(5), _mask(4), _mask(6)]
    encoder = TokenFusionEncoder(
        D, num_layers=1, num_heads=2, ffn_dim=16, use_positional_encoding=True
    )
    return encoder, lambda m: m(xs, masks)


def _early_fusion() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    xs, masks = [_x(5), _x(4), _x(6)], [_mask(5), _mask(4), _mask(6)]
    return EarlyFusion(), lambda m: m(xs, masks)


def _cross_modal_transformer() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    streams = {"audio": (_x(5), _mask(5)), "video": (_x(4), _mask(4))}
    block = CrossModalTransformer(
        ("audio", "video"), d_model=D, num_heads=2, ffn_dim=16, num_layers=1
    )
    return block, lambda m: (
        m(streams),
        m({"video": streams["video"]}),  # one modality alone: the same weights
    )


def _swish_classifier() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    z, mask = _x(5), _mask(5)
    return AttentiveSwishClassifier(D, num_classes=3), lambda m: m(z, mask)


def _convolution_pooling() -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    x, mask = _x(9, 6), _mask(9)
    return ConvolutionPooling(6, out_dim=D), lambda m: (m(x, mask), m(x))


CASES: dict[str, Case] = {
    "SemanticEnhancement": _semantic_enhancement,
    "SemanticEnhancedBackbone": _semantic_enhanced_backbone,
    "SnippetAttentionStream": _snippet_attention_stream,
    "BottleneckTransformer": lambda: _two_streams(
        BottleneckTransformer(D, num_bottlenecks=2, num_heads=2)
    ),
    "JointTransformer": lambda: _two_streams(JointTransformer(D, num_heads=2)),
    "BiCrossAttention": lambda: _two_streams(BiCrossAttention(D, num_heads=2)),
    "AttentiveDecisionFusion": _decision_fusion,
    "SpatialAttention": _spatial,
    "ChannelAttention": _channel,
    "TemporalAttention": _temporal,
    "CrossCorrelationFusion": _cross_correlation,
    "CrossMutualUnit": _cross_mutual,
    "SelfCrossUnit": _self_cross,
    "SourceUpdate": _source_update,
    "ModalityReinforcementLayer": _reinforcement_layer,
    "ModalityReinforcementStack": _reinforcement_stack,
    "EmotionQueryDecoder": _emotion_queries,
    "GroupWiseLinear": _group_wise_linear,
    "TokenFusionEncoder": _token_fusion,
    "EarlyFusion": _early_fusion,
    "CrossModalTransformer": _cross_modal_transformer,
    "AttentiveSwishClassifier": _swish_classifier,
    "ConvolutionPooling": _convolution_pooling,
}


def _tensors(out: Any) -> list[Tensor]:
    return [t for t in pytree.tree_leaves(out) if isinstance(t, Tensor)]


def _outputs_and_grads(module: nn.Module, out: Any) -> tuple[list[Tensor], list[Tensor | None]]:
    tensors = _tensors(out)
    loss = sum(t.float().sum() for t in tensors if t.is_floating_point())
    params = list(module.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True) if params else []
    return [t.detach() for t in tensors], list(grads)


@pytest.mark.parametrize("name", list(CASES))
def test_block_compiles_fullgraph_with_eager_outputs_and_grads(name: str) -> None:
    module, call = CASES[name]()
    module.eval()  # dropout off: compiled and eager draw no random numbers
    torch._dynamo.reset()
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    got, got_grads = _outputs_and_grads(module, call(compiled))
    want, want_grads = _outputs_and_grads(module, call(module))
    assert want and all(torch.isfinite(t).all() for t in want if t.is_floating_point())
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
    for g, w in zip(got_grads, want_grads, strict=True):
        assert (g is None) == (w is None)
        if w is not None:
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
