"""Interactive co-learning (Takashima et al. 2022, sec. 3.2, eqs. 17–20): train one model on
all modalities together and on each alone, so that it keeps working when a modality is missing.

Model-agnostic: a subset of modalities is expressed by which keys (and their ``<name>_mask``)
stay in the input dict, so any model whose ``forward`` accepts a subset of its modalities as
keyword arguments can be trained this way; inputs of other modalities (e.g. ``text``) pass
through untouched.

>>> colearning = CoLearning(("audio", "video"), mode="sample", seed=0)
>>> loss, losses = colearning(model, inputs, targets)   # inputs: dict of keyword tensors
>>> loss.backward()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from emofuse.config import check_choice
from emofuse.losses import multilabel_bce

LossFn = Callable[[Tensor, Tensor], Tensor]
MODES = ("sample", "sum", "conventional")


def subset_name(subset: Sequence[str]) -> str:
    """``("audio", "video")`` → ``"audio+video"``."""
    return "+".join(subset)


def modality_subsets(modalities: Sequence[str]) -> list[tuple[str, ...]]:
    """The paper's three inputs for two modalities: all together, then each alone
    (``[("audio", "video"), ("audio",), ("video",)]``)."""
    modalities = tuple(modalities)
    singles = [(m,) for m in modalities] if len(modalities) > 1 else []
    return [modalities, *singles]


def _check_modalities(modalities: Sequence[str]) -> tuple[str, ...]:
    if (
        isinstance(modalities, str)
        or not modalities
        or not all(isinstance(m, str) and m and not m.endswith("_mask") for m in modalities)
        or len(set(modalities)) != len(modalities)
    ):
        raise ValueError(
            f"modalities: expected distinct modality names such as ('audio', 'video'), "
            f"got {modalities!r}"
        )
    return tuple(modalities)


def _check_subsets(subsets: Sequence[Sequence[str]], modalities: Sequence[str]) -> None:
    for s in subsets:
        if isinstance(s, str) or not s or not set(s) <= set(modalities):
            raise ValueError(
                f"subsets: expected non-empty subsets of the modalities {list(modalities)}, "
                f"got {s!r}"
            )


def _check_inputs_hold(inputs: Mapping[str, Any], modalities: Sequence[str]) -> None:
    # a name that matches no input would drop nothing: the "single-modality" passes would
    # silently run on every modality
    unknown = [m for m in modalities if m not in inputs]
    if unknown:
        valid = sorted(k for k in inputs if not k.endswith("_mask"))
        raise ValueError(
            f"modalities: {unknown} are not keys of inputs; each droppable modality must be "
            f"given, so expected names among the inputs' modalities {valid}"
        )


def drop_modalities(
    inputs: Mapping[str, Any], keep: Sequence[str], modalities: Sequence[str]
) -> dict[str, Any]:
    """``inputs`` without each of ``modalities`` that is not in ``keep`` (and its ``_mask``).

    Keys that belong to no name of ``modalities`` (another modality such as ``text``, or any
    other argument) are kept as they are.

    Raises:
        ValueError: when ``modalities`` are not distinct names, or ``keep`` names a modality
            outside ``modalities``.
    """
    modalities = _check_modalities(modalities)
    if isinstance(keep, str) or not set(keep) <= set(modalities):
        raise ValueError(
            f"keep: expected names among the modalities {list(modalities)}, got {keep!r}"
        )
    dropped = set(modalities) - set(keep)
    dropped |= {f"{m}_mask" for m in dropped}
    return {k: v for k, v in inputs.items() if k not in dropped}


def _logits(output: Any) -> Tensor:
    return output if isinstance(output, Tensor) else output.logits


def _subset_loss(
    model: Callable[..., Any], inputs: Mapping[str, Any], targets: Tensor, loss_fn: LossFn
) -> Tensor:
    logits = _logits(model(**inputs))
    if logits.shape[0] == 0:  # the sum of no element: 0, with a zero gradient to the model
        return logits.sum()
    return loss_fn(logits, targets)


def colearning_loss(
    model: Callable[..., Any],
    inputs: Mapping[str, Any],
    targets: Tensor,
    subsets: Sequence[Sequence[str]],
    modalities: Sequence[str],
    loss_fn: LossFn = multilabel_bce,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 20: ``Σ_s loss_fn(model(inputs restricted to s), targets)`` over ``subsets``
    (``L_AV + L_A + L_V`` for the paper's three).

    Args:
        model: called as ``model(**inputs)``; returns logits or an output with ``.logits``.
        inputs: keyword inputs with every name of ``modalities`` present.
        targets: what ``loss_fn`` compares the logits with, e.g. (B, K) multi-hot labels.
        subsets: the modality subsets to train on, each non-empty.
        modalities: the droppable modalities, each a key of ``inputs``; other keys of
            ``inputs`` always pass through.
        loss_fn: ``(logits, targets) → scalar``; default :func:`~emofuse.losses.multilabel_bce`.
    Returns:
        (total loss, ``{subset_name: loss}``). An empty batch (logits with B = 0) gives 0 for
        every subset, with a zero, finite gradient, without calling ``loss_fn``.
    Raises:
        ValueError: when ``modalities`` are not distinct names that are all keys of ``inputs``
            (the message lists the valid names), or a subset is empty or not within
            ``modalities``.
    """
    modalities = _check_modalities(modalities)
    _check_subsets(subsets, modalities)
    _check_inputs_hold(inputs, modalities)
    losses = {
        subset_name(s): _subset_loss(
            model, drop_modalities(inputs, s, modalities), targets, loss_fn
        )
        for s in subsets
    }
    return torch.stack(list(losses.values())).sum(), losses


