"""Recording attention maps and fusion weights while a model runs, instead of returning them
(in the spirit of timm's ``AttentionExtract`` and vit-pytorch's ``Recorder``).

A module that computes a map calls :func:`record` with it; nothing happens unless a
:func:`record_attentions` context is active, so a module's ``forward`` returns only its output
and the fused attention kernels run as usual. Inside the context every map is stored under the
path of the module that made it, as ``named_modules()`` of the recorded root names it::

    with record_attentions(model) as maps:
        model(**inputs)
    maps["encoder.layers.0.self_attn"]  # (B, heads, T_query, T_key)

Layouts (each module's docstring says which it records):

- attention maps: (B, heads, T_query, T_key), softmax over the keys; a query with no valid key
  has an all-zero row. Modules without heads record heads = 1.
- maps recorded inside :func:`emofuse.layers.run_on_valid_steps` (a CNN per frame or snippet)
  get the step axes back: (B, T, ...) with zeros at padded steps, e.g. (B, T, heads, s, s).
- fusion weights over modalities or branches: (B, M); pooling weights over steps: (B, T).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import Tensor, nn

_recorders: list[_Recorder] = []
# Innermost last: how to put the step axes back on a map made from packed valid steps.
_unpackers: list[Callable[[Tensor], Tensor]] = []


class _Recorder:
    def __init__(self, root: nn.Module) -> None:
        self.paths = {id(m): path for path, m in root.named_modules()}
        self.maps: dict[str, Tensor] = {}

    def add(self, module: nn.Module, name: str | None, value: Tensor) -> None:
        path = self.paths.get(id(module))
        if path is None:  # a module outside the recorded root
            return
        key = ".".join(p for p in (path, name) if p) or type(module).__name__
        if key in self.maps:  # the module ran again: keep every call
            calls = 1
            while f"{key}:{calls}" in self.maps:
                calls += 1
            key = f"{key}:{calls}"
        self.maps[key] = value


def is_recording() -> bool:
    """True inside a :func:`record_attentions` context: modules then compute their maps."""
    return bool(_recorders)


def record(module: nn.Module, value: Tensor, name: str | None = None) -> None:
    """Store ``value`` (a map ``module`` computed) in every active recording; a no-op otherwise.

    Args:
        module: the module that computed the map; its path in the recorded model is the key.
        value: the map, in one of the layouts of :mod:`emofuse.layers.recording`.
        name: a suffix for modules that record more than one map (key ``"<path>.<name>"``).
    """
    if not _recorders:
        return
    for unpack in reversed(_unpackers):
        value = unpack(value)
    for recorder in _recorders:
        recorder.add(module, name, value)


@contextmanager
def record_attentions(model: nn.Module) -> Iterator[dict[str, Tensor]]:
    """Collect the maps the submodules of ``model`` record while the context is active.

    Yields a dict that fills as ``model`` runs, ``{module path[.name]: map}`` in the order the
    maps were made. A module that runs more than once keeps each call: the second under
    ``"<key>:1"``, the third ``"<key>:2"``. Maps keep their autograd history (detach them to
    store them). Contexts nest; each sees the modules under its own root, keyed relative to it.
    Outside any context recording costs nothing and leaves no state behind.
    """
    recorder = _Recorder(model)
    _recorders.append(recorder)
    try:
        yield recorder.maps
    finally:
        _recorders.remove(recorder)


@contextmanager
def unpacking_steps(unpack: Callable[[Tensor], Tensor]) -> Iterator[None]:
    """While active, maps recorded are passed through ``unpack`` (packed steps → (B, T, ...));
    used by :func:`emofuse.layers.run_on_valid_steps`."""
    _unpackers.append(unpack)
    try:
        yield
    finally:
        _unpackers.pop()


__all__ = ["is_recording", "record", "record_attentions", "unpacking_steps"]
