"""Helpers shared by the tests: padding tools and output comparison."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.utils import _pytree as pytree

from emofuse.layers import record_attentions


def masked_inputs(inputs: Mapping[str, Tensor]) -> list[str]:
    """Names of inputs that have a ``<name>_mask`` beside them."""
    return [k for k in inputs if f"{k}_mask" in inputs and inputs[f"{k}_mask"] is not None]


def _random_like(x: Tensor, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    if x.is_floating_point():
        return 3 * torch.randn(shape, generator=generator).to(x.dtype)
    return torch.randint(0, int(x.max()) + 1, shape, generator=generator).to(x.dtype)


def scramble_padding(inputs: Mapping[str, Tensor], seed: int = 1) -> dict[str, Tensor]:
    """Same inputs with every padded step replaced by random values."""
    g = torch.Generator().manual_seed(seed)
    out = dict(inputs)
    for name in masked_inputs(inputs):
        x, mask = inputs[name], inputs[f"{name}_mask"]
        noise = _random_like(x, tuple(x.shape), g)
        keep = mask.reshape(*mask.shape, *([1] * (x.dim() - 2)))
        out[name] = torch.where(keep, x, noise)
    return out


def append_padding(
    inputs: Mapping[str, Tensor], extra: int = 3, seed: int = 2
) -> dict[str, Tensor]:
    """Same inputs with ``extra`` random, masked-out steps appended to every masked sequence."""
    g = torch.Generator().manual_seed(seed)
    out = dict(inputs)
    for name in masked_inputs(inputs):
        x, mask = inputs[name], inputs[f"{name}_mask"]
        pad = _random_like(x, (x.shape[0], extra, *x.shape[2:]), g)
        out[name] = torch.cat([x, pad], dim=1)
        out[f"{name}_mask"] = torch.cat([mask, mask.new_zeros(mask.shape[0], extra)], dim=1)
    return out


def assert_outputs_close(a, b, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Compare two EmotionOutputs field by field (attentions excepted)."""
    torch.testing.assert_close(a.logits, b.logits, atol=atol, rtol=rtol)
    if a.embedding is not None:
        torch.testing.assert_close(a.embedding, b.embedding, atol=atol, rtol=rtol)
    if a.modality_logits is not None:
        assert a.modality_logits.keys() == b.modality_logits.keys()
        for key in a.modality_logits:
            torch.testing.assert_close(
                a.modality_logits[key], b.modality_logits[key], atol=atol, rtol=rtol
            )


