"""Hugging Face text encoders (BERT for Xia et al. 2022, ALBERT for Le et al. 2023)."""

from __future__ import annotations

import inspect
import re
from typing import Literal

import torch
from torch import Tensor, nn

from emofuse.encoders.weights import LOCAL_CONFIGS, build_text_model


class HFTextEncoder(nn.Module):
    """A Hugging Face encoder returning its last hidden states, or the CLS vector.

    Args:
        name_or_path: a name of :data:`LOCAL_CONFIGS`, a hub id or a local folder (a folder's
            weights are always loaded; see :func:`emofuse.encoders.weights.build_text_model`).
        pretrained: fetch a hub id's published weights; otherwise a name of
            :data:`LOCAL_CONFIGS` is randomly initialised.
        output: ``"cls"`` for the state of the first valid token (B, H), zeros for a text
            with no valid token; ``"tokens"`` for all states (B, L, H);
            ``"tokens_without_cls"`` drops the first position (B, L-1, H) and masks out the
            first valid token (the CLS of a left-padded text).
        max_len: keep at most this many tokens (CLS included); ``None`` keeps as many as the
            encoder's position table holds (``max_position_embeddings``). A longer text keeps
            its last real token (the closing ``[SEP]``), as a tokenizer truncating to
            ``max_length`` does; tokens are expected first, padding after.
        field: the config field that names the encoder, for error messages.
        frozen: keep the encoder as loaded: its parameters get ``requires_grad=False``, it
            stays in eval mode (no dropout) when the model around it trains, and its forward
            pass keeps no graph.

    Inputs:
        input_ids: (B, L) int, ids in [0, vocab_size) where ``mask`` is True (padded ids are
        never read); mask: (B, L) bool, True = real token.

    Raises:
        ValueError: ``max_len`` longer than the encoder's position table; see
            :func:`~emofuse.encoders.weights.build_text_model` for the loading errors.
    """

    def __init__(
        self,
        name_or_path: str,
        *,
        pretrained: bool = False,
        output: Literal["cls", "tokens", "tokens_without_cls"] = "cls",
        max_len: int | None = None,
        field: str = "text_encoder",
        frozen: bool = False,
    ) -> None:
        super().__init__()
        self.name_or_path = str(name_or_path)
        self.model = build_text_model(self.name_or_path, pretrained=pretrained, field=field)
        self.output = output
        self.max_len = self.check_max_len(max_len, "max_len")
        self.frozen = frozen
        # absolute position tables (BERT, ALBERT, RoBERTa ...) take position ids from us
        self.takes_position_ids = "position_ids" in inspect.signature(self.model.forward).parameters
        if frozen:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True) -> HFTextEncoder:
        """As :meth:`torch.nn.Module.train`; a frozen encoder stays in eval mode."""
        return super().train(mode and not self.frozen)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The parameters from the bottom of the encoder to its top, for layer-wise learning
        rates: ``[embeddings, layer 0, …, layer N-1]``, and whatever sits above the layers
        (a pooler, a final norm) with the top layer. ALBERT's embedding projection counts as
        embeddings and its weight-shared layer group is one entry. Frozen parameters are
        included (callers keep the trainable ones)."""
        depth = 0
        indexed: list[tuple[int, nn.Parameter]] = []
        for name, param in self.model.named_parameters():
            layer = re.search(r"(?:^|\.)(?:layer|layers|albert_layer_groups)\.(\d+)\.", name)
            if re.search(r"(?:^|\.)embedding", name):  # ALBERT's embedding_hidden_mapping_in too
                indexed.append((0, param))
            elif layer is not None:
                depth = max(depth, int(layer[1]) + 1)
                indexed.append((int(layer[1]) + 1, param))
            else:
                indexed.append((-1, param))  # above the layers
        groups: list[list[nn.Parameter]] = [[] for _ in range(depth + 1)]
        for index, param in indexed:
            groups[depth if index < 0 else index].append(param)
        return [g for g in groups if g]

    @property
    def max_positions(self) -> int | None:
        """Length of the position table (``None``: the architecture has none)."""
        value = getattr(self.model.config, "max_position_embeddings", None)
        return int(value) if value is not None else None

    def check_max_len(self, max_len: int | None, argument: str) -> int | None:
        """``max_len`` if the position table holds it, else a ``ValueError`` naming
        ``argument``."""
        limit = self.max_positions
        if max_len is not None and limit is not None and max_len > limit:
            raise ValueError(
                f"{argument}: expected at most {limit} tokens (the position table of "
                f"{self.name_or_path!r}), got {max_len}"
            )
        return max_len

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)

    def forward(self, input_ids: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Returns (states, mask): states (B, H) for ``"cls"`` (mask then (B,), True where the
        text has any token), else (B, L', H) with its (B, L') mask. Padding may come before,
        between or after the tokens: padded ids never change a returned valid state, the
        valid tokens are numbered 0, 1, ... in the position table wherever the padding is (so
        a left-padded text gives the states of the same text unpadded), and an empty batch
        (B = 0) gives empty states."""
        if mask is None:
            mask = torch.ones_like(input_ids, dtype=torch.bool)
        limit = self.max_len if self.max_len is not None else self.max_positions
        if limit is not None and input_ids.shape[1] > limit:
            input_ids, mask = truncate_tokens(input_ids, mask, limit)
        input_ids = torch.where(mask, input_ids, 0)  # a padded id is never looked up
        if input_ids.shape[0] == 0:  # transformers cannot reshape an empty batch
            weight = next(self.model.parameters())
            states = weight.new_zeros(*input_ids.shape, self.hidden_size)
        else:
            # positions count the valid tokens only, so a text reads the same wherever its
            # padding is (before, between or after its tokens)
            positions = {"position_ids": (mask.long().cumsum(1) - 1).clamp(min=0)}
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
                states = self.model(
                    input_ids=input_ids,
                    attention_mask=mask.long(),
                    **(positions if self.takes_position_ids else {}),
                ).last_hidden_state
        # the first valid token is the CLS, wherever the padding is (left-padded: not at 0)
        first = mask.int().argmax(1)
        if self.output == "cls":
            present = mask.any(1)
            cls = states[torch.arange(states.shape[0], device=states.device), first]
            return torch.where(present[:, None], cls, 0.0), present
        if self.output == "tokens_without_cls":
            is_cls = torch.arange(mask.shape[1], device=mask.device) == first[:, None]
            return states[:, 1:], (mask & ~is_cls)[:, 1:]
        return states, mask


def truncate_tokens(input_ids: Tensor, mask: Tensor, max_len: int) -> tuple[Tensor, Tensor]:
    """Cut (B, L) ids and mask to ``max_len``; a row with more real tokens keeps its last one
    (the closing ``[SEP]``) in the final slot, as Hugging Face tokenizers truncate."""
    lengths = mask.sum(1)
    last = input_ids.gather(1, (lengths - 1).clamp(min=0)[:, None]).squeeze(1)
    ids, mask = input_ids[:, :max_len].clone(), mask[:, :max_len]
    too_long = lengths > max_len
    ids[:, -1] = torch.where(too_long, last, ids[:, -1])
    return ids, mask


__all__ = ["LOCAL_CONFIGS", "HFTextEncoder", "truncate_tokens"]
