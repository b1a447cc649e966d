"""Training recipes as data: each registered model's paper recipe, any field overridable.

>>> recipe = recipe_for("mer_sem_mbt", batch_size=4)          # Xia et al.'s, batch changed
>>> recipe = recipe_for(model, **parse_overrides(["lr=3e-4", "schedule=cosine"]))

A :class:`Recipe` names the loss, the optimizer and its parameter groups (the model's
``param_groups``, scaled per group name), the schedule, batch size and epochs, the monitored
validation figure (:mod:`emofuse.training.monitor`) with early stopping, and the run's numerics
(precision, gradient accumulation, clipping, activation checkpointing, seed); plus the standard
options of emotion recognition (label smoothing, mixup, SpecAugment), the co-learning scheme of
Takashima et al. and the polarity triplet term of Mocanu et al.

The papers' recipes (:func:`paper_recipe`; each model's card gives its paper):

- ``mer_sem_mbt`` (Xia et al. 2022, sec. 4.3): BCE weighted by negatives/positives per class,
  Adam lr 1e-4, backbones at lr × 0.1 (``param_groups``), batch 8, early stopping on the
  validation average F1.
- ``av_attention_fusion`` (Mocanu et al. 2023, sec. 3.4 and 4.2): cross-entropy plus the polarity
  triplet loss (weight 1, :class:`~emofuse.losses.AVAttentionFusionLoss`), Adam lr 1e-4
  (β₁ 0.9), batch 16, early stopping after 20 epochs without accuracy gain.
- ``colearning_transformer`` (Takashima et al. 2022, sec. 3.2 and 4.2): interactive co-learning
  (one of AV, A, V per step), multi-label BCE, RAdam, batch 16, early stopping on validation
  (the paper gives no learning rate: 1e-4 here).
- ``emotion_query_transformer`` (Le et al. 2023, sec. IV.B.2): BCE weighted by
  negatives/positives, Adam lr 5e-4 with ALBERT at × 0.1 (``param_groups``), cosine decay,
  batch 32, 25 epochs (IEMOCAP; 10 for ``_mosei``).
- ``mcr`` (Yang et al. 2023, sec. 4.2, table 1): L1 loss for sentiment regression,
  cross-entropy (multiclass) or BCE (the IEMOCAP emotions as binary decisions), Adam; batch /
  lr / epochs 16 / 1e-3 / 30 (MOSEI), 64 / 1e-3 / 120 (MOSI), 32 / 2e-3 / 60 (IEMOCAP).

The ``_tiny`` variants (random init, small widths) take their family's recipe with lr 3e-3,
batch 16 and no early-stopping patience: a rate a randomly initialised small model learns
with in a few hundred steps (the papers' rates are for pre-trained backbones); the tiny
emotion-query transformer's random ALBERT trains at the full rate, not Le et al.'s × 0.1.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from torch import nn

from emofuse.config import check_types, describe
from emofuse.training.monitor import MONITORS, check_monitor, monitors_for

Loss = Literal["auto", "cross_entropy", "bce", "weighted_bce", "l1", "mse"]
Optimizer = Literal["adam", "adamw", "radam", "sgd"]
Schedule = Literal["constant", "cosine", "linear"]
Precision = Literal["auto", "32-true", "bf16-mixed", "16-mixed"]
ColearningMode = Literal["off", "sample", "sum", "conventional"]

#: parameter-group names of the models' pre-trained parts (``freeze_backbone`` freezes them)
BACKBONE_GROUPS = ("audio_backbone", "video_backbone", "frame_backbone", "text_encoder")

LOSS_FOR_TASK = {"multiclass": "cross_entropy", "multilabel": "bce", "regression": "l1"}
LOSSES_FOR_TASK = {
    "multiclass": ("cross_entropy",),
    "multilabel": ("bce", "weighted_bce"),
    "regression": ("l1", "mse"),
}
MONITOR_FOR_TASK = {"multiclass": "accuracy", "multilabel": "macro_f1", "regression": "MAE"}


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """How to train a model: loss, optimizer, schedule, stopping, numerics, augmentation.

    Args:
        loss: ``"cross_entropy"`` (multiclass), ``"bce"`` / ``"weighted_bce"`` (multilabel;
            weighted: ``pos_weight`` = negatives / positives per class of the training split,
            Xia eq. 5 / Le eq. 8), ``"l1"`` / ``"mse"`` (regression), or ``"auto"``: the
            model task's (cross-entropy, BCE, L1).
        label_smoothing: cross-entropy label smoothing in [0, 1) (multiclass only).
        triplet_weight: weight of Mocanu et al.'s polarity triplet loss on the embedding
            (eq. 16), added to the cross-entropy; 0 = off. Multiclass models with an
            embedding and label names with a polarity.
        triplet_margins: (α, β) of eqs. 14–15.
        triplet_mining: ``"all"`` or ``"hard"``.
        colearning: Takashima et al.'s co-learning (:class:`~emofuse.training.CoLearning`):
            ``"sample"``, ``"sum"``, ``"conventional"``, or ``"off"`` (a plain forward).
        colearning_modalities: the droppable modalities; () = the model's own.
        optimizer: ``"adam"``, ``"adamw"``, ``"radam"`` or ``"sgd"`` (momentum ``betas[0]``).
        lr: the base learning rate, given to ``model.param_groups(lr)``.
        lr_scales: ``{group name: factor}`` applied on top of ``param_groups`` (0 freezes the
            group); every name must be one of the model's groups.
        freeze_backbone: freeze the pre-trained groups (:data:`BACKBONE_GROUPS`) the model has.
        layer_decay: layer-wise learning-rate decay of a pre-trained text encoder (Howard and
            Ruder 2018; Clark et al. 2020): its top layer at the group's rate, each layer below
            at ``layer_decay ×`` the one above (``model.param_groups(lr, layer_decay=...)``,
            groups ``text_encoder.<depth>``); 1 = one rate for the whole encoder.
        weight_decay: decoupled for AdamW, L2 otherwise.
        betas: Adam's (β₁, β₂).
        schedule: ``"constant"``, ``"cosine"`` or ``"linear"`` decay per optimizer step to
            ``min_lr_ratio × lr`` at the last step, after ``warmup_steps`` of linear warm-up.
        batch_size: samples per step over all processes (the global batch: each of N processes
            takes ``batch_size / N``, and must divide it); with ``grad_accumulation`` A, each
            forward pass takes ``batch_size / (N A)``.
        epochs: passes over the training set.
        max_steps: stop after this many optimizer steps (``None``: ``epochs`` decide).
        grad_accumulation: micro-batches per optimizer step.
        clip_grad_norm: clip the global gradient norm to this (``None``: no clipping).
        precision: Lightning Fabric's: ``"32-true"``, ``"bf16-mixed"`` (CPU and GPU),
            ``"16-mixed"`` (GPU, with a loss scaler), ``"auto"`` (bf16-mixed on a GPU that
            supports it, else 32-true).
        activation_checkpointing: recompute the backbones' activations in the backward pass
            (:func:`emofuse.encoders.set_gradient_checkpointing`).
        seed: seeds the model's initialisation (when ``fit`` builds it), the data order,
            dropout and augmentation.
        monitor: the validation figure (:mod:`emofuse.training.monitor`) that selects the best
            checkpoint and stops early; ``"auto"``: the task's (accuracy, macro F1, MAE).
        mode: ``"max"``, ``"min"`` or ``"auto"`` (the monitor's own).
        patience: stop after this many validations without improvement (``None``: never).
        min_delta: the least change that counts as an improvement.
        mixup_alpha: mixup (Zhang et al. 2018) with λ ~ Beta(α, α) on float inputs and labels;
            0 = off. Not for token-id inputs.
        time_masks: SpecAugment (Park et al. 2019) on ``audio`` features (B, T, F): that many
            time masks per sample, set to 0; 0 = off.
        time_mask_width: the most steps one time mask covers.
        freq_masks: that many frequency masks per sample; 0 = off.
        freq_mask_width: the most bins one frequency mask covers.
        ema_decay: keep an exponential moving average of the weights and buffers, updated
            after every optimizer step (w̄ ← d w̄ + (1 − d) w, the first step copies;
            ``torch.optim.swa_utils.AveragedModel``; Polyak and Juditsky 1992): validation,
            the best model and its early stopping use the average, and ``last.ckpt`` carries
            it. ``None`` = off; typical 0.99-0.9999 (about ``1 / (1 − d)`` steps averaged).
        eval_every: validate every this many epochs.
        num_workers: ``DataLoader`` worker processes.

    Raises:
        ValueError: a value of the wrong type or out of range, naming the field, what it
            expects and what came in.
    """

    loss: Loss = "auto"
    label_smoothing: float = 0.0
    triplet_weight: float = 0.0
    triplet_margins: tuple[float, float] = (0.2, 0.2)
    triplet_mining: Literal["all", "hard"] = "all"
    colearning: ColearningMode = "off"
    colearning_modalities: tuple[str, ...] = ()
    optimizer: Optimizer = "adam"
    lr: float = 1e-3
    lr_scales: dict[str, float] = field(default_factory=dict)
    freeze_backbone: bool = False
    layer_decay: float = 1.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: Schedule = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    batch_size: int = 16
    epochs: int = 10
    max_steps: int | None = None
    grad_accumulation: int = 1
    clip_grad_norm: float | None = None
    precision: Precision = "32-true"
    activation_checkpointing: bool = False
    seed: int = 0
    monitor: str = "auto"
    mode: Literal["auto", "max", "min"] = "auto"
    patience: int | None = None
    min_delta: float = 0.0
    mixup_alpha: float = 0.0
    time_masks: int = 0
    time_mask_width: int = 0
    freq_masks: int = 0
    freq_mask_width: int = 0
    ema_decay: float | None = None
    eval_every: int = 1
    num_workers: int = 0

    def __post_init__(self) -> None:
        try:
            check_types(cast(Any, self))
        except TypeError as error:  # one error type for every bad value, as the CLI reports it
            raise ValueError(str(error)) from None
        for name, scale in self.lr_scales.items():
            if not isinstance(name, str) or isinstance(scale, bool) or not _number(scale):
                raise ValueError(
                    f"lr_scales: expected {{group name: factor}}, got {name!r}: {scale!r}"
                )
            if scale < 0:
                raise ValueError(f"lr_scales[{name!r}]: expected a factor >= 0, got {scale}")
        positive = ("lr", "batch_size", "epochs", "grad_accumulation", "eval_every")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected a value > 0, got {getattr(self, name)!r}")
        non_negative = (
            "triplet_weight", "weight_decay", "warmup_steps", "min_delta", "mixup_alpha",
            "time_masks", "time_mask_width", "freq_masks", "freq_mask_width", "num_workers",
        )  # fmt: skip
        for name in non_negative:
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: expected a value >= 0, got {getattr(self, name)!r}")
        for name in ("label_smoothing", "min_lr_ratio"):
            if not 0 <= getattr(self, name) < 1 + (name == "min_lr_ratio"):
                bound = "[0, 1]" if name == "min_lr_ratio" else "[0, 1)"
                raise ValueError(f"{name}: expected a value in {bound}, got {getattr(self, name)}")
        if not 0 < self.layer_decay <= 1:
            raise ValueError(f"layer_decay: expected a factor in (0, 1], got {self.layer_decay}")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas: expected two values in [0, 1), got {self.betas}")
        if not all(m >= 0 for m in self.triplet_margins):
            raise ValueError(
                f"triplet_margins: expected two margins >= 0, got {self.triplet_margins}"
            )
        for name in ("max_steps", "patience"):
            value = getattr(self, name)
            if value is not None and value < (1 if name == "max_steps" else 0):
                raise ValueError(f"{name}: expected None or an int >= 1, got {value}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay: expected None or a decay in (0, 1), got {self.ema_decay}")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            raise ValueError(
                f"clip_grad_norm: expected None or a norm > 0, got {self.clip_grad_norm}"
            )
        if self.monitor != "auto" and self.monitor not in MONITORS:
            raise ValueError(
                f"monitor: expected 'auto' or one of {sorted(MONITORS)}, got {self.monitor!r}"
            )
        if self.batch_size % self.grad_accumulation:
            raise ValueError(
                f"batch_size: expected a multiple of grad_accumulation={self.grad_accumulation}, "
                f"got {self.batch_size}"
            )

    def replace(self, **overrides: Any) -> Recipe:
        """A copy with ``overrides`` applied.

        Raises:
            ValueError: an unknown field (the message lists the valid ones) or a bad value.
        """
        unknown = sorted(set(overrides) - set(field_names()))
        if unknown:
            raise ValueError(f"Recipe has no field(s) {unknown}; valid fields: {field_names()}")
        return dataclasses.replace(self, **overrides)

    def resolved(self, task: str) -> Recipe:
        """This recipe with ``"auto"`` fields made concrete for a model of ``task``, checked.

        Raises:
            ValueError: a loss, monitor or option that does not fit ``task``.
        """
        loss = LOSS_FOR_TASK[task] if self.loss == "auto" else self.loss
        allowed = LOSSES_FOR_TASK[task]
        if loss not in allowed:
            raise ValueError(f"loss: a {task} model trains with one of {allowed}, got {loss!r}")
        monitor = MONITOR_FOR_TASK[task] if self.monitor == "auto" else self.monitor
        mode = check_monitor(monitor, task).mode if self.mode == "auto" else self.mode
        if task != "multiclass" and (self.label_smoothing or self.triplet_weight):
            name = "label_smoothing" if self.label_smoothing else "triplet_weight"
            raise ValueError(f"{name}: applies to multiclass models; this one is {task}")
        return self.replace(loss=loss, monitor=monitor, mode=mode)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _number(value: Any) -> bool:
    return isinstance(value, int | float)


def field_names() -> list[str]:
    """The fields of :class:`Recipe`."""
    return [f.name for f in dataclasses.fields(Recipe)]


# -- the papers' recipes ------------------------------------------------------------------------
_TINY = {"lr": 3e-3, "batch_size": 16, "patience": None}

PAPER_RECIPES: dict[str, Recipe] = {
    "mer_sem_mbt": Recipe(
        loss="weighted_bce", optimizer="adam", lr=1e-4, batch_size=8, epochs=50,
        monitor="macro_f1", patience=10,
    ),
    "av_attention_fusion": Recipe(
        loss="cross_entropy", triplet_weight=1.0, optimizer="adam", lr=1e-4,
        betas=(0.9, 0.999), batch_size=16, epochs=200, monitor="accuracy", patience=20,
    ),
    "colearning_transformer": Recipe(
        loss="bce", colearning="sample", optimizer="radam", lr=1e-4, batch_size=16, epochs=50,
        monitor="macro_f1", patience=10,
    ),
    "emotion_query_transformer": Recipe(
        loss="weighted_bce", optimizer="adam", lr=5e-4, schedule="cosine", batch_size=32,
        epochs=25, monitor="macro_f1",
    ),
    "emotion_query_transformer_mosei": Recipe(
        loss="weighted_bce", optimizer="adam", lr=5e-4, schedule="cosine", batch_size=32,
        epochs=10, monitor="macro_f1",
    ),
    "mcr": Recipe(loss="auto", optimizer="adam", lr=1e-3, batch_size=16, epochs=30),
    "mcr_mosi": Recipe(loss="auto", optimizer="adam", lr=1e-3, batch_size=64, epochs=120),
    "mcr_iemocap": Recipe(loss="auto", optimizer="adam", lr=2e-3, batch_size=32, epochs=60),
}  # fmt: skip
for _name in ("mer_sem_mbt", "av_attention_fusion", "colearning_transformer", "mcr"):
    PAPER_RECIPES[f"{_name}_tiny"] = PAPER_RECIPES[_name].replace(**_TINY)
# the tiny ALBERT is randomly initialised: undo the × 0.1 of the paper's pre-trained one
PAPER_RECIPES["emotion_query_transformer_tiny"] = PAPER_RECIPES[
    "emotion_query_transformer"
].replace(**_TINY, schedule="constant", lr_scales={"text_encoder": 10.0})


# -- text alone ---------------------------------------------------------------------------------
#: Settings for a model built for text alone (``modalities=("text",)``) around its pre-trained
#: encoder, on top of its paper's recipe (loss kept). The papers fine-tune their text encoders
#: only inside the fusion models, whose rates do not carry over: with its paper's Adam 5e-4, no
#: warm-up and a frozen encoder, Le et al.'s model learned nothing from IEMOCAP's transcripts in
#: its first epoch (issue #20). These are the settings measured on MELD by
#: ``benchmarks/meld_text.py`` (docs/results/meld_text.md): AdamW with weight decay 0.01,
#: layer-wise decay 0.8 from the top encoder layer down, 100 steps of linear warm-up then linear
#: decay, batch 32, 3 epochs, gradient norm clipped at 1, early stopping on validation weighted
#: F1 (multiclass) after 2 epochs without gain. The base rate is the paper's (1e-4 for Xia et
#: al.'s BERT; 5e-4 for Le et al., whose ``param_groups`` put ALBERT at × 0.1); with a frozen
#: encoder (``freeze_text_encoder``) the layers above it train at
#: :data:`FROZEN_TEXT_ENCODER_LR` (measured: Xia's 1e-4 left the head underfit on MELD, test
#: weighted F1 0.435 after 3 epochs).
TEXT_ALONE = {
    "optimizer": "adamw", "weight_decay": 0.01, "layer_decay": 0.8, "schedule": "linear",
    "warmup_steps": 100, "batch_size": 32, "epochs": 3, "clip_grad_norm": 1.0, "patience": 2,
}  # fmt: skip
#: the registered models that take the text-alone settings, and the base rate of each when its
#: encoder is frozen (only the layers above it learn)
FROZEN_TEXT_ENCODER_LR = {
    "mer_sem_mbt": 1e-3, "emotion_query_transformer": 5e-4,
    "emotion_query_transformer_mosei": 5e-4,
}  # fmt: skip


def paper_recipe(name: str) -> Recipe:
    """The recipe registered for model ``name``, or the default :class:`Recipe` for a model
    without one (a user's model): Adam 1e-3, the task's loss and monitor."""
    return PAPER_RECIPES.get(name, Recipe())


def recipe_for(name_or_model: str | nn.Module, **overrides: Any) -> Recipe:
    """The paper recipe of a registered name or a built model, with ``overrides``.

    A model built from the registry is looked up by its registered name; a model of another
    class gets the default :class:`Recipe`. A model built for another task than its paper's
    (e.g. ``task="multiclass"`` for a multilabel paper) gets its task's loss (and monitor,
    when the paper's does not apply to it). A paper-size text model built for text alone
    (``modalities=("text",)``) gets the text-alone settings (:data:`TEXT_ALONE`: AdamW,
    layer-wise decay, warm-up, early stopping on weighted F1; with a frozen encoder the rate of
    :data:`FROZEN_TEXT_ENCODER_LR`), measured on MELD's transcripts.
    ``overrides`` may be strings from a command
    line (see :func:`parse_overrides`) or typed values; they apply last.

    Raises:
        ValueError: an unknown field or a bad value (naming the field).
    """
    name = (
        name_or_model
        if isinstance(name_or_model, str)
        else getattr(name_or_model, "registered_name", None) or ""
    )
    typed = {
        k: parse_value(k, v) if isinstance(v, str) and _hint(k) is not str else v
        for k, v in overrides.items()
    }
    recipe = paper_recipe(name)
    config = getattr(name_or_model, "config", None)
    task = getattr(config, "task", None)
    if name in FROZEN_TEXT_ENCODER_LR and tuple(getattr(config, "modalities", ())) == ("text",):
        recipe = recipe.replace(**TEXT_ALONE)
        if getattr(config, "freeze_text_encoder", False):
            recipe = recipe.replace(lr=FROZEN_TEXT_ENCODER_LR[name])
        if task == "multiclass":
            recipe = recipe.replace(monitor="weighted_f1", mode="auto")
    if task in LOSSES_FOR_TASK and recipe.loss not in ("auto", *LOSSES_FOR_TASK[task]):
        recipe = recipe.replace(loss="auto")
    if task in MONITOR_FOR_TASK and recipe.monitor not in ("auto", *monitors_for(task)):
        recipe = recipe.replace(monitor="auto", mode="auto")
    return recipe.replace(**typed)


# -- command-line overrides ---------------------------------------------------------------------
def _hint(name: str) -> Any:
    hints = typing.get_type_hints(Recipe)
    if name not in hints:
        raise ValueError(f"Recipe has no field {name!r}; valid fields: {field_names()}")
    return hints[name]


def parse_value(name: str, text: str) -> Any:
    """A command-line string as field ``name`` stores it: ``"1e-3"`` → 1e-3, ``"true"`` →
    True, ``"none"`` → None, ``"0.9,0.98"`` → (0.9, 0.98), ``"text_encoder:0.1,others:1"`` →
    ``{"text_encoder": 0.1, "others": 1.0}``.

    Raises:
        ValueError: an unknown field, or text that is not a value of the field's type.
    """
    hint = _hint(name)
    try:
        return parse_as(hint, text.strip())
    except ValueError:
        raise ValueError(f"{name}: expected {describe(hint)}, got {text!r}") from None


def parse_as(hint: Any, text: str) -> Any:
    """``text`` as a value of the type annotation ``hint`` (see :func:`parse_value`).

    Raises:
        ValueError: text that is not such a value.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        if type(None) in args and text.lower() in ("none", "null", ""):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return parse_as(arg, text)
            except ValueError:
                pass
        raise ValueError(text)
    if origin is Literal:
        if text in args:
            return text
        raise ValueError(text)
    if origin is tuple:
        items = [t for t in text.split(",") if t.strip()] if text else []
        inner = [args[0]] * len(items) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(inner) != len(items):
            raise ValueError(text)
        return tuple(parse_as(h, t.strip()) for h, t in zip(inner, items, strict=True))
    if origin is dict:
        out = {}
        for item in filter(None, (t.strip() for t in text.split(","))):
            key, sep, value = item.partition(":")
            if not sep:
                raise ValueError(text)
            out[key.strip()] = float(value)
        return out
    if hint is bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError(text)
    if hint is int:
        return int(text)
    if hint is float:
        return float(text)
    return text


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``["lr=1e-3", "schedule=cosine"]`` → ``{"lr": "1e-3", "schedule": "cosine"}`` (values
    stay strings; :func:`recipe_for` converts them by field type). A key given again takes
    the later value, as command-line options do.

    Raises:
        ValueError: an item without ``=``.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set: expected key=value, got {item!r}")
        out[key] = value
    return out


def split_overrides(
    overrides: Mapping[str, str], config_fields: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Command-line overrides split into (recipe fields, model config fields).

    Raises:
        ValueError: a key that is neither (the message lists both sets).
    """
    recipe_keys, config_keys = set(field_names()), set(config_fields)
    unknown = sorted(set(overrides) - recipe_keys - config_keys)
    if unknown:
        raise ValueError(
            f"--set: {unknown} are neither recipe fields {sorted(recipe_keys)} nor model config "
            f"fields {sorted(config_keys)}"
        )
    recipe = {k: v for k, v in overrides.items() if k in recipe_keys}
    config = {k: v for k, v in overrides.items() if k not in recipe_keys}
    return recipe, config


__all__ = [
    "BACKBONE_GROUPS",
    "FROZEN_TEXT_ENCODER_LR",
    "PAPER_RECIPES",
    "TEXT_ALONE",
    "Recipe",
    "field_names",
    "paper_recipe",
    "parse_as",
    "parse_overrides",
    "parse_value",
    "recipe_for",
    "split_overrides",
]
