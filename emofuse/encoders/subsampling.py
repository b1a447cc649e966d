"""Convolutional subsampling of acoustic feature sequences (Takashima et al. 2022, eq. 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from emofuse.layers import get_activation


class ConvolutionPooling(nn.Module):
    """``ConvolutionPooling()`` of Takashima et al. 2022 (eq. 4, sec. 4.2): ``num_layers`` ×
    [1-D convolution over time → activation → max-pooling with kernel and stride 2], so the
    sequence shrinks to ``ceil(T / 2**num_layers)`` steps (T/4 for the paper's two layers).

    Masks are honoured so that padding never leaks into a valid step:

    - padded steps are zeroed before each convolution, so a valid step next to padding sees
      the same zeros as at the end of an unpadded sequence;
    - padded steps are set to the dtype's lowest value before each pooling, so a window never
      takes its maximum from padding; pooling runs in ``ceil_mode``, so the last valid step of
      an odd-length sequence is kept whether or not padding follows it;
    - a pooled step is valid iff its window covers a valid step (the mask is max-pooled), and
      padded pooled steps are zero on output.

    Args:
        in_dim: input feature width (240 = 80 log-mel + Δ + ΔΔ in the paper).
        out_dim: output width (the transformer width d).
        num_layers: convolution-and-pooling stages (paper: 2; at least 1).
        kernel_size: odd kernel of each convolution over time ("same" padding).
        activation: name for :func:`emofuse.layers.get_activation`.

    Inputs:
        x: (B, T, in_dim); mask: (B, T) bool, True = valid, or None (all valid).
    Returns:
        (y (B, T', out_dim), mask (B, T') bool) with ``T' = ceil(T / 2**num_layers)``;
        y is zero at padded steps.

    Raises:
        ValueError: an even ``kernel_size``.
    """

    def __init__(
        self,
        in_dim: int,
        *,
        out_dim: int,
        num_layers: int = 2,
        kernel_size: int = 3,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(
                f"num_layers: expected at least 1 stage (the first convolution maps in_dim to "
                f"out_dim), got {num_layers}"
            )
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: expected an odd size, got {kernel_size}")
        self.convs = nn.ModuleList(
            nn.Conv1d(in_dim if i == 0 else out_dim, out_dim, kernel_size, padding=kernel_size // 2)
            for i in range(num_layers)
        )
        self.activation = get_activation(activation)

    @property
    def stride(self) -> int:
        """Input steps per output step."""
        return 2 ** len(self.convs)

    def output_length(self, length: int) -> int:
        """Steps out for ``length`` steps in."""
        for _ in self.convs:
            length = -(-length // 2)
        return length

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        h = rearrange(x, "b t c -> b c t")
        for conv in self.convs:
            valid = mask[:, None, :]
            h = self.activation(conv(h.masked_fill(~valid, 0.0)))
            # the lowest value of the convolution's output dtype (bf16 under autocast)
            lowest = torch.finfo(h.dtype).min
            h, mask = _pairwise_max(h.masked_fill(~valid, lowest), lowest), _pairwise_any(mask)
        h = h.masked_fill(~mask[:, None, :], 0.0)
        return rearrange(h, "b c t -> b t c"), mask


def _pairwise_max(x: Tensor, fill: float) -> Tensor:
    """``max_pool1d(x, 2, 2, ceil_mode=True)`` over the last axis, a last odd step paired with
    ``fill``: (..., T) -> (..., ceil(T / 2)). Written with two gathers because pooling (ceil
    mode or not) freezes the length, or its parity, of an exported graph."""
    first = torch.arange(0, x.shape[-1], 2, device=x.device)
    padded = F.pad(x, (0, 1), value=fill)
    return torch.maximum(padded.index_select(-1, first), padded.index_select(-1, first + 1))


def _pairwise_any(mask: Tensor) -> Tensor:
    """A (B, T) mask pooled like the steps: a pair is valid when either step is."""
    return _pairwise_max(mask.to(torch.uint8), 0) > 0


__all__ = ["ConvolutionPooling"]
