"""The base every emofuse model derives from: config, save/load, optimizer groups, example
inputs and input checking (after Hugging Face's ``PreTrainedModel``, without its weight)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import safetensors.torch
import torch
from torch import Tensor, nn

from emofuse.config import ModelConfig
from emofuse.hub import CONFIG_NAME, WEIGHTS_NAME, PathLike
from emofuse.layers.recording import record_attentions
from emofuse.outputs import EmotionOutput
from emofuse.validation import TensorSpec, check_inputs

ConfigT = TypeVar("ConfigT", bound=ModelConfig)
ModelT = TypeVar("ModelT", bound="EmotionModel[Any]")


class EmotionModel(nn.Module, ABC, Generic[ConfigT]):
    """A paper model: wires encoders, fusion and heads; returns :class:`EmotionOutput`.

    Subclasses set ``config_class`` and ``task``, build themselves from ``config`` in
    ``__init__``, and implement ``input_specs``, ``example_inputs`` and ``forward``.
    ``pretrained=True`` asks for the backbones' published weights.

    Every subclass's ``forward`` also takes ``return_attentions=False`` (added here, once): when
    True the forward runs inside :func:`emofuse.layers.record_attentions` and
    ``EmotionOutput.attentions`` holds every map its modules recorded, keyed by module path
    (see :mod:`emofuse.layers.recording` for the layouts). A subclass's ``forward`` neither
    takes nor handles the flag.
    """

    config_class: ClassVar[type[ModelConfig]]
    task: ClassVar[str] = "multilabel"  # "multilabel" | "multiclass" | "regression"
    # Old state-dict key prefix → new one, for checkpoints written before a module moved.
    legacy_state_dict_prefixes: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        # a forward that declares the flag itself handles it itself
        if forward is not None and "return_attentions" not in inspect.signature(forward).parameters:
            cls.forward = _with_return_attentions(forward)  # type: ignore[method-assign]

    def __init__(self, config: ConfigT | None = None, *, pretrained: bool = False) -> None:
        super().__init__()
        if config is None:
            config = self.config_class()  # type: ignore[assignment]
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"config: expected {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config: ConfigT = config  # type: ignore[assignment]
        if self.legacy_state_dict_prefixes:
            self.register_load_state_dict_pre_hook(_rename_legacy_keys)

    # -- inputs -------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def input_specs(cls, config: ConfigT) -> list[TensorSpec]:
        """The layout of each keyword input for ``config`` (see :mod:`emofuse.validation`)."""

    @classmethod
    def task_of(cls, config: ConfigT) -> str:
        return cls.task

    def check_inputs(self, **inputs: Any) -> dict[str, int]:
        """Validate ``forward``'s inputs; returns the named axis sizes (``"B"``, ...).

        Beyond :func:`emofuse.validation.check_inputs`: float inputs must have the dtype of
        the model's weights (autocast handles mixed precision from there) and every input must
        be on the model's device, so a mismatch is named here rather than deep inside a layer.
        """
        specs = self.input_specs(self.config)
        sizes = check_inputs(specs, inputs)
        weight = next(self.parameters(), None)
        if weight is None:
            return sizes
        for spec in specs:
            value = inputs.get(spec.name)
            if not isinstance(value, Tensor):
                continue
            if spec.kind == "float" and value.dtype != weight.dtype:
                raise ValueError(
                    f"{spec.name}: expected dtype {weight.dtype} (the model's weights) for "
                    f"{spec.layout}, got {value.dtype}"
                )
            if value.device != weight.device:
                raise ValueError(
                    f"{spec.name}: expected a tensor on {weight.device} (the model's device), "
                    f"got one on {value.device}"
                )
        return sizes

    @abstractmethod
    def example_inputs(
        self, batch_size: int = 2, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Valid random inputs for this configuration, masks included and some steps padded."""

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- training -----------------------------------------------------------------------------
    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """Optimizer parameter groups of the paper's recipe; by default one group at ``lr``."""
        return [{"name": "all", "params": trainable(self), "lr": lr}]

    # -- save / load --------------------------------------------------------------------------
    def save_pretrained(self, directory: PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"architecture": type(self).__name__, **self.config.to_dict()}
        (directory / CONFIG_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        safetensors.torch.save_model(self, str(directory / WEIGHTS_NAME))
        return directory

    @classmethod
    def from_pretrained(cls: type[ModelT], directory: PathLike, **overrides: Any) -> ModelT:
        """Load a folder written by :meth:`save_pretrained`; ``overrides`` adjust the config
        (e.g. ``dropout``), never the weights' shapes."""
        directory = Path(directory)
        config_file, weights_file = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        for file in (config_file, weights_file):
            if not file.is_file():
                raise FileNotFoundError(
                    f"pretrained: expected a folder written by save_pretrained with "
                    f"{CONFIG_NAME} and {WEIGHTS_NAME}; {file} does not exist"
                )
        values = json.loads(config_file.read_text())
        architecture = values.pop("architecture", cls.__name__)
        if architecture != cls.__name__:
            raise ValueError(
                f"pretrained: {directory} holds a {architecture}, not a {cls.__name__}"
            )
        config = cls.config_class.from_dict(values).replace(**overrides)
        model = cls(config)  # type: ignore[arg-type]
        missing, unexpected = safetensors.torch.load_model(model, str(weights_file), strict=False)
        if missing or unexpected:
            raise ValueError(
                f"pretrained: {weights_file} does not match {cls.__name__}: "
                f"missing {sorted(missing)[:8]}, unexpected {sorted(unexpected)[:8]}"
            )
        return model

    @abstractmethod
    def forward(self, **inputs: Any) -> EmotionOutput:
        """The model's outputs for keyword inputs by modality; ``return_attentions=True``
        (handled by the base class) fills ``EmotionOutput.attentions``."""


def _with_return_attentions(forward: Callable[..., EmotionOutput]) -> Callable[..., Any]:
    """``forward`` with a keyword-only ``return_attentions`` flag that records its maps."""

    @functools.wraps(forward)
    def wrapper(
        self: EmotionModel[Any], *args: Any, return_attentions: bool = False, **kwargs: Any
    ) -> EmotionOutput:
        if not return_attentions:
            return forward(self, *args, **kwargs)
        with record_attentions(self) as maps:
            out = forward(self, *args, **kwargs)
        return dataclasses.replace(out, attentions=dict(maps))

    signature = inspect.signature(forward)
    params = list(signature.parameters.values())
    flag = inspect.Parameter(
        "return_attentions", inspect.Parameter.KEYWORD_ONLY, default=False, annotation="bool"
    )
    at = next(
        (i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD), len(params)
    )
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*params[:at], flag, *params[at:]]
    )
    return wrapper


def _rename_legacy_keys(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any
) -> None:
    """A load_state_dict pre-hook: keys of a checkpoint written before a module moved get the
    module's new path (``legacy_state_dict_prefixes``)."""
    renames = type(module).legacy_state_dict_prefixes  # type: ignore[attr-defined]
    for key in list(state_dict):
        for old, new in renames.items():
            if key.startswith(prefix + old):
                state_dict[prefix + new + key[len(prefix + old) :]] = state_dict.pop(key)
                break


def trainable(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


def example_mask(batch_size: int, length: int, device: torch.device | None = None) -> Tensor:
    """A (B, T) mask whose first row is full and each later row one step shorter (min 1)."""
    lengths = torch.clamp(length - torch.arange(batch_size, device=device), min=1)
    return torch.arange(length, device=device) < lengths[:, None]


__all__ = ["EmotionModel", "example_mask", "trainable"]
