"""Property-based fuzzing of the public sequence layers and blocks that take masks (hypothesis).

Each block is built small (keyword arguments) and called on drawn batches (0 to 3 rows), drawn
lengths (the block's own lengths where it has fixed ones), masks with padding at the start, in
the middle, at the end, anywhere or the whole row, and NaN, inf, -inf or huge values in the
padded steps. The properties, in eval mode: every output is finite, equals the output with zeros
in the padded steps, and each row's output equals that of the row alone; for blocks of free
length, padding steps appended at the end change no output at a valid step. Blocks assume valid
shapes (the models check them at their entrance), so malformed inputs are fuzzed there
(tests/models/test_fuzz_models.py).

Runs ``EMOFUSE_FUZZ_EXAMPLES`` examples per test (see ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from helpers import mask_row
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.utils import _pytree as pytree

from emofuse.blocks import (
    AttentiveDecisionFusion,
    AttentiveSwishClassifier,
    BiCrossAttention,
    BottleneckTransformer,
    CrossCorrelationFusion,
    CrossModalLayer,
    CrossModalTransformer,
    CrossMutualUnit,
    EarlyFusion,
    EmotionQueryDecoder,
    JointTransformer,
    ModalityReinforcementLayer,
    ModalityReinforcementStack,
    SelfCrossUnit,
    TemporalAttention,
    TokenFusionEncoder,
)
from emofuse.layers import (
    AttentivePooling,
    MaskedMeanPool,
    MultiHeadAttention,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    masked_mean,
    masked_softmax,
    zero_padding,
)

D = 8  # the width of every stream
PADDING_VALUES = (float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 0.0)
MRL_LENGTHS = {"text": 3, "video": 4, "audio": 2}


@dataclass(frozen=True)
class Stream:
    """One sequence input: (B, T, *trailing), masked or not; ``length`` fixes T; streams of
    the same ``group`` share T."""

    trailing: tuple[int, ...] = (D,)
    masked: bool = True
    length: int | None = None
    group: str | None = None
    mask_of: int | None = None  # padded where this earlier stream is (keys and values)


# call(module, xs, masks) -> outputs whose valid steps must not depend on padding
Call = Callable[[Any, list[Tensor], list[Tensor | None]], Any]


@dataclass(frozen=True)
class BlockCase:
    build: Callable[[], nn.Module | None]
    streams: tuple[Stream, ...]
    call: Call
    # padding appended at the end of every free-length stream: "pooled" (no output has a step
    # axis) or "steps" (each output's axis 1 is the first stream's steps) changes no output
    # (of the original steps); None: not checked (fixed lengths, concatenated streams)
    append: str | None = "pooled"


def _two(block: nn.Module) -> BlockCase:
    return BlockCase(
        lambda: block, (Stream(), Stream()), lambda m, xs, ms: m(xs[0], xs[1], ms[0], ms[1]), None
    )


def _mrl_layer(m: nn.Module, xs: list[Tensor], ms: list[Tensor | None]) -> Any:
    names = list(MRL_LENGTHS)
    targets = dict(zip(names, xs, strict=True))
    masks = dict(zip(names, ms, strict=True))
    combined = {t: torch.cat([targets[s] for s in names if s != t], 1) for t in names}
    return m(targets, targets, combined, masks)


CASES: dict[str, BlockCase] = {
    "masked_mean": BlockCase(
        lambda: None, (Stream(),), lambda _, xs, ms: masked_mean(xs[0], ms[0])
    ),
    "masked_softmax": BlockCase(
        lambda: None,
        (Stream(trailing=()),),
        lambda _, xs, ms: masked_softmax(xs[0], ms[0]),
        "steps",
    ),
    "zero_padding": BlockCase(
        lambda: None, (Stream(),), lambda _, xs, ms: zero_padding(xs[0], ms[0]), "steps"
    ),
    "MaskedMeanPool": BlockCase(MaskedMeanPool, (Stream(),), lambda m, xs, ms: m(xs[0], ms[0])),
    "AttentivePooling": BlockCase(
        lambda: AttentivePooling(D, hidden_dim=4), (Stream(),), lambda m, xs, ms: m(xs[0], ms[0])
    ),
    "MultiHeadAttention_self": BlockCase(
        lambda: MultiHeadAttention(D, num_heads=2),
        (Stream(),),
        lambda m, xs, ms: m(xs[0], key_padding_mask=ms[0]),
        "steps",
    ),
    "MultiHeadAttention_cross": BlockCase(
        lambda: MultiHeadAttention(D, num_heads=2, kdim=6, vdim=5),
        (Stream(masked=False), Stream((6,), group="kv"), Stream((5,), group="kv", mask_of=1)),
        lambda m, xs, ms: m(xs[0], xs[1], xs[2], key_padding_mask=ms[1]),
        "steps",
    ),
    "TransformerEncoderLayer_post_norm": BlockCase(
        lambda: TransformerEncoderLayer(D, num_heads=2, ffn_dim=16, norm_first=False),
        (Stream(),),
        lambda m, xs, ms: m(xs[0], ms[0]),
        "steps",
    ),
    "TransformerEncoder": BlockCase(
        lambda: TransformerEncoder(D, num_layers=2, num_heads=2, ffn_dim=16),
        (Stream(),),
        lambda m, xs, ms: m(xs[0], ms[0]),
        "steps",
    ),
    "TransformerDecoderLayer": BlockCase(
        lambda: TransformerDecoderLayer(D, num_heads=2, ffn_dim=16, norm_first=False),
        (Stream(), Stream()),
        lambda m, xs, ms: m(xs[0], xs[1], ms[0], ms[1]),
        "steps",
    ),
    "TransformerDecoder": BlockCase(
        lambda: TransformerDecoder(D, num_layers=2, num_heads=2, ffn_dim=16),
        (Stream(masked=False), Stream()),
        lambda m, xs, ms: m(xs[0], xs[1], memory_mask=ms[1]),
        "steps",
    ),
    "TemporalAttention": BlockCase(
        lambda: TemporalAttention(D, num_heads=2, out_dim=6),
        (Stream(),),
        lambda m, xs, ms: m(xs[0], ms[0]),
        "steps",
    ),
    "CrossCorrelationFusion": BlockCase(
        lambda: CrossCorrelationFusion(D),
        (Stream(group="n"), Stream(group="n")),
        lambda m, xs, ms: m(xs[0], xs[1], ms[0], ms[1]),
        None,
    ),
    "BottleneckTransformer": _two(BottleneckTransformer(D, num_bottlenecks=2, num_heads=2)),
    "JointTransformer": _two(JointTransformer(D, num_heads=2)),
    "BiCrossAttention": _two(BiCrossAttention(D, num_heads=2)),
    "CrossModalLayer": BlockCase(
        lambda: CrossModalLayer(D, num_heads=2, ffn_dim=16),
        (Stream(masked=False), Stream()),
        lambda m, xs, ms: m(xs[0], xs[1], ms[1]),
        "steps",
    ),
    "TokenFusionEncoder": BlockCase(
        lambda: TokenFusionEncoder(
            D, num_layers=2, num_heads=2, ffn_dim=16, use_positional_encoding=True
        ),
        (Stream(), Stream(), Stream()),
        lambda m, xs, ms: m(xs, ms),
        None,
    ),
    "EarlyFusion": BlockCase(
        EarlyFusion,
        (Stream(), Stream()),
        lambda m, xs, ms: m(xs, ms),
        None,
    ),
    "EmotionQueryDecoder": BlockCase(
        lambda: EmotionQueryDecoder(3, d_model=D, num_layers=2, num_heads=2, ffn_dim=16),
        (Stream(),),
        lambda m, xs, ms: m(xs[0], ms[0]),
    ),
    "CrossModalTransformer": BlockCase(
        lambda: CrossModalTransformer(
            ("audio", "video"), d_model=D, num_heads=2, ffn_dim=16, num_layers=2
        ),
        (Stream(), Stream()),
        lambda m, xs, ms: m({"audio": (xs[0], ms[0]), "video": (xs[1], ms[1])}),
        None,
    ),
    "AttentiveSwishClassifier": BlockCase(
        lambda: AttentiveSwishClassifier(D, num_classes=3),
        (Stream(),),
        lambda m, xs, ms: m(xs[0], ms[0]),
        None,
    ),
    "CrossMutualUnit": BlockCase(
        lambda: CrossMutualUnit(D, num_heads=2, source_lens=(3, 4)),
        (Stream(), Stream(length=3), Stream(length=4)),
        lambda m, xs, ms: m(xs[0], xs[1:], ms[1:], ms[0]),
        "steps",
    ),
    "SelfCrossUnit": BlockCase(
        lambda: SelfCrossUnit(D, num_heads=2),
        (Stream(), Stream()),
        lambda m, xs, ms: m(xs[0], xs[1], ms[0], ms[1]),
        "steps",
    ),
    "ModalityReinforcementLayer": BlockCase(
        lambda: ModalityReinforcementLayer(D, num_heads=2, seq_lens=MRL_LENGTHS),
        tuple(Stream(length=n) for n in MRL_LENGTHS.values()),
        _mrl_layer,
        None,
    ),
    "ModalityReinforcementStack": BlockCase(
        lambda: ModalityReinforcementStack(D, num_heads=2, seq_lens=MRL_LENGTHS, num_layers=2),
        tuple(Stream(length=n) for n in MRL_LENGTHS.values()),
        lambda m, xs, ms: m(
            dict(zip(MRL_LENGTHS, xs, strict=True)), dict(zip(MRL_LENGTHS, ms, strict=True))
        ),
        None,
    ),
    "AttentiveDecisionFusion": BlockCase(
        lambda: AttentiveDecisionFusion(5),
        (Stream(trailing=(5,)),),
        lambda m, xs, ms: m(xs[0], ms[0]),
    ),
}


@dataclass
class Drawn:
    clean: list[Tensor]
    poisoned: list[Tensor]
    masks: list[Tensor | None]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints this
        printer.text(repr(self))

    def __repr__(self) -> str:
        shapes = [tuple(x.shape) for x in self.poisoned]
        return f"Drawn(shapes={shapes}, masks={self.masks})"


@st.composite
def block_inputs(draw: st.DrawFn, streams: Sequence[Stream]) -> Drawn:
    batch = draw(st.integers(0, 3), label="batch")
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1), label="seed"))
    lengths: dict[str, int] = {}
    clean, poisoned, masks = [], [], []
    for i, stream in enumerate(streams):
        if stream.length is not None:
            length = stream.length
        else:
            group = stream.group or f"stream {i}"
            if group not in lengths:
                lengths[group] = draw(st.integers(1, 6), label=f"length {group}")
            length = lengths[group]
        shape = (batch, length, *stream.trailing)
        x = torch.randn(shape, generator=g)
        if not stream.masked:
            clean.append(x)
            poisoned.append(x)
            masks.append(None)
            continue
        if stream.mask_of is not None:
            mask = masks[stream.mask_of]
        else:
            rows = [draw(mask_row(length), label=f"mask {i} row") for _ in range(batch)]
            mask = torch.tensor(rows, dtype=torch.bool).reshape(batch, length)
        keep = mask.reshape(batch, length, *[1] * len(stream.trailing))
        values = draw(st.lists(st.sampled_from(PADDING_VALUES), min_size=1, max_size=3))
        fill = torch.tensor(values)[torch.randint(0, len(values), shape, generator=g)]
        clean.append(torch.where(keep, x, 0.0))
        poisoned.append(torch.where(keep, x, fill))
        masks.append(mask)
    return Drawn(clean, poisoned, masks)


def _leaves(result: Any) -> list[Tensor]:
    return [t for t in pytree.tree_leaves(result) if isinstance(t, Tensor)]


def _call(case: BlockCase, module: nn.Module | None, xs: list[Tensor], ms: list[Any]) -> list:
    with torch.no_grad():
        return _leaves(case.call(module, xs, ms))


def _close(got: list[Tensor], want: list[Tensor], what: str) -> None:
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4, msg=f"{what}: output {i}")


_MODULES: dict[str, nn.Module | None] = {}


def _module(name: str) -> nn.Module | None:
    if name not in _MODULES:
        torch.manual_seed(0)
        module = CASES[name].build()
        _MODULES[name] = module.eval() if module is not None else None
    return _MODULES[name]


@pytest.mark.parametrize("name", list(CASES))
@given(data=st.data())
def test_fuzzed_padding_never_matters(name: str, data: st.DataObject) -> None:
    case, module = CASES[name], _module(name)
    drawn = data.draw(block_inputs(case.streams), label="inputs")
    got = _call(case, module, drawn.poisoned, drawn.masks)
    for i, out in enumerate(got):
        if out.is_floating_point():
            assert out.isfinite().all(), f"output {i} is not finite"
    _close(got, _call(case, module, drawn.clean, drawn.masks), "NaN/inf in padding")
    batch = drawn.poisoned[0].shape[0]
    if batch:
        row = data.draw(st.integers(0, batch - 1), label="row")
        pick = slice(row, row + 1)
        alone = _call(
            case,
            module,
            [x[pick] for x in drawn.poisoned],
            [m if m is None else m[pick] for m in drawn.masks],
        )
        _close([out[pick] for out in got], alone, "the row alone")
    if case.append is None:
        return
    extra = data.draw(st.integers(1, 3), label="appended padding")
    longer_xs, longer_ms = [], []
    for stream, x, m in zip(case.streams, drawn.poisoned, drawn.masks, strict=True):
        if m is None or stream.length is not None:
            longer_xs.append(x)
            longer_ms.append(m)
            continue
        pad = torch.full((x.shape[0], extra, *x.shape[2:]), float("nan"))
        longer_xs.append(torch.cat([x, pad], 1))
        longer_ms.append(torch.cat([m, m.new_zeros(m.shape[0], extra)], 1))
    longer = _call(case, module, longer_xs, longer_ms)
    if case.append == "steps":
        steps = drawn.poisoned[0].shape[1]
        longer = [out[:, :steps] for out in longer]
    _close(longer, got, "padding appended")
