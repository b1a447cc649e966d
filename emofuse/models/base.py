"""The base every emofuse model derives from: config, save/load, optimizer groups, example
inputs and input checking (after Hugging Face's ``PreTrainedModel``, without its weight)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast

import safetensors.torch
import torch
from torch import Tensor, nn

from emofuse.config import ModelConfig
from emofuse.encoders.text import HFTextEncoder
from emofuse.encoders.tokenizer import save_local_tokenizer
from emofuse.encoders.weights import WEIGHT_SOURCE_FIELDS, architecture_only
from emofuse.hub import CONFIG_NAME, WEIGHTS_NAME, PathLike, atomic_write, state_mismatch
from emofuse.layers.masks import staircase_mask
from emofuse.layers.recording import record_attentions
from emofuse.outputs import EmotionOutput
from emofuse.registry import read_saved_config, resolve_saved_class
from emofuse.validation import TensorSpec, check_inputs

ConfigT = TypeVar("ConfigT", bound=ModelConfig)
ModelT = TypeVar("ModelT", bound="EmotionModel[Any]")


class EmotionModel(nn.Module, ABC, Generic[ConfigT]):
    """A paper model: wires encoders, fusion and heads; returns :class:`EmotionOutput`.

    Subclasses set ``config_class`` (whose ``task`` field says how the logits are read), build
    themselves from ``config`` in ``__init__``, and implement ``input_specs``,
    ``example_inputs`` and ``forward``. ``pretrained=True`` asks for the backbones' published
    weights.

    Every subclass's ``forward`` also takes ``return_attentions=False`` (added here, once): when
    True the forward runs inside :func:`emofuse.layers.record_attentions` and
    ``EmotionOutput.attentions`` holds every map its modules recorded, keyed by module path
    (see :mod:`emofuse.layers.recording` for the layouts). A subclass's ``forward`` neither
    takes nor handles the flag.

    Attributes:
        config_class: the model's :class:`~emofuse.config.ModelConfig` subclass.
        fixed_lengths: ``True`` when the sequence inputs must have exactly the lengths of the
            config (``input_specs`` gives them); otherwise any length is accepted.
        legacy_state_dict_prefixes: old state-dict key prefix → new one, for checkpoints
            written before a module moved.

    Raises:
        TypeError: a ``config`` that is not a ``config_class``.
        ValueError: (forward) inputs that do not fit ``input_specs`` (see :meth:`check_inputs`).
    """

    config_class: ClassVar[type[ModelConfig]]
    fixed_lengths: ClassVar[bool] = False
    legacy_state_dict_prefixes: ClassVar[Mapping[str, str]] = {}
    #: the registry name the model was built or loaded as (``None`` when built from its class)
    registered_name: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        # a forward that declares the flag itself handles it itself
        if forward is not None and "return_attentions" not in inspect.signature(forward).parameters:
            wrapped = _with_return_attentions(forward)
            cls.forward = wrapped  # type: ignore[method-assign]  # adds return_attentions
        example = cls.__dict__.get("example_inputs")
        if example is not None:
            cls.example_inputs = _like_the_weights(example)  # type: ignore[method-assign]  # moves, casts

    def __init__(self, config: ConfigT | None = None, *, pretrained: bool = False) -> None:
        super().__init__()
        if config is None:
            config = self.config_class()  # type: ignore[assignment]  # ClassVar cannot hold ConfigT
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"config: expected {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config: ConfigT = config
        if self.legacy_state_dict_prefixes:
            self.register_load_state_dict_pre_hook(_rename_legacy_keys)

    # -- inputs -------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def input_specs(cls, config: ConfigT) -> list[TensorSpec]:
        """The layout of each keyword input for ``config`` (see :mod:`emofuse.validation`)."""

    def check_inputs(self, **inputs: Any) -> dict[str, int]:
        """Validate ``forward``'s inputs; returns the named axis sizes (``"B"``, ...).

        Beyond :func:`emofuse.validation.check_inputs`: float inputs must have the dtype of
        the model's weights (autocast handles mixed precision from there) and every input must
        be on the model's device, so a mismatch is named here rather than deep inside a layer.

        Raises:
            ValueError: an input of the wrong layout, dtype or device, a missing required
                modality (the message names the argument, the expected layout and what came
                in), or an input that this configuration does not take (e.g. ``video`` for a
                model built with ``modalities=("audio",)``), which would otherwise be ignored.
        """
        specs = self.input_specs(self.config)
        declared = [spec.name for spec in specs]
        extra = [name for name, value in inputs.items() if value is not None]
        extra = [name for name in extra if name not in declared]
        if extra:
            modalities = getattr(self.config, "modalities", None)
            built = f" (built with modalities={modalities})" if modalities is not None else ""
            raise ValueError(
                f"{extra[0]}: not an input of this {type(self).__name__}{built}; it takes "
                f"{declared}, got {extra}"
            )
        sizes = check_inputs(specs, inputs)
        for name, size in self.vocab_sizes().items():
            _check_token_ids(name, inputs.get(name), inputs.get(f"{name}_mask"), size)
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

    def vocab_sizes(self) -> dict[str, int]:
        """How many token ids each int input takes (ids must lie in ``[0, size)`` at valid
        positions; padded ones are never read). By default the vocabulary of a Hugging Face
        ``text_encoder`` for the ``text`` input; a model with its own embedding overrides it."""
        encoder = getattr(self, "text_encoder", None)
        return {"text": encoder.vocab_size} if isinstance(encoder, HFTextEncoder) else {}

    @abstractmethod
    def example_inputs(
        self, batch_size: int = 2, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Valid random inputs for this configuration, masks included and some steps padded,
        on the model's device, float inputs in the dtype of its weights (the base class
        moves and casts what a subclass returns)."""

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- training -----------------------------------------------------------------------------
    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """Optimizer parameter groups of the paper's recipe; by default one group at ``lr``."""
        return [{"name": "all", "params": trainable(self), "lr": lr}]

    # -- save / load --------------------------------------------------------------------------
    def save_pretrained(self, directory: PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` to ``directory``.

        ``model.safetensors`` holds every weight; ``config.json`` holds the config, the
        registered name, the class, and the Hugging Face config of each text encoder, so that
        :meth:`from_pretrained` rebuilds the model without the files it was built from. The
        text encoder's tokenizer is saved beside them when it can be had without a network
        (:func:`~emofuse.encoders.tokenizer.save_local_tokenizer`), so that
        ``emofuse.transforms.for_model(directory)`` tokenizes offline. Each file is written to
        a temporary file and then renamed over the old one, so an interrupted save leaves the
        last complete file in place.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        cls = type(self)
        meta = {
            "architecture": cls.__name__,
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "registered_name": self.registered_name,
            "text_encoder_configs": {
                m.name_or_path: json.loads(m.model.config.to_json_string())
                for m in self.modules()
                if isinstance(m, HFTextEncoder)
            },
        }
        atomic_write(
            directory / WEIGHTS_NAME, lambda tmp: safetensors.torch.save_model(self, str(tmp))
        )
        text = json.dumps({**meta, **self.config.to_dict()}, indent=2, sort_keys=True) + "\n"
        atomic_write(directory / CONFIG_NAME, lambda tmp: tmp.write_text(text))
        text_encoders = {m.name_or_path for m in self.modules() if isinstance(m, HFTextEncoder)}
        if len(text_encoders) == 1:  # one tokenizer per folder (transformers' file names)
            save_local_tokenizer(text_encoders.pop(), directory)
        return directory

    @classmethod
    def from_pretrained(cls: type[ModelT], directory: PathLike, **overrides: Any) -> ModelT:
        """Load a folder written by :meth:`save_pretrained`, without the files it was built
        from (every weight comes from ``model.safetensors``; no file or network is touched).

        Called on :class:`EmotionModel` itself (or through :func:`emofuse.load`), the class
        comes from the registered name saved in ``config.json``.

        Args:
            directory: a folder with ``config.json`` and ``model.safetensors``.
            overrides: config fields to change (e.g. ``dropout``). A new label set
                (``num_classes``, or other ``label_names``) re-initialises the heads (the
                parameters whose shape follows the class count), with a warning that lists
                them; every other weight must fit.

        Raises:
            FileNotFoundError: a file is missing.
            ValueError: the folder holds another model class, an override of a weight source
                (``text_encoder``, ``*_backbone_weights``), or weights that do not fit.
            LookupError: the saved model is not registered in this process (the message names
                the module to import).
        """
        directory = Path(directory)
        values, meta = read_saved_config(directory)
        weights_file = directory / WEIGHTS_NAME
        if not weights_file.is_file():
            raise FileNotFoundError(
                f"pretrained: expected a folder written by save_pretrained with "
                f"{CONFIG_NAME} and {WEIGHTS_NAME}; {weights_file} does not exist"
            )
        if inspect.isabstract(cls):
            cls = cast("type[ModelT]", resolve_saved_class(directory, meta))
        elif meta.get("architecture", cls.__name__) != cls.__name__:
            raise ValueError(
                f"pretrained: {directory} holds a {meta['architecture']}, not a {cls.__name__}"
            )
        sources = sorted(set(overrides) & set(WEIGHT_SOURCE_FIELDS))
        if sources:
            raise ValueError(
                f"{', '.join(sources)}: from_pretrained loads every weight from {weights_file}; "
                "a weight source cannot be overridden (build a new model to change it)"
            )
        saved = cls.config_class.from_dict(values)
        config = saved.replace(**overrides)
        text_configs = meta.get("text_encoder_configs") or {}
        with architecture_only(text_configs):
            model = cls(config)
        state = safetensors.torch.load_file(str(weights_file))
        _rename_legacy_keys(model, state, "")  # a folder saved before a module moved
        heads: list[str] = []
        if _new_label_set(saved, config):
            heads = _head_keys(cls, saved, config, state, model, text_configs)
            warnings.warn(
                f"from_pretrained: a new label set ({saved.num_classes} classes "
                f"{list(saved.label_names or [])} -> {config.num_classes} classes "
                f"{list(config.label_names or [])}); re-initialised the heads: {heads}",
                UserWarning,
                stacklevel=2,
            )
        _load_checked(
            model, {k: v for k, v in state.items() if k not in heads}, heads, weights_file
        )
        model.registered_name = meta.get("registered_name")
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
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]  # inspect reads it
        parameters=[*params[:at], flag, *params[at:]]
    )
    return wrapper


def _like_the_weights(
    example_inputs: Callable[..., dict[str, Tensor]],
) -> Callable[..., dict[str, Tensor]]:
    """``example_inputs`` returning its tensors on the model's device, float inputs in the
    dtype of its weights (what ``check_inputs`` asks of them)."""

    @functools.wraps(example_inputs)
    def wrapper(self: EmotionModel[Any], *args: Any, **kwargs: Any) -> dict[str, Tensor]:
        inputs = example_inputs(self, *args, **kwargs)
        weight = next((p for p in self.parameters() if p.is_floating_point()), None)
        if weight is None:
            return inputs
        return {
            k: v.to(weight.device, weight.dtype if v.is_floating_point() else v.dtype)
            if isinstance(v, Tensor)
            else v
            for k, v in inputs.items()
        }

    return wrapper


def _rename_legacy_keys(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any
) -> None:
    """A load_state_dict pre-hook: keys of a checkpoint written before a module moved get the
    module's new path (``legacy_state_dict_prefixes``)."""
    renames = cast(EmotionModel, module).legacy_state_dict_prefixes  # only models register it
    for key in list(state_dict):
        for old, new in renames.items():
            if key.startswith(prefix + old):
                state_dict[prefix + new + key[len(prefix + old) :]] = state_dict.pop(key)
                break


def _check_token_ids(name: str, ids: Any, mask: Any, size: int) -> None:
    if not isinstance(ids, Tensor) or ids.device.type == "meta":
        return
    valid = ids if mask is None else torch.where(mask, ids, 0)
    if torch.compiler.is_compiling():
        # Reading the ids back would break the graph: the check runs inside it instead (the
        # ONNX exporter drops it; an out-of-range id there is the runtime's error).
        in_range = ((valid >= 0) & (valid < size)).all()
        torch._assert_async(in_range, f"{name}: expected token ids in [0, {size})")
        return
    if ids.numel() == 0:
        return
    low, high = int(valid.min()), int(valid.max())
    if low < 0 or high >= size:
        raise ValueError(
            f"{name}: expected token ids in [0, {size}) (the text encoder's vocabulary) at valid "
            f"positions, got ids from {low} to {high}"
        )


def _new_label_set(saved: ModelConfig, config: ModelConfig) -> bool:
    if config.num_classes != saved.num_classes:
        return True
    if saved.label_names is None or config.label_names is None:
        return False  # naming classes that had no names is not a new label set
    return tuple(saved.label_names) != tuple(config.label_names)


def _head_keys(
    cls: type[EmotionModel[Any]],
    saved: ModelConfig,
    config: ModelConfig,
    state: dict[str, Tensor],
    model: EmotionModel[Any],
    text_configs: dict[str, Any],
) -> list[str]:
    """The state keys whose shape follows ``num_classes``: found by building the model with
    one more class on the meta device (no memory, no files) and comparing shapes."""
    own = model.state_dict()
    if config.num_classes != saved.num_classes:
        return sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    try:
        probe_config = saved.replace(num_classes=saved.num_classes + 1)
    except ValueError:  # a config with a fixed class count (regression)
        return []
    with architecture_only(text_configs), torch.device("meta"):
        probe = cls(probe_config).state_dict()
    return sorted(k for k in state if k in probe and probe[k].shape != state[k].shape)


def _load_checked(
    model: nn.Module, state: dict[str, Tensor], heads: list[str], source: Path
) -> None:
    if getattr(type(model), "legacy_state_dict_prefixes", None):
        state = dict(state)  # a checkpoint written before a module moved: its new keys
        _rename_legacy_keys(model, state, "")
    own = model.state_dict()
    loaded = {own[k].data_ptr() for k in state if k in own}
    # safetensors stores a tensor shared by two names once: the other name is no loss
    mismatch = state_mismatch(
        own, state, may_miss=lambda k: k in heads or own[k].data_ptr() in loaded
    )
    if mismatch:
        raise ValueError(f"pretrained: {source} does not match {type(model).__name__}: {mismatch}")
    model.load_state_dict(state, strict=False)


def trainable(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


def text_encoder_groups(
    encoder: HFTextEncoder, lr: float, *, layer_decay: float = 1.0, name: str = "text_encoder"
) -> list[dict[str, Any]]:
    """Optimizer groups of a text encoder's trainable parameters at ``lr``, or with layer-wise
    learning-rate decay (Howard and Ruder 2018; Clark et al. 2020, ELECTRA, app. A): the top
    layer at ``lr``, each layer below at ``layer_decay`` times the one above, the embeddings
    last. Groups are named ``name`` (no decay) or ``name.<depth>`` (0 = embeddings); a group
    with no trainable parameter (a frozen encoder) is left out.

    Raises:
        ValueError: ``layer_decay`` outside (0, 1].
    """
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay: expected a factor in (0, 1], got {layer_decay}")
    if layer_decay == 1.0:
        params = trainable(encoder)
        return [{"name": name, "params": params, "lr": lr}] if params else []
    layers = encoder.layer_groups()
    top = len(layers) - 1
    groups = [
        {
            "name": f"{name}.{depth}",
            "params": [p for p in params if p.requires_grad],
            "lr": lr * layer_decay ** (top - depth),
        }
        for depth, params in enumerate(layers)
    ]
    return [g for g in groups if g["params"]]


def example_mask(batch_size: int, length: int, device: torch.device | None = None) -> Tensor:
    """A (B, T) mask whose first row is full and each later row one step shorter (min 1)."""
    return staircase_mask(batch_size, length, device)


__all__ = ["EmotionModel", "example_mask", "text_encoder_groups", "trainable"]
