"""What ``emofuse train`` and ``emofuse evaluate`` do, as functions a Python user calls the same
way: a registered model, a ``--data`` layout (:mod:`emofuse.training.sources`), its paper recipe
with overrides, one run per seed."""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from emofuse.data.collate import collate
from emofuse.metrics import evaluate as evaluate_protocol
from emofuse.metrics import predict, tune_thresholds
from emofuse.models.base import EmotionModel
from emofuse.registry import build, default_config
from emofuse.training.colearning import drop_modalities
from emofuse.training.monitor import MONITORS
from emofuse.training.recipes import parse_as, recipe_for, split_overrides
from emofuse.training.sources import DataSplits, resolve_data
from emofuse.training.trainer import FitResult, SeedTable, fit, fit_seeds


def config_overrides(name: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Model config overrides with strings converted by each field's type.

    Raises:
        ValueError: a string that is not a value of its field's type.
    """
    config = default_config(name)
    hints = typing.get_type_hints(type(config))
    out = {}
    for key, value in overrides.items():
        if isinstance(value, str) and hints.get(key) is not str:
            try:
                value = parse_as(hints[key], value)
            except ValueError:
                raise ValueError(
                    f"{key}: expected a value of {hints[key]}, got {value!r}"
                ) from None
        out[key] = value
    return out


def train(
    name: str,
    *,
    data: str,
    out_dir: str | Path,
    fold: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    seeds: Sequence[int] | None = None,
    devices: int = 1,
    accelerator: str = "auto",
    resume: bool = False,
    progress: bool = True,
    pretrained: bool = False,
) -> tuple[list[FitResult], SeedTable | None]:
    """Train registered model ``name`` on ``data`` with its paper recipe.

    Args:
        name: a registered model.
        data: a ``--data`` layout (:func:`~emofuse.training.sources.resolve_data`).
        out_dir: the run's folder (``out_dir/seed_<s>`` per seed when several).
        fold: the corpus fold, for corpora with folds (RAVDESS).
        overrides: recipe fields and model config fields, typed or as strings.
        seeds: one run per seed (model initialisation, data order, dropout); default the
            recipe's seed.
        devices, accelerator: Lightning Fabric's (devices > 1: DDP).
        resume: continue each run from its ``last.ckpt``.
        pretrained: start from the backbones' published weights (``build(pretrained=True)``).
    Returns:
        (the runs' results, the seeds' table when there are several seeds, else ``None``).
    Raises:
        ValueError: an unknown override, a bad value, data the model cannot read.
    """
    recipe_keys, config_keys = split_overrides(
        dict(overrides or {}), default_config(name).field_names()
    )
    config = config_overrides(name, config_keys)
    seeds = list(seeds) if seeds else [recipe_for(name, **recipe_keys).seed]
    torch.manual_seed(seeds[0])
    model = build(name, pretrained=pretrained, **config)
    recipe = recipe_for(model, **recipe_keys)  # as built: its task and modalities
    splits = resolve_data(data, model, fold=fold)
    kwargs: dict[str, Any] = dict(
        devices=devices, accelerator=accelerator, progress=progress, pipeline=splits.pipeline,
        resume=resume,
    )  # fmt: skip
    if len(seeds) == 1:
        result = fit(
            model, recipe.replace(seed=seeds[0]), splits.train, splits.validation,
            out_dir=out_dir, **kwargs,
        )  # fmt: skip
        return [result], None
    table, results = fit_seeds(
        lambda: build(name, pretrained=pretrained, **config), recipe, splits.train,
        splits.validation, seeds=seeds, out_dir=out_dir, **kwargs,
    )  # fmt: skip
    return results, table


def load_run(directory: str | Path) -> tuple[EmotionModel[Any], Path]:
    """The best model of a run folder (``DIR/best``), or of a ``save_pretrained`` folder.

    Raises:
        FileNotFoundError: neither holds a saved model.
    """
    directory = Path(directory)
    folder = directory / "best" if (directory / "best" / "config.json").is_file() else directory
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{directory}: expected a run folder (with best/) or a save_pretrained folder"
        )
    return EmotionModel.from_pretrained(folder), folder


def evaluate(
    directory: str | Path,
    *,
    data: str,
    split: str = "test",
    fold: int | None = None,
    missing: Sequence[str] = (),
    protocol: str | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Score a trained model on a split of ``data``.

    Args:
        directory: a run folder (its ``best/``) or a ``save_pretrained`` folder.
        data, fold: as :func:`train`.
        split: ``"test"`` or ``"validation"``.
        missing: modalities left out of every batch (the model runs without them).
        protocol: a paper protocol of :mod:`emofuse.metrics` (``"name/dataset"``); default
            the corpus's for this model, if any. Multi-label protocols take thresholds tuned
            on the validation split (Dai et al.'s protocol).
    Returns:
        ``{"model", "split", "samples", "figures": {name: value}, "protocol": name or None,
        "protocol_figures": {...} or None}``; ``figures`` are those of
        :mod:`emofuse.training.monitor` for the model's task.
    Raises:
        ValueError: an unknown split or protocol, a modality the model cannot miss.
    """
    if split not in ("test", "validation"):
        raise ValueError(f"split: expected 'test' or 'validation', got {split!r}")
    model, folder = load_run(directory)
    splits = resolve_data(data, model, fold=fold)
    dataset = splits.test if split == "test" else splits.validation
    if dataset is None:
        raise ValueError(f"split: {data} has no {split} split")
    task = model.config.task
    loader = _loader(model, dataset, batch_size, missing)
    preds = predict(model, loader)
    figures = {
        name: m.functions[task](preds.scores, preds.labels)
        for name, m in MONITORS.items()
        if task in m.functions
    }
    chosen = protocol or splits.protocol
    table = None
    if chosen is not None:
        thresholds = None
        if task == "multilabel":
            if splits.validation is None:
                raise ValueError(f"protocol: {chosen} tunes thresholds on a validation split")
            val = predict(model, _loader(model, splits.validation, batch_size, missing))
            thresholds = tune_thresholds(val.scores, val.labels)
        table = dict(evaluate_protocol(model, loader, protocol=chosen, thresholds=thresholds))
    return {
        "model": str(folder),
        "split": split,
        "samples": int(preds.ids.numel()),
        "figures": figures,
        "protocol": chosen,
        "protocol_figures": table,
    }


def _loader(model: Any, dataset: Any, batch_size: int, missing: Sequence[str]) -> Any:
    lengths = {}
    if type(model).fixed_lengths:
        example = model.example_inputs(batch_size=1)
        lengths = {k: v.shape[1] for k, v in example.items() if not k.endswith("_mask")}
    loader = DataLoader(
        dataset, batch_size=batch_size, collate_fn=lambda s: collate(s, lengths=lengths)
    )
    modalities = [s.name for s in type(model).input_specs(model.config) if s.kind != "bool"]
    unknown = sorted(set(missing) - set(modalities))
    if unknown:
        raise ValueError(f"missing: {unknown} are not inputs of this model ({modalities})")

    def batches() -> Any:
        for batch in loader:
            batch = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) or k == "id"}
            kept = [m for m in modalities if m not in missing]
            yield drop_modalities(batch, kept, modalities) if missing else batch

    return list(batches())


def format_result(result: Mapping[str, Any]) -> str:
    """``evaluate``'s result as text lines."""
    lines = [f"{result['model']} on {result['split']} ({result['samples']} samples)"]
    lines += [f"  {k}: {v:.4f}" for k, v in result["figures"].items()]
    if result["protocol_figures"]:
        lines.append(f"  {result['protocol']}:")
        lines += [f"    {k}: {v:.4f}" for k, v in result["protocol_figures"].items()]
    return "\n".join(lines)


def to_json(result: Mapping[str, Any]) -> str:
    return json.dumps(result, indent=2)


__all__ = ["DataSplits", "config_overrides", "evaluate", "format_result", "load_run", "train"]
