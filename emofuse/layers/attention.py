"""Multi-head attention on ``torch.nn.functional.scaled_dot_product_attention`` with masks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from emofuse.layers.chunked_attention import chunked_dropout_attention
from emofuse.layers.functional import zero_padding
from emofuse.layers.recording import is_recording, record


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention with several heads (Vaswani et al. 2017, eq. 1 and sec. 3.2.2).

    Query and key lengths may differ; key and value widths may differ from the query's. The
    fused ``scaled_dot_product_attention`` kernel runs unless a
    :func:`~emofuse.layers.record_attentions` context is active; then the weights are computed
    explicitly and recorded (B, heads, Tq, Tk). Given the same weights it equals
    ``torch.nn.MultiheadAttention`` (see ``load_torch_weights``).

    Args:
        d_model: query width.
        num_heads: number of heads.
        head_dim: width of each head; default ``d_model // num_heads`` (then ``d_model`` must
            divide). Set it (e.g. ``ceil(d_model / num_heads)``) when ``d_model`` does not divide
            by the heads.
        kdim: key width (default ``d_model``).
        vdim: value width (default ``d_model``).
        out_dim: output width (default ``d_model``).
        dropout: dropout on the attention weights during training.
        bias: biases in the projections.

    Inputs:
        query: (B, Tq, d_model); key: (B, Tk, kdim), default ``query``; value: (B, Tk, vdim),
        default ``key``; key_padding_mask: (B, Tk) bool, True = valid; attn_mask: bool,
        broadcastable to (B, heads, Tq, Tk), True = may attend.
    Returns:
        output (B, Tq, out_dim). A query whose keys are all masked attends to nothing: its
        context is zero (and its recorded weights are zero). Keys padded by
        ``key_padding_mask`` never reach an output, even when they hold NaN or inf (in
        self-attention, ``key`` omitted, the padded queries are zeroed too).
    Records:
        the attention weights (B, heads, Tq, Tk), before dropout.

    Raises:
        ValueError: ``d_model`` does not divide by ``num_heads`` and no ``head_dim`` is given.
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        head_dim: int | None = None,
        kdim: int | None = None,
        vdim: int | None = None,
        out_dim: int | None = None,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if head_dim is None:
            if d_model % num_heads:
                raise ValueError(
                    f"d_model: {d_model} is not divisible by num_heads={num_heads}; pass head_dim"
                )
            head_dim = d_model // num_heads
        inner = num_heads * head_dim
        self.num_heads, self.head_dim, self.dropout = num_heads, head_dim, dropout
        self.q_proj = nn.Linear(d_model, inner, bias=bias)
        self.k_proj = nn.Linear(kdim or d_model, inner, bias=bias)
        self.v_proj = nn.Linear(vdim or d_model, inner, bias=bias)
        self.out_proj = nn.Linear(inner, out_dim or d_model, bias=bias)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        *,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
    ) -> Tensor:
        if key is None:  # self-attention: the padding mask covers the queries too
            query = zero_padding(query, key_padding_mask)
        key = query if key is None else key
        value = key if value is None else value
        # select, never multiply: NaN or inf in a padded key must reach no score or gradient
        key, value = zero_padding(key, key_padding_mask), zero_padding(value, key_padding_mask)
        q, k, v = (
            rearrange(proj(x), "b t (h d) -> b h t d", h=self.num_heads)
            for proj, x in ((self.q_proj, query), (self.k_proj, key), (self.v_proj, value))
        )
        mask = _combine_masks(key_padding_mask, attn_mask)
        dropout = self.dropout if self.training else 0.0
        context = scaled_dot_product(q, k, v, mask=mask, dropout_p=dropout, recorder=(self, None))
        return self.out_proj(rearrange(context, "b h t d -> b t (h d)"))

    @torch.no_grad()
    def load_torch_weights(self, mha: nn.MultiheadAttention) -> None:
        """Copy the weights of a ``torch.nn.MultiheadAttention`` with the same shapes."""
        if mha._qkv_same_embed_dim:
            q, k, v = mha.in_proj_weight.chunk(3)
        else:
            q, k, v = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
        for proj, weight in ((self.q_proj, q), (self.k_proj, k), (self.v_proj, v)):
            proj.weight.copy_(weight)
        if mha.in_proj_bias is not None:
            for proj, bias in zip(
                (self.q_proj, self.k_proj, self.v_proj), mha.in_proj_bias.chunk(3), strict=True
            ):
                proj.bias.copy_(bias)
        self.out_proj.load_state_dict(mha.out_proj.state_dict())


def scaled_dot_product(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    mask: Tensor | None = None,
    bias: Tensor | None = None,
    dropout_p: float = 0.0,
    scale: float | None = None,
    recorder: tuple[nn.Module, str | None] | None = None,
) -> Tensor:
    """``Drop(softmax(q kᵀ · scale + bias)) v`` over the valid keys, per head (Vaswani et al.
    2017, eq. 1), on the fused ``scaled_dot_product_attention`` unless a recording is active.

    Inputs:
        q: (B, heads, Tq, d); k: (B, heads, Tk, d); v: (B, heads, Tk, d_v).
        mask: bool broadcastable to (B, heads, Tq, Tk), True = may attend, or None.
        bias: float broadcastable to (B, heads, Tq, Tk), added to the scores, or None.
        dropout_p: dropout on the attention weights (pass 0.0 outside training).
        scale: of the scores (default ``1 / √d``).
        recorder: (module, name) under which :func:`~emofuse.layers.record` stores the
            weights (B, heads, Tq, Tk), before dropout, when a recording is active.
    Returns:
        the context (B, heads, Tq, d_v). A query with no key to attend to gets a zero
        context (and zero recorded weights), not NaN.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    # A query with no key to attend to would get NaN from the softmax; let it attend
    # everywhere, then zero its context below.
    empty = None
    if mask is not None:
        empty = ~mask.any(-1, keepdim=True)
        mask = mask | empty
    # The explicit product gives the maps to record; torch.export takes it too, since the
    # fused kernel's choice branches on the batch size (a batch of 1 would be frozen).
    if is_recording() or torch.compiler.is_exporting():
        scores = q @ k.transpose(-2, -1) * scale
        if bias is not None:
            scores = scores + bias
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = scores.softmax(-1)
        if empty is not None:
            weights = weights.masked_fill(empty, 0.0)
        if recorder is not None:
            record(recorder[0], weights, recorder[1])
        context = F.dropout(weights, dropout_p) @ v
    elif _chunked_applies(q, mask, bias, dropout_p):
        key_bias = bias
        if mask is not None:
            zero = q.new_zeros(())
            key_bias = torch.where(mask, zero if bias is None else bias, float("-inf"))
        context = chunked_dropout_attention(
            q, k, v, key_bias=key_bias, dropout_p=dropout_p, scale=scale
        )
    else:
        if bias is not None:
            bias = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
        attn_mask = mask if bias is None else bias
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale
        )
    if empty is not None:
        context = context.masked_fill(empty, 0.0)
    return context


