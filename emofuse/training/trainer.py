"""One training loop for every model, on Lightning Fabric.

Fabric owns what a loop should not write itself: devices and processes (one CPU, one GPU,
several GPUs or CPU processes with DDP, its own launcher or ``torchrun``), mixed precision and
the loss scaler, gradient synchronisation and accumulation, clipping, checkpoint state and
loggers; the loop stays short and visible (Fabric's design). It was chosen over Hugging Face
accelerate because its ``fabric.save``/``fabric.load`` restore any object with
``state_dict``/``load_state_dict`` in place (scheduler, sampler, random states, co-learning
draws) through a pluggable, replaceable checkpoint writer (made atomic here), and its CSV and
TensorBoard loggers need no tracker service; both run DDP with gloo on CPU.

>>> model = emofuse.build("mcr_tiny")
>>> result = fit(model, recipe_for(model), train, val, out_dir="runs/mcr")
>>> result.best_score, result.best_dir          # runs/mcr/best: save_pretrained's folder

A run writes into ``out_dir``:

- ``best/``: the best model by the recipe's monitored validation figure (``save_pretrained``;
  the last model when there is no validation data; the weights' moving average with
  ``ema_decay``), with ``best/metrics.json``;
- ``last.ckpt``: model, optimizer, scheduler, loss scaler, data order and random states, the
  weights' moving average (``ema_decay``) and the run's progress, written atomically after
  every epoch (and every ``checkpoint_every`` steps): ``resume=True`` continues from it;
- ``recipe.json``; ``logs/csv/version_N/metrics.csv`` (one version per start) and TensorBoard
  event files in ``logs/tensorboard/version_N`` when ``tensorboard`` or ``tensorboardX`` is
  installed (``pip install emofuse[tensorboard]``).

Exactness: the data order is a function of the seed, the epoch and the global batch
(:class:`~emofuse.training.checkpoints.ResumableSampler`), so a resumed run gives the
uninterrupted run's weights bit for bit, and N processes with ``batch_size / N`` each follow the
single process's steps (within float summation order), when the training set size is a
multiple of ``batch_size`` (else ``DistributedSampler`` repeats samples to even out the last
batch) and the model has no batch normalisation (statistics are per process).
"""

from __future__ import annotations

import inspect
import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning_fabric import Fabric
from lightning_fabric.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning_fabric.plugins import MixedPrecision
from lightning_fabric.strategies import DDPStrategy
from lightning_utilities.core.imports import RequirementCache
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from emofuse.data.collate import collate
from emofuse.encoders.checkpointing import set_gradient_checkpointing
from emofuse.labels import polarities as label_polarities
from emofuse.losses import PolarityTripletLoss, bce_pos_weight, multilabel_bce
from emofuse.metrics import predict
from emofuse.outputs import EmotionOutput
from emofuse.training.augment import mixup, spec_augment
from emofuse.training.checkpoints import AtomicCheckpointIO, RandomState, ResumableSampler
from emofuse.training.colearning import CoLearning
from emofuse.training.monitor import MONITORS, check_monitor
from emofuse.training.recipes import BACKBONE_GROUPS, Recipe

LAST = "last.ckpt"
BEST = "best"
_TENSORBOARD = RequirementCache("tensorboard") or RequirementCache("tensorboardX")


@dataclass
class FitResult:
    """What :func:`fit` leaves.

    Attributes:
        model: the trained model (its weights are the last step's, not their average with
            ``ema_decay``; the best are in ``best_dir``).
        best_dir: ``out_dir/best`` (``save_pretrained``'s folder).
        best_score: the monitored figure of the best model (``None`` without validation data).
        best_epoch: the epoch (0-based) of the best model.
        monitor: the monitored figure's name.
        history: one dict per validation (epoch, step, train loss, every figure) in order.
        steps: optimizer steps taken in all.
        stopped_early: early stopping ended the run.
        paused: ``stop_after_steps`` ended it (``resume=True`` continues).
    """

    model: nn.Module
    best_dir: Path
    best_score: float | None
    best_epoch: int | None
    monitor: str
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    stopped_early: bool = False
    paused: bool = False


