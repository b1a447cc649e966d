"""The restricted unpickler: data in, no code run."""

from __future__ import annotations

import collections
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from emofuse.data import safe_pickle
from emofuse.data.safe_pickle import UnsafePickleError


class _CreatesFile:
    """Unpickling calls os.system, which would create ``target``."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.target}",))


def _mmsa_like() -> dict:
    rng = np.random.default_rng(0)
    return {
        "train": {
            "id": ["v1$_$0", "v1$_$1"],
            "raw_text": ["hello , world", "a “quoted” one"],
            "text": rng.normal(size=(2, 5, 4)).astype(np.float32),
            "text_bert": rng.integers(0, 10, size=(2, 3, 5)).astype(np.float64),
            "audio": rng.normal(size=(2, 7, 3)).astype(np.float32),
            "audio_lengths": [7, 4],
            "regression_labels": np.array([1.4, -0.2], dtype=np.float32),
            "annotations": np.array(["Positive", None], dtype=object),
            "scalar": np.float64(2.5),
            "set": {1, 2},
            "frozen": frozenset({"a"}),
            "complex": 1 + 2j,
            "bytes": b"\x00\xff",
            "bytearray": bytearray(b"ab"),
            "none": None,
            "ordered": collections.OrderedDict(a=1),
        }
    }


def _assert_same(a: object, b: object) -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        assert (a == b).all() if a.dtype != object else list(a) == list(b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    else:
        assert type(a) is type(b) and a == b


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_data_round_trips(tmp_path: Path, protocol: int) -> None:
    data = _mmsa_like()
    path = tmp_path / "features.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    _assert_same(data, safe_pickle.load(path))


def test_numpy_1_module_names_load(tmp_path: Path) -> None:
    # numpy 1.x wrote its reconstruct functions under numpy.core (MMSA's releases do)
    blob = pickle.dumps({"x": np.arange(6.0).reshape(2, 3)}, protocol=2)
    assert b"numpy._core.multiarray" in blob
    old = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    loaded = safe_pickle.loads(old)
    np.testing.assert_array_equal(loaded["x"], np.arange(6.0).reshape(2, 3))


def test_malicious_pickle_does_not_run(tmp_path: Path) -> None:
    # the payload works under plain pickle: it creates its file
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_CreatesFile(control)))
    assert control.exists()

    target = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"train": {"audio": [_CreatesFile(target)]}}))
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl.*(posix|os)\.system"):
        safe_pickle.load(path)
    assert not target.exists()


@pytest.mark.parametrize(
    "obj, name",
    [
        (collections.Counter("ab"), "collections.Counter"),
        (np.array([_CreatesFile(Path("/nonexistent/x"))], dtype=object), "system"),
        (Path("x"), "pathlib"),
        (eval, "builtins.eval"),
    ],
)
def test_other_globals_are_refused_by_name(obj: object, name: str) -> None:
    with pytest.raises(UnsafePickleError, match=name):
        safe_pickle.loads(pickle.dumps(obj))


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "truncated.pkl"
    blob = pickle.dumps(_mmsa_like(), protocol=4)
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"truncated\.pkl: not a readable pickle"):
        safe_pickle.load(path)


def test_not_a_pickle_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.pkl"
    path.write_text("hello, I am text\n")
    with pytest.raises(ValueError, match=r"notes\.pkl"):
        safe_pickle.load(path)


def test_checksum_is_checked_before_unpickling(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "features.pkl"
    blob = pickle.dumps({"a": 1})
    path.write_bytes(blob)
    assert safe_pickle.load(path, sha256=hashlib.sha256(blob).hexdigest()) == {"a": 1}
    path.write_bytes(blob[:-1] + b"\x00")
    with pytest.raises(ValueError, match=r"features\.pkl: SHA-256 .* differs"):
        safe_pickle.load(path, sha256=hashlib.sha256(blob).hexdigest())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        safe_pickle.load(tmp_path / "missing.pkl")
