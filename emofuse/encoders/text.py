"""Hugging Face text encoders (BERT for Xia et al. 2022, ALBERT for Le et al. 2023)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from transformers import AlbertConfig, AutoConfig, AutoModel, BertConfig, PretrainedConfig

# Configs built locally, so that ``pretrained=False`` needs no file or network.
LOCAL_CONFIGS: dict[str, Callable[[], PretrainedConfig]] = {
    "bert-base-uncased": lambda: BertConfig(),  # 12 layers, 768 wide, 30522 word pieces
    "albert-base-v2": lambda: AlbertConfig(
        hidden_size=768,
        num_attention_heads=12,
        intermediate_size=3072,
        embedding_size=128,
        vocab_size=30000,
    ),
    # Small stand-ins of the same architectures, for the ``_tiny`` model variants.
    "emofuse/bert-tiny": lambda: BertConfig(
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    ),
    "emofuse/albert-tiny": lambda: AlbertConfig(
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        embedding_size=16,
        max_position_embeddings=128,
    ),
}


def _build(name: str, pretrained: bool) -> nn.Module:
    kwargs: dict[str, Any] = {"add_pooling_layer": False}  # the CLS pooler is never used
    is_dir = Path(name).is_dir()
    if pretrained:
        try:
            try:
                return AutoModel.from_pretrained(name, **kwargs)
            except TypeError:
                return AutoModel.from_pretrained(name)
        except OSError as error:
            raise OSError(
                f"text_encoder: could not load pretrained weights for {name!r} ({error}). "
                "Offline, pass a local folder written by transformers' save_pretrained, e.g. "
                "build(..., text_encoder='/path/to/bert-base-uncased'), or use pretrained=False."
            ) from error
    if name in LOCAL_CONFIGS:
        config = LOCAL_CONFIGS[name]()
    elif is_dir:
        config = AutoConfig.from_pretrained(name)  # a local folder: its config, random weights
    else:
        raise ValueError(
            f"text_encoder: with pretrained=False expected one of {sorted(LOCAL_CONFIGS)} or a "
            f"local folder with a config.json, got {name!r}"
        )
    try:
        return AutoModel.from_config(config, **kwargs)
    except TypeError:
        return AutoModel.from_config(config)


class HFTextEncoder(nn.Module):
    """A Hugging Face encoder returning its last hidden states, or the CLS vector.

    Args:
        name_or_path: a name of :data:`LOCAL_CONFIGS`, a hub id or a local folder.
        pretrained: load published weights (hub id or folder); otherwise random init from the
            config (a local folder's ``config.json`` when a folder is given).
        output: ``"cls"`` for the state of the first valid token (B, H), zeros for a text
            with no valid token; ``"tokens"`` for all states (B, L, H);
            ``"tokens_without_cls"`` drops the first position (B, L-1, H) and masks out the
            first valid token (the CLS of a left-padded text).
        max_len: keep at most this many tokens (CLS included); ``None`` keeps all. A longer
            text keeps its last real token (the closing ``[SEP]``), as a tokenizer truncating
            to ``max_length`` does; tokens are expected first, padding after.

    Inputs:
        input_ids: (B, L) int; mask: (B, L) bool, True = real token.
    """

    def __init__(
        self,
        name_or_path: str,
        *,
        pretrained: bool = False,
        output: Literal["cls", "tokens", "tokens_without_cls"] = "cls",
        max_len: int | None = None,
    ) -> None:
        super().__init__()
        self.model = _build(str(name_or_path), pretrained)
        self.output, self.max_len = output, max_len

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)

    def forward(self, input_ids: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Returns (states, mask): states (B, H) for ``"cls"`` (mask then (B,), True where the
        text has any token), else (B, L', H) with its (B, L') mask. Padding may come before,
        between or after the tokens: padded ids never change a returned valid state, and an
        empty batch (B = 0) gives empty states."""
        if mask is None:
            mask = torch.ones_like(input_ids, dtype=torch.bool)
        if self.max_len is not None and input_ids.shape[1] > self.max_len:
            input_ids, mask = truncate_tokens(input_ids, mask, self.max_len)
        if input_ids.shape[0] == 0:  # transformers cannot reshape an empty batch
            weight = next(self.model.parameters())
            states = weight.new_zeros(*input_ids.shape, self.hidden_size)
        else:
            states = self.model(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state
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