def fit(
    model: nn.Module,
    recipe: Recipe,
    train_data: Dataset[Any],
    val_data: Dataset[Any] | None = None,
    *,
    out_dir: str | Path,
    resume: bool = False,
    collate_fn: Callable[[list[Any]], dict[str, Any]] | None = None,
    pos_weight: Tensor | None = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    checkpoint_every: int | None = None,
    stop_after_steps: int | None = None,
    progress: bool = True,
    loggers: Sequence[Logger] | None = None,
    pipeline: Any = None,
) -> FitResult:
    """Train ``model`` with ``recipe`` on ``train_data``, validating on ``val_data``.

    Args:
        model: an emofuse model (``config.task``, ``param_groups``, ``save_pretrained``); the
            caller builds it (seed first for a reproducible initialisation).
        recipe: see :class:`Recipe`; ``"auto"`` fields follow the model's task.
        train_data: a dataset of :mod:`emofuse.data` samples (dicts of the model's inputs,
            time first, plus ``label`` and ``id``).
        val_data: the validation dataset, samples as ``train_data``'s; ``None``: no validation.
        out_dir: where the run writes (see the module docstring); created if missing.
        resume: continue from ``out_dir/last.ckpt`` (same recipe, data and process count).
        collate_fn: batches samples; default :func:`emofuse.data.collate`, with the model's
            fixed lengths for models that have them.
        pos_weight: (K,) for ``loss="weighted_bce"``; default negatives / positives per class
            of ``train_data``'s labels (read once: a ``labels`` attribute when the dataset has
            one, else every sample).
        accelerator: Lightning Fabric's (``"cpu"``, ``"gpu"``, ``"auto"``).
        devices: Lightning Fabric's; devices > 1 runs DDP: with Fabric's launcher the script
            starts its other processes itself, under ``torchrun`` it joins the ones torchrun
            started.
        num_nodes: Lightning Fabric's.
        checkpoint_every: also write ``last.ckpt`` every this many optimizer steps.
        stop_after_steps: pause after this many optimizer steps in all (writing
            ``last.ckpt``), e.g. to fit a job's time slot; ``resume=True`` continues.
        progress: a tqdm bar on the first process.
        loggers: Fabric loggers; default CSV (and TensorBoard when installed) in ``out_dir/logs``.
        pipeline: the input pipeline (:func:`emofuse.transforms.for_model`) the samples went
            through: saved beside every best model, so its tokenizer and statistics travel.

    Returns:
        a :class:`FitResult`.
    Raises:
        ValueError: a recipe that does not fit the model (loss for its task, a group name in
            ``lr_scales`` it lacks, co-learning modalities it does not take, ...), a batch size
            the processes cannot share, ``resume`` without a checkpoint, or empty data.
    """
    out = Path(out_dir)
    task = _task(model)
    recipe = recipe.resolved(task)
    monitor = check_monitor(recipe.monitor, task)
    if recipe.monitor != "loss" and val_data is None and recipe.patience is not None:
        raise ValueError("patience: early stopping needs val_data")
    if resume and not (out / LAST).is_file():
        raise ValueError(f"resume: no checkpoint to resume from at {out / LAST}")
    if len(train_data) == 0:  # type: ignore[arg-type]  # map-style datasets have a length
        raise ValueError("train_data: expected at least one sample, got an empty dataset")
    fabric = _fabric(recipe, accelerator, devices, num_nodes, out, loggers, resume)
    fabric.launch()
    world = fabric.world_size
    micro = recipe.batch_size // recipe.grad_accumulation
    if micro % world:
        raise ValueError(
            f"batch_size: {recipe.batch_size} / grad_accumulation {recipe.grad_accumulation} = "
            f"{micro} samples per forward pass cannot be shared by {world} processes"
        )
    fabric.seed_everything(recipe.seed + fabric.global_rank, verbose=False)
    collate_fn = partial(
        _inputs_only, collate_fn or partial(collate, lengths=_fixed_lengths(model))
    )
    set_gradient_checkpointing(model, recipe.activation_checkpointing)

    groups = _param_groups(model, recipe)
    optimizer = _optimizer(recipe, groups)
    sampler = ResumableSampler(
        train_data, num_replicas=world, rank=fabric.global_rank, shuffle=True, seed=recipe.seed
    )
    train_loader = DataLoader(
        train_data, batch_size=micro // world, sampler=sampler, collate_fn=collate_fn,
        num_workers=recipe.num_workers, drop_last=False,
        generator=torch.Generator().manual_seed(recipe.seed),  # worker seeds: not the global RNG
    )  # fmt: skip
    micro_per_epoch = len(train_loader)
    steps_per_epoch = math.ceil(micro_per_epoch / recipe.grad_accumulation)
    total_steps = recipe.epochs * steps_per_epoch
    if recipe.max_steps is not None:
        total_steps = min(total_steps, recipe.max_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(_lr_factor, recipe=recipe, total=total_steps)
    )
    loss_fn = _loss(recipe, model, train_data, pos_weight, fabric.device)
    colearning = _colearning(recipe, model, loss_fn)

    fabric_model, optimizer = fabric.setup(model, optimizer)
    ema = _ema(model, recipe)
    evaluated = model if ema is None else ema.module  # validated, selected and saved as best
    # not fabric.setup_dataloaders: its loader calls set_epoch(number of iterations so far)
    # on the sampler, which a resumed run must set itself (epoch and position in it)
    val_loader = None
    if val_data is not None:
        plain = DataLoader(
            val_data, batch_size=max(1, micro // world), collate_fn=collate_fn,
            num_workers=recipe.num_workers,
        )  # fmt: skip
        val_loader = fabric.setup_dataloaders(plain)

    progress_state: dict[str, Any] = {
        "epoch": 0, "batches_done": 0, "step": 0, "best": None, "best_epoch": None,
        "bad_validations": 0, "history": [], "stopped_early": False,
    }  # fmt: skip
    state: dict[str, Any] = {
        "model": fabric_model, "optimizer": optimizer, "scheduler": scheduler,
        "scaler": fabric.strategy.precision, "random": RandomState(fabric),
        "progress": progress_state,
    }  # fmt: skip
    if colearning is not None:
        state["colearning"] = colearning
    if ema is not None:
        state["ema"] = ema
    if resume:
        fabric.load(out / LAST, state, weights_only=True)
        progress_state = state["progress"]
    elif fabric.is_global_zero:
        out.mkdir(parents=True, exist_ok=True)
        (out / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2) + "\n")

    def save_last() -> None:
        fabric.save(out / LAST, state)

    bar = tqdm(
        total=total_steps, initial=progress_state["step"], disable=not progress or not
        fabric.is_global_zero, desc="train", dynamic_ncols=True,
    )  # fmt: skip
    paused = False
    start_epoch = progress_state["epoch"]
    try:
        for epoch in range(start_epoch, recipe.epochs):
            if progress_state["stopped_early"] or progress_state["step"] >= total_steps:
                break
            progress_state["epoch"] = epoch
            sampler.set_epoch(epoch)
            sampler.skip(progress_state["batches_done"] * (micro // world))
            fabric_model.train()
            running, seen = 0.0, 0
            batch_iter = (fabric.to_device(b) for b in train_loader)
            while True:
                window = _next_window(batch_iter, recipe.grad_accumulation)
                if not window:
                    break
                loss = _step(fabric, fabric_model, optimizer, window, recipe, loss_fn, colearning)
                scheduler.step()
                if ema is not None:
                    ema.update_parameters(model)
                progress_state["batches_done"] += len(window)
                progress_state["step"] += 1
                running, seen = running + loss, seen + 1
                step = progress_state["step"]
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", epoch=epoch)
                fabric.log_dict(
                    {"train/loss": loss, "lr": optimizer.param_groups[-1]["lr"]}, step=step
                )
                if checkpoint_every and step % checkpoint_every == 0:
                    save_last()
                if stop_after_steps is not None and step >= stop_after_steps:
                    paused = step < total_steps
                    break
                if step >= total_steps:
                    break
            epoch_done = progress_state["batches_done"] >= micro_per_epoch
            if paused and not epoch_done:
                save_last()
                break
            progress_state["epoch"], progress_state["batches_done"] = epoch + 1, 0
            if (epoch + 1) % recipe.eval_every == 0 or progress_state["step"] >= total_steps:
                record = _validate(
                    fabric, evaluated, val_loader, recipe, monitor.name, task, loss_fn, epoch
                )
                record.update(step=progress_state["step"], train_loss=running / max(seen, 1))
                figures = {k: v for k, v in record.items() if k.startswith("val/")}
                if figures:
                    fabric.log_dict(figures, step=progress_state["step"])
                _select(
                    fabric, evaluated, record, recipe, progress_state, out, val_loader is None,
                    pipeline,
                )  # fmt: skip
            save_last()
            if paused:
                break
    finally:
        bar.close()
        for logger in fabric.loggers:
            logger.finalize("success")
    if val_loader is None and not paused and fabric.is_global_zero:
        _save_best(evaluated, out / BEST, pipeline)  # the last model (or its average)
    fabric.barrier()
    return FitResult(
        model=model,
        best_dir=out / BEST,
        best_score=progress_state["best"],
        best_epoch=progress_state["best_epoch"],
        monitor=recipe.monitor,
        history=list(progress_state["history"]),
        steps=progress_state["step"],
        stopped_early=progress_state["stopped_early"],
        paused=paused,
    )


# -- set-up -------------------------------------------------------------------------------------
def _config(model: nn.Module) -> Any:
    return getattr(model, "config", None)


def _task(model: nn.Module) -> str:
    task = getattr(getattr(model, "config", None), "task", None)
    if task not in ("multiclass", "multilabel", "regression"):
        raise ValueError(f"model: expected an emofuse model with config.task, got {task!r}")
    return str(task)


def _fabric(
    recipe: Recipe,
    accelerator: str,
    devices: int | str,
    num_nodes: int,
    out: Path,
    loggers: Sequence[Logger] | None,
    resume: bool,
) -> Fabric:
    precision = recipe.precision
    if precision == "auto":
        gpu = torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
        precision = "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"
    if precision == "16-mixed" and not (
        torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
    ):
        raise ValueError(
            "precision: '16-mixed' (float16 with a loss scaler) runs on a GPU; use "
            "'bf16-mixed' on CPU"
        )
    gpu = torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
    plugins: list[Any] = [AtomicCheckpointIO()]
    if precision in ("bf16-mixed", "16-mixed"):
        plugins.append(_AutocastInputsAsGiven(precision, "cuda" if gpu else "cpu"))
    multi = num_nodes > 1 or (devices not in (1, "1") and str(devices) != "auto")
    # co-learning's single-modality steps leave the other modality's parameters out: DDP must
    # look for them (a search torch warns about when nothing is ever unused)
    unused = recipe.colearning not in ("off", "conventional")
    strategy: Any = DDPStrategy(find_unused_parameters=unused) if multi else "auto"
    if loggers is None:  # logs/csv/version_N and logs/tensorboard/version_N, N per start
        loggers = [CSVLogger(out / "logs", name="csv")]
        if _TENSORBOARD:
            loggers.append(TensorBoardLogger(out / "logs", name="tensorboard"))
    del resume  # every start writes a new logs/version_N
    return Fabric(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=None if len(plugins) > 1 else precision,  # the plugin carries it
        plugins=plugins,
        loggers=list(loggers),
    )


class _AutocastInputsAsGiven(MixedPrecision):
    """Fabric's mixed precision (``torch.autocast``, a loss scaler for float16) without its
    cast of every float input to the low precision before the forward: emofuse models check
    that float inputs have their weights' dtype, and autocast casts per operation anyway."""

    def convert_input(self, data: Any) -> Any:
        return data


def _inputs_only(
    collate_fn: Callable[[list[Any]], dict[str, Any]], samples: list[Any]
) -> dict[str, Any]:
    """The batch without what is not a model input: values collate keeps as lists (a
    transcript's ``raw_text``, say), except the sample ``id``."""
    batch = collate_fn(samples)
    return {k: v for k, v in batch.items() if isinstance(v, Tensor) or k == "id"}


def _fixed_lengths(model: nn.Module) -> dict[str, int]:
    if not getattr(type(model), "fixed_lengths", False):
        return {}
    example = model.example_inputs(batch_size=1)  # type: ignore[operator]  # an EmotionModel
    return {
        k: v.shape[1]
        for k, v in example.items()
        if isinstance(v, Tensor) and not k.endswith("_mask") and v.dim() >= 2
    }


def _param_groups(model: nn.Module, recipe: Recipe) -> list[dict[str, Any]]:
    make = getattr(model, "param_groups", None)
    if recipe.layer_decay != 1 and (
        not callable(make) or "layer_decay" not in inspect.signature(make).parameters
    ):
        raise ValueError(
            f"layer_decay: {type(model).__name__}.param_groups has no layer-wise learning "
            f"rates; expected 1, got {recipe.layer_decay}"
        )
    groups: list[dict[str, Any]]
    if not callable(make):
        groups = [{"name": "all", "params": [p for p in model.parameters() if p.requires_grad]}]
    elif recipe.layer_decay != 1:
        groups = make(recipe.lr, layer_decay=recipe.layer_decay)
    else:
        groups = make(recipe.lr)
    names: list[str] = [str(g.get("name", i)) for i, g in enumerate(groups)]
    unknown = sorted(set(recipe.lr_scales) - set(names) - {n.split(".")[0] for n in names})
    if unknown:
        raise ValueError(f"lr_scales: {unknown} are not groups of this model; its groups: {names}")
    kept = []
    for name, group in zip(names, groups, strict=True):
        # a layer's group (``text_encoder.3``) takes its encoder's scale and freezing
        family = name.split(".")[0]
        scale = recipe.lr_scales.get(name, recipe.lr_scales.get(family, 1.0))
        frozen = scale == 0 or (recipe.freeze_backbone and family in BACKBONE_GROUPS)
        if frozen:
            for p in group["params"]:
                p.requires_grad_(False)
            continue
        params = [p for p in group["params"] if p.requires_grad]
        if params:  # a group left empty (a frozen encoder) would only confuse the optimizer
            kept.append({**group, "params": params, "lr": group.get("lr", recipe.lr) * scale})
    if not kept:
        raise ValueError("lr_scales: every parameter group is frozen; nothing would train")
    return kept


def _optimizer(recipe: Recipe, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    wd = recipe.weight_decay
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.betas[0], weight_decay=wd)
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "radam": torch.optim.RAdam}
    return cls[recipe.optimizer](groups, lr=recipe.lr, betas=recipe.betas, weight_decay=wd)


def _lr_factor(step: int, *, recipe: Recipe, total: int) -> float:
    """Linear warm-up over ``warmup_steps``, then the schedule down to ``min_lr_ratio``."""
    warmup = recipe.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    if recipe.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    low = recipe.min_lr_ratio
    if recipe.schedule == "cosine":
        return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress))
    return low + (1 - low) * (1 - progress)


