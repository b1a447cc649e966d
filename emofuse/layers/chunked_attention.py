"""Attention with dropout on the CPU in cache-sized chunks, keeping one byte per (query, key)
pair for the backward pass.

``scaled_dot_product_attention``'s fused CPU kernel has no dropout: with ``dropout_p > 0`` it
falls back to the textbook formula, which keeps the scores, the softmax, the dropout mask and
the dropped weights of every (query, key) pair for the backward pass.
:class:`ChunkedDropoutAttention` computes the same ``Drop(softmax(q kᵀ · scale + bias)) v``
(dropout on the attention weights, Vaswani et al. 2017, sec. 5.4) a few (batch × head) slices
at a time, so that each slice's maps stay in the CPU cache, and keeps q, k, v, the output and
the dropout mask (one byte per pair instead of three float maps): the backward pass recomputes
each slice's weights (the recomputation of FlashAttention, Dao et al. 2022, sec. 3.1, without
its tiling of the key axis) and gets the softmax's row sums from the output (``D = dO · O``).

The mask comes from a generator of its own, seeded from the default one: runs repeat under
``torch.manual_seed``, but the masks differ from those of ``torch.nn.functional.dropout``.
"""

from __future__ import annotations

from typing import Any

import torch
from einops import rearrange
from torch import Tensor

CHUNK_ELEMENTS = 1 << 18
"""(query, key) pairs per chunk: 1 MiB of float32 scores, about one core's L2 cache."""


def _keep(shape: torch.Size, p: float, generator: torch.Generator, dtype: torch.dtype) -> Tensor:
    """The dropout mask as 0/1 in ``dtype`` (1 = kept, with probability 1 − ``p``), drawn from
    ``generator``: a float mask multiplies several times faster than a bool one selects."""
    return torch.rand(shape, generator=generator, dtype=dtype).ge_(p)


