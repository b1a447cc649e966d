"""Sinusoidal positional encoding (Vaswani et al. 2017, sec. 3.5)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class SinusoidalPositionalEncoding(nn.Module):
    """``PE[t, 2i] = sin(t / 10000^(2i/d))``, ``PE[t, 2i+1] = cos(t / 10000^(2i/d))``.

    The table is a non-persistent buffer (not saved with the weights) that grows when a longer
    sequence arrives, so any length works.

    Args:
        d_model: feature width (odd widths work).
        max_len: rows computed up front.
        base: the wavelength base (10000 in the paper).

    Inputs:
        x: (B, T, d_model).
    Returns:
        ``x + PE[:T]``; :meth:`encoding` gives the (T, d_model) table alone.
    """

    pe: Tensor

    def __init__(self, d_model: int, *, max_len: int = 512, base: float = 10000.0) -> None:
        super().__init__()
        self.d_model, self.base = d_model, base
        self.register_buffer("pe", self._table(max_len), persistent=False)

    def _table(self, length: int, device: torch.device | None = None) -> Tensor:
        position = torch.arange(length, dtype=torch.float32, device=device)[:, None]
        half = (self.d_model + 1) // 2
        freq = torch.exp(
            torch.arange(half, dtype=torch.float32, device=device)
            * (-2 * math.log(self.base) / self.d_model)
        )
        angle = position * freq
        table = torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1).flatten(1)
        return table[:, : self.d_model]

    def encoding(self, length: int, dtype: torch.dtype | None = None) -> Tensor:
        """The (length, d_model) table, grown first when ``length`` exceeds the cached rows.

        While ``torch.export`` traces, the rows are computed for ``length`` itself, so that an
        exported graph takes any length (a buffer cannot grow inside it)."""
        if torch.compiler.is_exporting():
            pe = self._table(length, self.pe.device)
        else:
            if length > self.pe.shape[0]:
                self.pe = self._table(max(length, 2 * self.pe.shape[0]), self.pe.device)
            pe = self.pe[:length]
        return pe if dtype is None else pe.to(dtype)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.encoding(x.shape[1], x.dtype)


__all__ = ["SinusoidalPositionalEncoding"]
