"""Helpers shared by the tests: padding tools and output comparison."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor


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