def _chunked_applies(q: Tensor, mask: Tensor | None, bias: Tensor | None, dropout_p: float) -> bool:
    """Whether :func:`chunked_dropout_attention` takes the call: dropout in eager mode on a
    CPU, in float32 or float64, with a mask and bias per key (the same for every query).
    Elsewhere ``scaled_dot_product_attention`` has fused kernels with dropout (CUDA) or
    ``torch.compile`` fuses the formula."""
    per_key = all(x is None or (x.dim() == 4 and x.shape[-2] == 1) for x in (mask, bias))
    return (
        dropout_p > 0.0
        and per_key
        and q.device.type == "cpu"
        and q.dtype in (torch.float32, torch.float64)
        and not torch.compiler.is_compiling()
    )


def _combine_masks(key_padding_mask: Tensor | None, attn_mask: Tensor | None) -> Tensor | None:
    """One boolean mask broadcastable to (B, heads, Tq, Tk), True = may attend."""
    mask = None
    if key_padding_mask is not None:
        mask = key_padding_mask[:, None, None, :]
    if attn_mask is not None:
        if attn_mask.dim() == 3:  # (B, Tq, Tk)
            attn_mask = attn_mask[:, None]
        mask = attn_mask if mask is None else mask & attn_mask
    return mask


__all__ = ["MultiHeadAttention", "scaled_dot_product"]