# -- losses -------------------------------------------------------------------------------------
LossFn = Callable[[Tensor, Tensor], Tensor]


def _loss(
    recipe: Recipe,
    model: nn.Module,
    train_data: Dataset[Any],
    pos_weight: Tensor | None,
    device: torch.device,
) -> LossFn:
    """``(logits, targets) -> loss`` of the recipe (targets may be soft after mixup)."""
    if recipe.loss == "cross_entropy":
        return partial(_cross_entropy, smoothing=recipe.label_smoothing)
    if recipe.loss in ("bce", "weighted_bce"):
        weight = None
        if recipe.loss == "weighted_bce":
            if pos_weight is None:
                names = getattr(getattr(model, "config", None), "label_names", None)
                pos_weight = bce_pos_weight(_labels(train_data), label_names=names)
            weight = pos_weight.to(device)
        return partial(_bce, pos_weight=weight)
    return partial(_regression, kind=recipe.loss)


def _cross_entropy(logits: Tensor, targets: Tensor, *, smoothing: float) -> Tensor:
    return F.cross_entropy(logits.float(), targets, label_smoothing=smoothing)


def _bce(logits: Tensor, targets: Tensor, *, pos_weight: Tensor | None) -> Tensor:
    return multilabel_bce(logits.float(), targets.float(), pos_weight)


