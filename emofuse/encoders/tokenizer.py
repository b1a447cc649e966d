"""The tokenizer that matches each text encoder (Hugging Face ``AutoTokenizer``).

Which tokenizer a ``text_encoder`` name gets:

- ``emofuse/bert-tiny`` and ``emofuse/albert-tiny`` (the ``_tiny`` variants): the uncased
  WordPiece tokenizer shipped in the package (MiniLM's 30,522-entry vocabulary, see
  ``tokenizers/minilm-uncased/NOTICE.md``); no file outside the package, no network;
- a local folder: the tokenizer saved in it (``tokenizer.json``, ``vocab.txt``,
  ``spiece.model`` ... as transformers' ``save_pretrained`` writes them);
- a hub id (``bert-base-uncased``, ``albert-base-v2``): transformers' tokenizer of that id, from
  the Hugging Face cache first; fetched only when the hub can be reached.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from emofuse.encoders.weights import (
    WeightsUnavailableError,
    _hf_endpoint,
    _hf_offline,
    _looks_like_path,
    _reachable,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# the tokenizer folder shipped for each local stand-in encoder (see LOCAL_CONFIGS)
LOCAL_TOKENIZERS = {
    "emofuse/bert-tiny": "minilm-uncased",
    "emofuse/albert-tiny": "minilm-uncased",
}
# SHA-256 of the shipped vocabularies, checked when they are read
VOCAB_SHA256 = {
    "minilm-uncased": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
# files that make a folder a saved tokenizer (any one of them)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model")


class TokenizerUnavailableError(WeightsUnavailableError):
    """A hub tokenizer that is neither cached nor reachable (offline)."""


def shipped_tokenizer_folder(name: str) -> Path:
    """The folder of a tokenizer shipped in the package, its vocabulary checked.

    Raises:
        ValueError: ``name`` is not shipped, or its vocabulary was changed after installation.
    """
    if name not in VOCAB_SHA256:
        raise ValueError(f"tokenizer: expected one of {sorted(VOCAB_SHA256)}, got {name!r}")
    folder = Path(str(resources.files("emofuse.encoders") / "tokenizers" / name))
    digest = hashlib.sha256((folder / "vocab.txt").read_bytes()).hexdigest()
    if digest != VOCAB_SHA256[name]:
        raise ValueError(
            f"tokenizer: {folder / 'vocab.txt'} has SHA-256 {digest}, expected "
            f"{VOCAB_SHA256[name]}; the installed file was changed (reinstall emofuse)"
        )
    return folder


def load_tokenizer(name_or_path: str, *, field: str = "text_encoder") -> PreTrainedTokenizerBase:
    """The tokenizer matching the text encoder ``name_or_path`` (see the module docstring).

    Args:
        name_or_path: a ``text_encoder`` value: a local stand-in name, a folder or a hub id.
        field: the config field that names the encoder, for error messages.

    Raises:
        FileNotFoundError: a path that does not exist, or a folder with no tokenizer files.
        TokenizerUnavailableError: a hub id whose tokenizer is neither cached nor reachable
            (the message says how to pass a local folder).
    """
    from transformers import AutoTokenizer

    name = str(name_or_path)
    if name in LOCAL_TOKENIZERS:
        folder = shipped_tokenizer_folder(LOCAL_TOKENIZERS[name])
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    path = Path(name).expanduser()
    if path.is_dir():
        if not any((path / f).is_file() for f in TOKENIZER_FILES):
            raise FileNotFoundError(
                f"{field}: {path} holds no tokenizer (expected one of {list(TOKENIZER_FILES)}, "
                "as transformers' save_pretrained writes them)"
            )
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if _looks_like_path(name):
        raise FileNotFoundError(f"{field}: no such folder: {name}")
    unavailable = (
        f"{field}: the tokenizer of {name!r} is not in the Hugging Face cache and "
        f"{_hf_endpoint()} cannot be reached. Offline, pass a folder holding the tokenizer "
        f"files ({field}='/path/to/folder', e.g. written by AutoTokenizer's save_pretrained)."
    )
    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except OSError:
        if _hf_offline() or not _reachable(_hf_endpoint()):
            raise TokenizerUnavailableError(unavailable) from None
    try:
        return AutoTokenizer.from_pretrained(name)
    except OSError as error:
        raise TokenizerUnavailableError(f"{unavailable} ({error})") from error


def write_tokenizer_files(tokenizer: PreTrainedTokenizerBase, directory: Path) -> list[Path]:
    """Save ``tokenizer`` (transformers' ``save_pretrained``) into ``directory``: written into
    a temporary folder beside, then each file renamed over the old one, so an interrupted save
    never leaves a half-written file. Returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tokenizer.", dir=directory) as tmp:
        tokenizer.save_pretrained(tmp)
        written = []
        for file in sorted(Path(tmp).iterdir()):
            os.replace(file, directory / file.name)
            written.append(directory / file.name)
    return written


def save_local_tokenizer(name_or_path: str, directory: Path) -> list[Path]:
    """Save the tokenizer of the text encoder ``name_or_path`` into ``directory`` when it can
    be had without a network (shipped, a folder's own, or in the Hugging Face cache), so that
    a saved model tokenizes offline. Returns the files written (none when it cannot be had
    here: a hub tokenizer never fetched, or a folder without one)."""
    from transformers import AutoTokenizer

    name = str(name_or_path)
    try:
        if name in LOCAL_TOKENIZERS or Path(name).expanduser().is_dir():
            tokenizer = load_tokenizer(name)
        else:
            tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True)
    except OSError:  # FileNotFoundError, or not in the cache
        return []
    return write_tokenizer_files(tokenizer, directory)


__all__ = [
    "LOCAL_TOKENIZERS",
    "TOKENIZER_FILES",
    "TokenizerUnavailableError",
    "load_tokenizer",
    "save_local_tokenizer",
    "shipped_tokenizer_folder",
    "write_tokenizer_files",
]