def scattered_masks(inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Same inputs with each mask replaced by padding at the start, in the middle and at the
    end: row ``i`` is full (i % 4 == 0), padded at both ends (1), in the middle (2) or at the
    end (3). Every row keeps at least one valid step."""
    out = dict(inputs)
    for name in masked_inputs(inputs):
        b, t = inputs[f"{name}_mask"].shape
        steps = torch.arange(t)
        patterns = [
            steps >= 0,
            (steps >= 1) & (steps < t - 1),
            steps != t // 2,
            steps < (t + 1) // 2,
        ]
        mask = torch.stack([patterns[i % 4] for i in range(b)])
        mask[:, 0] |= ~mask.any(1)  # a single-step sequence keeps its step
        out[f"{name}_mask"] = mask
    return out


NONFINITE = (float("nan"), float("inf"), -float("inf"))


def poison_padding(
    inputs: Mapping[str, Tensor], values: float | tuple[float, ...] = NONFINITE, seed: int = 3
) -> dict[str, Tensor]:
    """Same inputs with the padded steps of every float input filled with ``values`` (cycled
    element by element: NaN, inf and -inf side by side by default; 0.0 for a clean reference)
    and every padded id of an integer input replaced by a random id of the same range."""
    g = torch.Generator().manual_seed(seed)
    out = dict(inputs)
    for name in masked_inputs(inputs):
        x, mask = inputs[name], inputs[f"{name}_mask"]
        keep = mask.reshape(*mask.shape, *([1] * (x.dim() - 2)))
        if x.is_floating_point():
            fill = torch.tensor(values if isinstance(values, tuple) else (values,), dtype=x.dtype)
            fill = fill.repeat(-(-x.numel() // fill.numel()))[: x.numel()].reshape(x.shape)
            out[name] = torch.where(keep, x, fill)
        else:
            out[name] = torch.where(keep, x, _random_like(x, tuple(x.shape), g))
    return out


def padding_mask(length: int) -> Tensor:
    """(4, length): a full row, padding at both ends, padding in the middle, all padding."""
    steps = torch.arange(length)
    return torch.stack(
        [steps >= 0, (steps >= 1) & (steps < length - 1), steps != length // 2, steps < 0]
    )


def fill_padding(x: Tensor, mask: Tensor, poison: bool) -> Tensor:
    """``x`` with its padded steps zero, or NaN, inf and -inf side by side."""
    fill = (
        torch.tensor(NONFINITE).repeat(-(-x.numel() // 3))[: x.numel()].reshape(x.shape)
        if poison
        else 0.0
    )
    keep = mask.reshape(*mask.shape, *([1] * (x.dim() - mask.dim())))
    return torch.where(keep, x, fill)


# A case: (module or None, [(input, its mask or None)], call(module, inputs) -> outputs)
PaddingCase = tuple[nn.Module | None, list[tuple[Tensor, Tensor | None]], Callable[..., Any]]


def _run_padding_case(
    case: PaddingCase, poison: bool
) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """Outputs, parameter gradients and input gradients of one call."""
    module, pairs, call = case
    inputs = [
        (fill_padding(x, m, poison) if m is not None else x.clone()).requires_grad_()
        for x, m in pairs
    ]
    if module is None:
        result, maps = call(module, inputs), {}
    else:  # the maps the module records must stay finite and unchanged too
        with record_attentions(module) as maps:
            result = call(module, inputs)
    leaves = [*pytree.tree_leaves(result), *(maps[k] for k in sorted(maps))]
    outputs = [t for t in leaves if isinstance(t, Tensor)]
    floats = [t for t in outputs if t.is_floating_point()]
    loss = sum((t.square() + t).sum() for t in floats)
    params = list(module.parameters()) if module is not None else []
    grads = torch.autograd.grad(loss, [*params, *inputs], allow_unused=True)
    grads = [g if g is not None else torch.zeros(()) for g in grads]
    return [t.detach() for t in outputs], list(grads[: len(params)]), list(grads[len(params) :])


def check_padding_case(case: PaddingCase) -> None:
    """Run a case with zeros, then with NaN, inf and -inf in its padded steps: outputs,
    parameter gradients and input gradients must be finite and the same."""
    module, _, _ = case
    if module is not None:
        module.eval()  # no dropout: both calls draw nothing random
    want = _run_padding_case(case, poison=False)
    got = _run_padding_case(case, poison=True)
    for kind, w_list, g_list in zip(
        ("output", "parameter grad", "input grad"), want, got, strict=True
    ):
        assert len(w_list) == len(g_list)
        for i, (w, g) in enumerate(zip(w_list, g_list, strict=True)):
            if g.is_floating_point():
                assert g.isfinite().all(), f"{kind} {i} is not finite"
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4, msg=f"{kind} {i}")


@st.composite
def mask_row(draw: st.DrawFn, length: int) -> list[bool]:
    """Padding at the start, in the middle, at the end, anywhere, everywhere, or none."""
    kind = draw(st.sampled_from(["full", "start", "middle", "end", "both", "any", "all"]))
    if kind == "any":
        return draw(st.lists(st.booleans(), min_size=length, max_size=length))
    if kind in ("full", "all"):
        return [kind == "full"] * length
    cut = draw(st.integers(0, length))
    if kind == "start":
        return [i >= cut for i in range(length)]
    if kind == "end":
        return [i < cut for i in range(length)]
    other = draw(st.integers(cut, length))
    inside = [cut <= i < other for i in range(length)]
    return [not v for v in inside] if kind == "middle" else inside