class CoLearning:
    """Interactive co-learning as a per-step loss (Takashima et al. 2022, sec. 3.2).

    Modes:
        ``"sample"``: the paper's mini-batch scheme: each step draws one subset uniformly
            (one of AV, A, V) and drops the other modalities from the batch; in expectation
            the gradient is that of eq. 20 divided by the number of subsets.
        ``"sum"``: each step computes every subset's loss and sums them (eq. 20 literally;
            one forward pass per subset).
        ``"conventional"``: the baseline of eq. 3: all modalities together only.

    An empty batch (B = 0) gives a zero loss with a zero, finite gradient, whatever ``loss_fn``.

    Args:
        modalities: the droppable modalities, e.g. ``("audio", "video")``, each a key of the
            inputs of every step (checked at each call, where the valid names are known);
            inputs for any other keyword pass through untouched.
        mode: one of ``"sample"``, ``"sum"``, ``"conventional"``.
        subsets: the subsets to train on, each once; default :func:`modality_subsets` (all
            together, then each alone). ``"conventional"`` uses only the full one.
        loss_fn: ``(logits, targets) → scalar``; default multi-label BCE (eqs. 17–19).
        seed: seeds this object's own ``torch.Generator``, so the draws are reproducible and
            independent of the global random state.

    Call ``colearning(model, inputs, targets)`` each step; it returns
    ``(loss, {subset_name: loss})`` with one entry per subset used in that step.

    Raises:
        ValueError: for an unknown ``mode``, ``modalities`` that are not distinct names,
            ``subsets`` that are empty, repeated or not within ``modalities`` (or lack the full
            set in ``"conventional"`` mode); at a call, for a name of ``modalities`` that is not a
            key of the inputs (the message lists the valid names).
    """

    def __init__(
        self,
        modalities: Sequence[str] = ("audio", "video"),
        *,
        mode: str = "sample",
        subsets: Sequence[Sequence[str]] | None = None,
        loss_fn: LossFn = multilabel_bce,
        seed: int = 0,
    ) -> None:
        check_choice("mode", mode, MODES)
        self.modalities = _check_modalities(modalities)
        if subsets is not None and isinstance(subsets, str):
            raise ValueError(f"subsets: expected a list of modality subsets, got {subsets!r}")
        _check_subsets(subsets or [], self.modalities)
        chosen = [tuple(s) for s in (subsets or modality_subsets(self.modalities))]
        if len({frozenset(s) for s in chosen}) < len(chosen):
            # eq. 20 has each term once; a repeat would be merged (same name) or doubled
            raise ValueError(f"subsets: expected each subset once, got {chosen}")
        if mode == "conventional":  # eq. 3: all modalities together, whatever else is listed
            if not any(set(s) == set(self.modalities) for s in chosen):
                raise ValueError(
                    f"subsets: mode='conventional' trains on all of {list(self.modalities)} "
                    f"together (eq. 3), got subsets without it: {chosen}"
                )
            chosen = [self.modalities]
        self.subsets = chosen
        self.mode, self.loss_fn = mode, loss_fn
        self.generator = torch.Generator().manual_seed(seed)

    def next_subsets(self) -> list[tuple[str, ...]]:
        """The subsets of the next step (draws one in ``"sample"`` mode)."""
        if self.mode == "sample":
            index = int(torch.randint(len(self.subsets), (1,), generator=self.generator))
            return [self.subsets[index]]
        return list(self.subsets)

    def __call__(
        self, model: Callable[..., Any], inputs: Mapping[str, Any], targets: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        _check_inputs_hold(inputs, self.modalities)  # before a draw, so a bad step draws nothing
        subsets = self.next_subsets()
        return colearning_loss(model, inputs, targets, subsets, self.modalities, self.loss_fn)

    def state_dict(self) -> dict[str, Any]:
        """The generator state, so a resumed run draws the same subsets."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])


__all__ = [
    "MODES",
    "CoLearning",
    "colearning_loss",
    "drop_modalities",
    "modality_subsets",
    "multilabel_bce",
    "subset_name",
]
