"""Every registered model's training step compiles with ``torch.compile(fullgraph=True)`` (no
graph break: frame packing, input checks and token-id checks included) and gives the eager
outputs and gradients.

One small shape per tiny model (batch 2, its example lengths, padding in some rows), dropout
off so that both runs draw nothing random; BatchNorm layers train on batch statistics in both.
``backend="aot_eager"`` traces the same full graph as inductor (dynamo and AOT autograd, where
graph breaks arise) without generating code, to keep the file fast on a few cores.
Tolerances: atol 1e-5, rtol 1e-4 (float32; the traced graph may reorder sums)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import emofuse

TINY = emofuse.list_models("*_tiny")


def _without_dropout(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "dropout", None), float):
            module.dropout = 0.0  # layers that call the functional dropout with a rate
    return model


def _step(model: nn.Module, inputs: dict[str, Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """A training forward and the gradients of a loss on every output."""
    out = model(**inputs)
    outputs = [t for t in (out.logits, out.embedding) if t is not None]
    outputs += [out.modality_logits[k] for k in sorted(out.modality_logits or {})]
    loss = sum((t.square() + t).sum() for t in outputs)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [t.detach() for t in outputs], [g if g is not None else torch.zeros(()) for g in grads]


@pytest.mark.parametrize("name", TINY)
def test_training_step_compiles_fullgraph_with_eager_outputs_and_grads(name: str) -> None:
    torch.manual_seed(0)
    model = _without_dropout(emofuse.build(name, dropout=0.0).train())
    inputs = model.example_inputs(batch_size=2, generator=torch.Generator().manual_seed(1))
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    got, got_grads = _step(compiled, inputs)
    want, want_grads = _step(model, inputs)
    assert len(got) == len(want) and len(got_grads) == len(want_grads)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
    for g, w in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
    if model.vocab_sizes():  # the token-id check runs inside the graph
        bad = dict(inputs, text=torch.full_like(inputs["text"], 10**6))
        with pytest.raises(RuntimeError, match="expected token ids"):
            compiled(**bad)
