"""Token ids are checked at the model's entrance and text longer than the encoder's position
table is truncated keeping [SEP] (issue #11 item 7)."""

from __future__ import annotations

import pytest
import torch

import emofuse
from emofuse.encoders import truncate_tokens

TEXT_MODELS = ["mer_sem_mbt_tiny", "emotion_query_transformer_tiny", "toy_fusion_tiny"]


def test_every_text_model_is_covered() -> None:
    takes_ids = {
        name
        for name in emofuse.list_models("*_tiny")
        if any(
            s.kind == "int"
            for s in emofuse.registry.get_entry(name).model_class.input_specs(
                emofuse.default_config(name)
            )
        )
    }
    assert takes_ids <= set(TEXT_MODELS)


@pytest.mark.parametrize("name", TEXT_MODELS)
@pytest.mark.parametrize("bad", [-100, -1, "vocab"])
def test_ids_out_of_range_at_valid_positions_are_refused(name: str, bad: int | str) -> None:
    model = emofuse.build(name).eval()
    vocab = model.vocab_sizes()["text"]
    inputs = model.example_inputs(batch_size=2)
    inputs["text"] = inputs["text"].clone()
    inputs["text"][0, 1] = vocab if bad == "vocab" else bad
    with pytest.raises(ValueError, match=rf"text: expected token ids in \[0, {vocab}\)"):
        model(**inputs)


@pytest.mark.parametrize("name", ["mer_sem_mbt_tiny", "emotion_query_transformer_tiny"])
def test_ids_at_padded_positions_are_never_read(name: str) -> None:
    model = emofuse.build(name).eval()
    inputs = model.example_inputs(batch_size=2)
    padded = ~inputs["text_mask"]
    assert padded.any()
    other = dict(inputs, text=torch.where(padded, -100, inputs["text"]))
    with torch.no_grad():
        torch.testing.assert_close(model(**other).logits, model(**inputs).logits)


@pytest.mark.parametrize("name", ["mer_sem_mbt_tiny", "emotion_query_transformer_tiny"])
def test_text_longer_than_the_position_table_is_truncated_keeping_sep(name: str) -> None:
    model = emofuse.build(name).eval()
    limit = model.text_encoder.max_positions
    if model.text_encoder.max_len is not None:
        limit = min(limit, model.text_encoder.max_len)
    inputs = model.example_inputs(batch_size=2)
    length = model.text_encoder.max_positions + 20
    ids = torch.randint(1, model.vocab_sizes()["text"], (2, length))
    mask = torch.arange(length) < torch.tensor([[length], [10]])
    cut_ids, cut_mask = truncate_tokens(ids, mask, limit)
    with torch.no_grad():
        long = model(**dict(inputs, text=ids, text_mask=mask)).logits
        cut = model(**dict(inputs, text=cut_ids, text_mask=cut_mask)).logits
    torch.testing.assert_close(long, cut)


def test_text_max_len_beyond_the_position_table_is_refused_at_build() -> None:
    with pytest.raises(ValueError, match=r"text_max_len: expected at most 128 tokens"):
        emofuse.build("emotion_query_transformer_tiny", text_max_len=129)
    emofuse.build("emotion_query_transformer_tiny", text_max_len=128)
