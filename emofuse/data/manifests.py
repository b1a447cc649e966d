"""Split and fold files shipped in the package, checked against their SHA-256 on every read.

- ``dai2021/``: Dai et al. 2021's IEMOCAP and CMU-MOSEI splits (CC BY 4.0, attribution in
  ``dai2021/ATTRIBUTION.md``), the ones Xia et al. 2022 and Le et al. 2023 use.
- ``cmu_sdk/``: the CMU-MultimodalSDK standard folds of CMU-MOSI and CMU-MOSEI (MIT-style,
  ``cmu_sdk/LICENSE.txt``).
- ``ravdess_mocanu2023_folds.json``: Mocanu et al. 2023's actor-disjoint 10 folds (emofuse's
  reading of sec. 4.1, stated in the file); ``crema_d_mocanu2023_folds.json`` the same for
  CREMA-D.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from importlib.abc import Traversable  # importlib.resources.abc from Python 3.11

_CMU = {"cmu_mosi": "cmu_mosi", "mosi": "cmu_mosi", "cmu_mosei": "cmu_mosei", "mosei": "cmu_mosei"}
_DAI = {"iemocap": "IEMOCAP", "mosei": "MOSEI", "cmu_mosei": "MOSEI"}
_SPLIT = {"train": "train", "valid": "valid", "validation": "valid", "test": "test"}


def _folder() -> Traversable:
    return resources.files("emofuse.data").joinpath("manifests")


def checksums() -> dict[str, str]:
    """{shipped file: SHA-256} as listed in ``manifests/SHA256SUMS``."""
    lines = _folder().joinpath("SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line)}


def read_manifest(name: str) -> bytes:
    """The bytes of a shipped manifest file, after checking its SHA-256.

    Raises:
        FileNotFoundError: ``name`` is not a shipped manifest (the error lists them).
        ValueError: the file's SHA-256 differs from ``SHA256SUMS`` (an edited installation).
    """
    sums = checksums()
    if name not in sums:
        raise FileNotFoundError(f"manifest: expected one of {sorted(sums)}, got {name!r}")
    data = _folder().joinpath(*name.split("/")).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sums[name]:
        raise ValueError(
            f"manifest {name}: SHA-256 {digest} differs from the shipped {sums[name]}; "
            "the installed file was changed (reinstall emofuse)"
        )
    return data


def dai2021_split(
    corpus: Literal["iemocap", "mosei"], split: Literal["train", "valid", "validation", "test"]
) -> list[str]:
    """Dai et al. 2021's utterance ids of one split, in file order: IEMOCAP 5162 / 737 / 1481
    ids such as ``Ses04F_script01_1_F024``, CMU-MOSEI 14524 / 1765 / 4188 ``videoid_segment``.

    Raises:
        ValueError: an unknown corpus or split.
    """
    if corpus.lower() not in _DAI:
        raise ValueError(f"corpus: expected one of {sorted(_DAI)}, got {corpus!r}")
    if split not in _SPLIT:
        raise ValueError(f"split: expected one of {sorted(_SPLIT)}, got {split!r}")
    name = f"dai2021/{_DAI[corpus.lower()]}_split/{_SPLIT[split]}_split.txt"
    return [line for line in read_manifest(name).decode().splitlines() if line.strip()]


def cmu_sdk_folds(
    corpus: Literal["cmu_mosi", "cmu_mosei", "mosi", "mosei"],
) -> dict[str, list[str]]:
    """The CMU-MultimodalSDK standard folds, ``{"train", "valid", "test"}`` -> video ids
    (CMU-MOSI 52 / 10 / 31 videos, CMU-MOSEI 2249 / 300 / 678).

    Raises:
        ValueError: an unknown corpus.
    """
    if corpus.lower() not in _CMU:
        raise ValueError(f"corpus: expected one of {sorted(_CMU)}, got {corpus!r}")
    folds = json.loads(read_manifest("cmu_sdk/standard_folds.json"))[_CMU[corpus.lower()]]
    return {split: folds[f"standard_{split}_fold"] for split in ("train", "valid", "test")}


def ravdess_folds() -> list[dict[str, list[int]]]:
    """Mocanu et al. 2023's protocol (sec. 4.1) as shipped: 10 folds of actor lists
    ``{"train", "validation", "test"}``, 80/10/10, actor-disjoint; every actor is tested once
    (the manifest ``ravdess_mocanu2023_folds.json`` states emofuse's reading)."""
    return json.loads(read_manifest("ravdess_mocanu2023_folds.json"))["folds"]


def crema_d_folds() -> list[dict[str, list[int]]]:
    """Mocanu et al. 2023's protocol on CREMA-D as shipped: 10 actor-disjoint folds of the 91
    actors (1001-1091), ``{"train", "validation", "test"}``, every actor tested once
    (``crema_d_mocanu2023_folds.json`` states emofuse's reading)."""
    return json.loads(read_manifest("crema_d_mocanu2023_folds.json"))["folds"]


__all__ = [
    "checksums",
    "cmu_sdk_folds",
    "crema_d_folds",
    "dai2021_split",
    "ravdess_folds",
    "read_manifest",
]
