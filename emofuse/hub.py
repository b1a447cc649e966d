"""Reading and writing weights without unpickling arbitrary objects.

emofuse's own format is a folder with ``config.json`` and ``model.safetensors``. Foreign
checkpoints (torchvggish ``.pth``, Hara et al.'s 3D-ResNet ``.pth``) are read with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import safetensors.torch
import torch
from torch import Tensor, nn

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

PathLike = str | os.PathLike[str]


def load_state_dict_file(path: PathLike) -> dict[str, Tensor]:
    """Tensors from a ``.safetensors`` file or a ``.pt``/``.pth`` checkpoint.

    A checkpoint that wraps its weights (``{"state_dict": ...}`` as Hara et al.'s do, or
    ``{"model": ...}``) is unwrapped, and a ``module.`` prefix left by ``DataParallel`` is
    dropped.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file does not hold a state dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        return safetensors.torch.load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict of tensors, got {type(state).__name__}")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_remapped(
    module: nn.Module,
    state: Mapping[str, Tensor],
    rename: Callable[[str], str | None],
    *,
    source: str = "checkpoint",
) -> None:
    """Load ``state`` into ``module`` after renaming each key with ``rename``.

    ``rename`` returns the module's key, or ``None`` to drop a tensor the module has no use for
    (a classifier head, say). Any module parameter left unfilled, or a shape that differs, is an
    error naming the keys.

    Raises:
        ValueError: a module key left unfilled or a tensor of another shape (named, with
            ``source``).
    """
    renamed = {}
    for key, value in state.items():
        new = rename(key)
        if new is not None:
            renamed[new] = value
    mismatch = state_mismatch(module.state_dict(), renamed)
    if mismatch:
        raise ValueError(f"{source} does not match {type(module).__name__}: {mismatch}")
    module.load_state_dict(renamed)


def state_mismatch(
    own: Mapping[str, Tensor],
    state: Mapping[str, Tensor],
    may_miss: Callable[[str], bool] = lambda key: False,
) -> str:
    """How ``state`` fails to fill ``own`` (a module's state dict): the missing keys (except
    those ``may_miss``), the unexpected ones and those of another shape, at most 8 of each;
    ``""`` when it fits."""
    missing = sorted(k for k in own if k not in state and not may_miss(k))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if not (missing or unexpected or wrong):
        return ""
    return f"missing {missing[:8]}, unexpected {unexpected[:8]}, shape mismatch {wrong[:8]}"


def atomic_write(path: PathLike, write: Callable[[Path], object]) -> None:
    """Write ``path`` through ``write(tmp)`` into a temporary file beside it, then rename it
    over ``path`` (``os.replace``, atomic on POSIX and Windows): an interrupted write never
    leaves a half-written ``path``, and the previous file stays until the new one is complete.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "atomic_write", "load_remapped", "load_state_dict_file"]