def _regression(logits: Tensor, targets: Tensor, *, kind: str) -> Tensor:
    preds = logits.float().reshape(targets.shape)
    return F.l1_loss(preds, targets.float()) if kind == "l1" else F.mse_loss(preds, targets.float())


def _labels(data: Dataset[Any]) -> Tensor:
    labels = getattr(data, "labels", None)
    if isinstance(labels, Tensor):
        return labels
    size = len(data)  # type: ignore[arg-type]  # map-style datasets have a length
    return torch.stack([torch.as_tensor(data[i]["label"]) for i in range(size)])


def _colearning(recipe: Recipe, model: nn.Module, loss_fn: LossFn) -> CoLearning | None:
    if recipe.colearning == "off":
        return None
    if recipe.triplet_weight:
        raise ValueError("triplet_weight: the polarity triplet term and co-learning do not combine")
    modalities = recipe.colearning_modalities or _model_modalities(model)
    return CoLearning(modalities, mode=recipe.colearning, loss_fn=loss_fn, seed=recipe.seed)


def _model_modalities(model: nn.Module) -> tuple[str, ...]:
    specs = getattr(type(model), "input_specs", None)
    config = getattr(model, "config", None)
    if specs is None or config is None:
        raise ValueError("colearning_modalities: name the modalities of this model")
    return tuple(s.name for s in specs(config) if s.kind != "bool")