def _slices(n: int, t: int, s: int) -> list[slice]:
    per = max(1, CHUNK_ELEMENTS // max(1, t * s) * torch.get_num_threads())
    return [slice(a, min(n, a + per)) for a in range(0, n, per)]


def _weights(q_t: Tensor, k_t: Tensor, bias: Tensor | None, scale: float) -> Tensor:
    """softmax(q kᵀ · scale + bias) of one chunk, from transposed q and k."""
    if bias is None:
        scores = torch.bmm(q_t.transpose(1, 2), k_t).mul_(scale)
    else:
        scores = torch.baddbmm(bias, q_t.transpose(1, 2), k_t, alpha=scale)
    return torch.softmax(scores, dim=-1)


class ChunkedDropoutAttention(torch.autograd.Function):
    """``Drop(softmax(q kᵀ · scale + bias)) v`` in chunks of (batch × head) slices.

    Works on transposed inputs, (N, d, T): every product then has the head width as its
    short side, which the CPU's matrix kernels run several times faster than products whose
    short side is the last (e.g. weights (T_q, T_k) @ v (T_k, 5)).

    Inputs:
        q_t: (N, d, T_q); k_t: (N, d, T_k); v_t: (N, d_v, T_k), N = batch × heads,
        contiguous. bias: (N, 1, T_k) added to every query's scores (``-inf`` at masked keys;
        every row must keep one finite entry), or None. p: dropout probability in (0, 1);
        scale: of the scores.
    Returns:
        the context transposed, (N, d_v, T_q). The dropout mask is drawn from a generator
        seeded by one draw of the default generator, so ``torch.manual_seed`` makes runs
        repeat; it is kept for the backward pass as one byte per (query, key) pair.
    """

    @staticmethod
    def forward(
        ctx: Any,
        q_t: Tensor,
        k_t: Tensor,
        v_t: Tensor,
        bias: Tensor | None,
        p: float,
        scale: float,
    ) -> Tensor:
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ()).item()))
        out_t = q_t.new_empty(q_t.shape[0], v_t.shape[1], q_t.shape[2])
        # the dropout mask, one byte per (query, key) pair: cheaper to keep than to redraw
        kept = None
        if any(ctx.needs_input_grad):
            kept = torch.empty(q_t.shape[0], q_t.shape[2], k_t.shape[2], dtype=torch.bool)
        for c in _slices(q_t.shape[0], q_t.shape[2], k_t.shape[2]):
            weights = _weights(q_t[c], k_t[c], None if bias is None else bias[c], scale)
            keep = _keep(weights.shape, p, generator, weights.dtype)
            weights.mul_(keep)
            torch.bmm(v_t[c], weights.transpose(1, 2), out=out_t[c])
            if kept is not None:
                kept[c] = keep
        out_t.mul_(1.0 / (1.0 - p))
        ctx.save_for_backward(q_t, k_t, v_t, bias, out_t, kept)
        ctx.p, ctx.scale = p, scale
        return out_t

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out_t: Tensor) -> tuple[Tensor | None, ...]:
        q_t, k_t, v_t, bias, out_t, kept = ctx.saved_tensors
        p, scale = ctx.p, ctx.scale
        grad_out_t = grad_out_t.contiguous()
        # D_i = Σ_j P_ij dP_ij = dO_i · O_i: the softmax backward without the weights' rows
        delta = (grad_out_t * out_t).sum(1)[:, :, None]  # (N, T_q, 1)
        grad_q, grad_k, grad_v = (torch.empty_like(x) for x in (q_t, k_t, v_t))
        want_bias = bias is not None and ctx.needs_input_grad[3]
        grad_bias = q_t.new_empty(q_t.shape[0], 1, k_t.shape[2]) if want_bias else None
        keep_scale = 1.0 / (1.0 - p)
        for c in _slices(q_t.shape[0], q_t.shape[2], k_t.shape[2]):
            weights = _weights(q_t[c], k_t[c], None if bias is None else bias[c], scale)
            keep = kept[c].to(weights.dtype)
            torch.bmm(grad_out_t[c], weights * keep, out=grad_v[c])
            grad_weights = torch.bmm(grad_out_t[c].transpose(1, 2), v_t[c])
            grad_weights.mul_(keep).mul_(keep_scale)
            grad_scores = grad_weights.sub_(delta[c]).mul_(weights)
            if grad_bias is not None:
                torch.sum(grad_scores, dim=1, keepdim=True, out=grad_bias[c])
            torch.bmm(k_t[c], grad_scores.transpose(1, 2), out=grad_q[c])
            torch.bmm(q_t[c], grad_scores, out=grad_k[c])
        grad_v.mul_(keep_scale)
        grad_q.mul_(scale)
        grad_k.mul_(scale)
        return grad_q, grad_k, grad_v, grad_bias, None, None


def chunked_dropout_attention(
    q: Tensor, k: Tensor, v: Tensor, *, key_bias: Tensor | None, dropout_p: float, scale: float
) -> Tensor:
    """:class:`ChunkedDropoutAttention` on (B, heads, T, d) inputs.

    Inputs:
        q: (B, heads, T_q, d); k: (B, heads, T_k, d); v: (B, heads, T_k, d_v);
        key_bias: (B, 1, 1, T_k) or (B, heads, 1, T_k) float added to every query's scores
        (``-inf`` at masked keys, one finite entry per row at least), or None.
        dropout_p: in (0, 1); scale: of the scores.
    Returns:
        (B, heads, T_q, d_v).
    """
    b, h = q.shape[:2]
    flat = [rearrange(x, "b h t d -> (b h) d t").contiguous() for x in (q, k, v)]
    bias = None
    if key_bias is not None:
        bias = key_bias.expand(b, h, 1, k.shape[2]).reshape(b * h, 1, k.shape[2])
    out_t = ChunkedDropoutAttention.apply(*flat, bias, dropout_p, scale)
    return rearrange(out_t, "(b h) d t -> b h t d", b=b)


__all__ = ["CHUNK_ELEMENTS", "ChunkedDropoutAttention", "chunked_dropout_attention"]
