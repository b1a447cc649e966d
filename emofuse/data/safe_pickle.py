"""Reading pickles without executing what they hold.

Feature releases (MMSA's MOSI / MOSEI / CH-SIMS pickles, Dai et al.'s ``meta.pkl``) circulate as
pickles, and ``pickle.load`` runs whatever callable a file names. :func:`load` admits only
containers, numbers, strings, bytes, ``None`` and numpy arrays, dtypes and scalars; any other
global a file names is refused before it is called (the pattern of the Python documentation's
"Restricting Globals").
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import IO, Any

# (module, name) -> how to import it; numpy 1.x pickles name ``numpy.core``, numpy 2 ``numpy._core``
_ALLOWED: dict[tuple[str, str], tuple[str, str]] = {
    ("builtins", "set"): ("builtins", "set"),
    ("builtins", "frozenset"): ("builtins", "frozenset"),
    ("builtins", "complex"): ("builtins", "complex"),
    ("builtins", "bytearray"): ("builtins", "bytearray"),
    # protocol 0-2 write bytes as _codecs.encode(str, "latin1"): a pure string conversion
    ("_codecs", "encode"): ("_codecs", "encode"),
    ("collections", "OrderedDict"): ("collections", "OrderedDict"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
}
for _name in ("set", "frozenset", "complex", "bytearray"):  # Python 2 / protocol < 3 names
    _ALLOWED[("__builtin__", _name)] = ("builtins", _name)
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = ("numpy._core.multiarray", "_reconstruct")
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = ("numpy._core.multiarray", "scalar")
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = ("numpy._core.numeric", "_frombuffer")

ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(_ALLOWED)
"""The (module, name) pairs a pickle may name; everything else is refused."""


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside :data:`ALLOWED_GLOBALS` (nothing of it was called)."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], *, source: str, encoding: str) -> None:
        super().__init__(file, encoding=encoding)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        target = _ALLOWED.get((module, name))
        if target is None:
            raise UnsafePickleError(
                f"{self._source}: refused to load global {module}.{name}; a data pickle may hold "
                "only dicts, lists, tuples, sets, numbers, strings, bytes, None and numpy arrays"
            )
        return super().find_class(*target)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self._source}: refused a persistent id {pid!r}")


def loads(data: bytes, *, source: str = "<bytes>", encoding: str = "latin1") -> Any:
    """:func:`load` for bytes in memory; ``source`` names them in errors."""
    return _load(io.BytesIO(data), source=source, encoding=encoding)


def load(
    path: str | os.PathLike[str], *, sha256: str | None = None, encoding: str = "latin1"
) -> Any:
    """Read a data pickle without executing code.

    Args:
        path: the pickle file.
        sha256: the file's expected SHA-256 hex digest (as MMSA publishes for its features);
            checked before anything is unpickled.
        encoding: how Python 2 ``str`` objects decode (``"latin1"`` keeps numpy arrays written by
            Python 2 readable; Python 3 pickles are unaffected).

    Returns:
        the unpickled object: containers, numbers, strings, bytes, ``None`` and numpy arrays.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafePickleError: the file names a global outside :data:`ALLOWED_GLOBALS` (e.g.
            ``os.system``); the error names it, and nothing was called.
        ValueError: the checksum differs, or the file is truncated or not a pickle (the error
            names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such pickle file")
    data = path.read_bytes()
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256.lower():
            raise ValueError(
                f"{path}: SHA-256 {digest} differs from the expected {sha256} "
                "(a corrupted, truncated or different release)"
            )
    return _load(io.BytesIO(data), source=str(path), encoding=encoding)


def _load(file: IO[bytes], *, source: str, encoding: str) -> Any:
    try:
        return _RestrictedUnpickler(file, source=source, encoding=encoding).load()
    except UnsafePickleError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, UnicodeDecodeError, MemoryError) as error:  # fmt: skip
        raise ValueError(
            f"{source}: not a readable pickle (truncated or corrupted?): "
            f"{type(error).__name__}: {error}"
        ) from error


__all__ = ["ALLOWED_GLOBALS", "UnsafePickleError", "load", "loads"]