# -- steps --------------------------------------------------------------------------------------
def _next_window(batches: Any, size: int) -> list[dict[str, Any]]:
    window = []
    for batch in batches:
        window.append(batch)
        if len(window) == size:
            break
    return window


def _step(
    fabric: Fabric,
    model: Any,
    optimizer: Any,
    window: list[dict[str, Any]],
    recipe: Recipe,
    loss_fn: LossFn,
    colearning: CoLearning | None,
) -> float:
    """One optimizer step over the micro-batches of ``window``; returns the mean loss."""
    total = 0.0
    for index, batch in enumerate(window):
        last = index == len(window) - 1
        with fabric.no_backward_sync(model, enabled=not last):
            loss = _batch_loss(model, batch, recipe, loss_fn, colearning) / len(window)
            fabric.backward(loss)
        total += float(loss.detach())
    if recipe.clip_grad_norm is not None:
        fabric.clip_gradients(model, optimizer, max_norm=recipe.clip_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total


def _batch_loss(
    model: nn.Module,
    batch: dict[str, Any],
    recipe: Recipe,
    loss_fn: LossFn,
    colearning: CoLearning | None,
) -> Tensor:
    inputs = {k: v for k, v in batch.items() if k not in ("label", "id")}
    targets: Tensor = batch["label"]
    if (recipe.time_masks or recipe.freq_masks) and "audio" in inputs:
        inputs["audio"] = spec_augment(
            inputs["audio"], time_masks=recipe.time_masks, time_mask_width=recipe.time_mask_width,
            freq_masks=recipe.freq_masks, freq_mask_width=recipe.freq_mask_width,
        )  # fmt: skip
    if recipe.mixup_alpha:
        if recipe.triplet_weight:
            raise ValueError("mixup_alpha: mixup and the polarity triplet term do not combine")
        soft = targets
        if recipe.loss == "cross_entropy":
            num_classes = int(_config(model).num_classes)
            soft = F.one_hot(targets, num_classes).float()
        inputs, targets = mixup(inputs, soft.float(), recipe.mixup_alpha)
    if colearning is not None:
        loss, _ = colearning(model, inputs, targets)
        return loss
    output = model(**inputs)
    logits = output.logits if isinstance(output, EmotionOutput) else output
    loss = loss_fn(logits, targets)
    if recipe.triplet_weight:
        loss = loss + recipe.triplet_weight * _triplet(model, output, targets, recipe)
    return loss


def _triplet(model: nn.Module, output: Any, labels: Tensor, recipe: Recipe) -> Tensor:
    embedding = getattr(output, "embedding", None)
    if embedding is None:
        raise ValueError("triplet_weight: the polarity triplet term needs the model's embedding")
    names = _config(model).label_names
    if names is None:
        raise ValueError(
            "triplet_weight: the polarity triplet term needs label_names with a polarity each "
            "(emofuse.labels.polarities)"
        )
    alpha, beta = recipe.triplet_margins
    triplet = PolarityTripletLoss(
        label_polarities(names), alpha=alpha, beta=beta, mining=recipe.triplet_mining
    )
    return triplet(embedding.float(), labels)


def _ema(model: nn.Module, recipe: Recipe) -> AveragedModel | None:
    """The exponential moving average of ``model``'s weights and buffers (``recipe.ema_decay``),
    on the model's device; ``None`` when off."""
    if recipe.ema_decay is None:
        return None
    average = get_ema_multi_avg_fn(recipe.ema_decay)
    return AveragedModel(model, multi_avg_fn=average, use_buffers=True)


# -- validation and selection -------------------------------------------------------------------
def _validate(
    fabric: Fabric,
    model: nn.Module,
    loader: Any,
    recipe: Recipe,
    monitor: str,
    task: str,
    loss_fn: LossFn,
    epoch: int,
) -> dict[str, float]:
    record: dict[str, float] = {"epoch": float(epoch)}
    if loader is None:
        return record
    preds = predict(model, loader)
    scores, labels = preds.scores, preds.labels
    record["val/loss"] = _score_loss(scores, labels, task, recipe)
    for name, m in MONITORS.items():
        if task in m.functions:
            record[f"val/{name}"] = m.functions[task](scores, labels)
    return record


def _score_loss(scores: Tensor, labels: Tensor, task: str, recipe: Recipe) -> float:
    """The task loss on validation scores (probabilities or predictions)."""
    if task == "multiclass":
        return float(F.nll_loss(scores.clamp_min(1e-12).log(), labels))
    if task == "multilabel":
        return float(F.binary_cross_entropy(scores.clamp(1e-7, 1 - 1e-7), labels.float()))
    preds, target = scores.float(), labels.float().reshape(scores.shape)
    return float(F.l1_loss(preds, target) if recipe.loss == "l1" else F.mse_loss(preds, target))


def _select(
    fabric: Fabric,
    model: nn.Module,
    record: dict[str, float],
    recipe: Recipe,
    state: dict[str, Any],
    out: Path,
    no_validation: bool,
    pipeline: Any,
) -> None:
    """Keep the best model (``save_pretrained``) and count validations without improvement."""
    state["history"].append(record)
    if no_validation:  # the last model is the best: written when the run ends
        return
    value = record[f"val/{recipe.monitor}"]
    best = state["best"]
    sign = 1.0 if recipe.mode == "max" else -1.0
    improved = not math.isnan(value) and (best is None or sign * (value - best) > recipe.min_delta)
    if improved:
        state["best"], state["best_epoch"], state["bad_validations"] = (
            value,
            int(record["epoch"]),
            0,
        )
        if fabric.is_global_zero:
            _save_best(model, out / BEST, pipeline)
            metrics = {k: v for k, v in record.items()}
            (out / BEST / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    else:
        state["bad_validations"] += 1
        if recipe.patience is not None and state["bad_validations"] > recipe.patience:
            state["stopped_early"] = True
    fabric.barrier()


def _save_best(model: nn.Module, directory: Path, pipeline: Any) -> None:
    model.save_pretrained(directory)  # type: ignore[operator]  # an EmotionModel
    if pipeline is not None:
        pipeline.save_pretrained(directory)


# -- several seeds ------------------------------------------------------------------------------
@dataclass
class SeedTable:
    """Figures of one run per seed, with their mean and sample standard deviation.

    Attributes:
        seeds: the seeds, in order; runs: one ``{figure: value}`` per seed.
    """

    seeds: list[int]
    runs: list[dict[str, float]]

    def summary(self) -> dict[str, tuple[float, float]]:
        """``{figure: (mean, std)}`` over the seeds (std 0 for one seed)."""
        keys = [k for k in self.runs[0] if all(k in r for r in self.runs)]
        out = {}
        for key in keys:
            values = [r[key] for r in self.runs]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            out[key] = (statistics.fmean(values), std)
        return out

    def to_markdown(self, digits: int = 3) -> str:
        """One row per seed, then ``mean ± std``."""
        summary = self.summary()
        keys = list(summary)
        lines = ["| seed | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
        for seed, run in zip(self.seeds, self.runs, strict=True):
            lines.append(f"| {seed} | " + " | ".join(f"{run[k]:.{digits}f}" for k in keys) + " |")
        cells = [f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in summary.values()]
        lines.append("| mean ± std | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def fit_seeds(
    make_model: Callable[[], nn.Module],
    recipe: Recipe,
    train_data: Dataset[Any],
    val_data: Dataset[Any] | None = None,
    *,
    seeds: Sequence[int],
    out_dir: str | Path,
    **kwargs: Any,
) -> tuple[SeedTable, list[FitResult]]:
    """:func:`fit` once per seed (``out_dir/seed_<s>``), each model built by ``make_model``
    after ``torch.manual_seed(s)``; the table holds each run's best validation figures.

    Raises:
        ValueError: no seeds or a repeated one; anything :func:`fit` raises.
    """
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: expected distinct seeds, got {list(seeds)}")
    results, runs = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        result = fit(
            make_model(), recipe.replace(seed=seed), train_data, val_data,
            out_dir=Path(out_dir) / f"seed_{seed}", **kwargs,
        )  # fmt: skip
        results.append(result)
        best = _best_record(result)
        runs.append({k: v for k, v in best.items() if k.startswith("val/")})
    return SeedTable(list(seeds), runs), results


def _best_record(result: FitResult) -> Mapping[str, float]:
    if result.best_epoch is None:
        return result.history[-1] if result.history else {}
    return next(r for r in result.history if int(r["epoch"]) == result.best_epoch)


__all__ = ["FitResult", "SeedTable", "fit", "fit_seeds"]
