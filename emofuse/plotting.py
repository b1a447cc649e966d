"""Figures from recorded attentions, predictions and evaluation results (matplotlib).

Every function draws on matplotlib ``Axes`` it is given, or makes its own :class:`Figure`
(``matplotlib.figure.Figure``, no pyplot state, no display needed), and returns the figure:
save it with ``fig.savefig("out.png")``.

- :func:`plot_scores_over_time`: per-emotion scores per window of :func:`emofuse.predict.predict`.
- :func:`plot_decision_weights`: the weight of each modality's decision over time (Xia et al.
  2022's attentive decision fusion, eq. 12).
- :func:`plot_sem_maps`: semantic enhancement maps over the face crops they weigh (Xia et al.
  2022, sec. 3.1, eqs. 1–3).
- :func:`plot_cmu`: a cross-mutual unit's selective weights α and its attention maps (Yang et
  al. 2023, eqs. 2–5; ``mcr``).
- :func:`plot_confusion_matrix`, :func:`plot_per_class_f1`: evaluation results of
  :mod:`emofuse.metrics`; :func:`plot_evaluation` draws both from a
  :class:`~emofuse.metrics.Predictions`.
- :func:`plot_prediction`: the figure of ``emofuse predict --plot``.

Needs matplotlib (``pip install 'emofuse[video]'``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from emofuse.metrics import Predictions, Thresholds
    from emofuse.predict import Prediction


def _figure(**kwargs: Any) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("figures need matplotlib: pip install 'emofuse[video]'") from error
    return Figure(**{"layout": "constrained", **kwargs})


def _axes(ax: Axes | None, **figure: Any) -> Axes:
    return ax if ax is not None else _figure(**figure).add_subplot()


def _root(ax: Axes) -> Figure:
    figure = ax.get_figure(root=True)
    assert figure is not None
    return figure


def _names(names: Sequence[str] | None, count: int, prefix: str) -> list[str]:
    if names is None:
        return [f"{prefix}{i}" for i in range(count)]
    if len(names) != count:
        raise ValueError(f"label_names: expected {count} names, got {len(names)}: {list(names)}")
    return list(names)


def plot_scores_over_time(prediction: Prediction, *, ax: Axes | None = None) -> Figure:
    """Each emotion's score per window, drawn at the window's centre, with the clip's scores
    as dotted lines.

    Raises:
        ValueError: a prediction without windows.
    """
    if not prediction.windows:
        raise ValueError("prediction: has no windows to plot")
    ax = _axes(ax, figsize=(8, 3))
    centres = [(w.start + w.end) / 2 for w in prediction.windows]
    for name in prediction.label_names:
        (line,) = ax.plot(
            centres, [w.scores[name] for w in prediction.windows], marker="o", label=name
        )
        ax.axhline(prediction.clip_scores.scores[name], color=line.get_color(), ls=":", lw=1)
    ax.set_xlim(0, max(prediction.duration, centres[-1]))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("score" if prediction.task == "regression" else "probability")
    title = "scores per window (dotted: whole clip)"
    if not prediction.heads_trained:
        title += " — untrained heads"
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    return _root(ax)


def plot_decision_weights(prediction: Prediction, *, ax: Axes | None = None) -> Figure:
    """The decision-fusion weight of each modality per window, stacked (they sum to 1; Xia et
    al. 2022, eq. 12): how much each modality's decision counts over time.

    Raises:
        ValueError: the model has no attentive decision fusion.
    """
    windows = [w for w in prediction.windows if w.decision_weights is not None]
    if not windows:
        raise ValueError(
            f"prediction: {prediction.model} records no decision-fusion weights (only models "
            f"with an attentive decision fusion, e.g. mer_sem_mbt, do)"
        )
    ax = _axes(ax, figsize=(8, 2.5))
    modalities = list(windows[0].decision_weights or {})
    edges = [windows[0].start] + [w.end for w in windows]
    bottom = [0.0] * len(windows)
    for m in modalities:
        values = [(w.decision_weights or {})[m] for w in windows]
        ax.stairs(
            [b + v for b, v in zip(bottom, values, strict=True)],
            edges,
            baseline=bottom,
            fill=True,
            label=m,
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylim(0, 1)
    ax.set_xlim(0, max(prediction.duration, edges[-1]))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("decision weight")
    title = "attentive decision fusion: weight of each modality"
    clip = prediction.clip_scores.decision_weights
    if clip:  # the whole clip's, which may use a modality the windows lack (the transcript)
        title += " (whole clip: " + ", ".join(f"{m} {w:.2f}" for m, w in clip.items()) + ")"
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    return _root(ax)


def _display_images(images: Tensor) -> Tensor:
    """(T, 3, H, W) normalised images → (T, H, W, 3) in [0, 1], each stretched to its range."""
    flat = images.flatten(1)
    low, high = flat.min(1).values, flat.max(1).values
    scaled = (images - low[:, None, None, None]) / (high - low).clamp(min=1e-6)[:, None, None, None]
    return scaled.clamp(0, 1).permute(0, 2, 3, 1)


def plot_sem_maps(
    maps: Tensor,
    images: Tensor,
    *,
    mask: Tensor | None = None,
    max_steps: int = 4,
    title: str = "semantic enhancement map",
    figure: Figure | Any = None,
) -> Figure:
    """Semantic enhancement maps (Xia et al. 2022, eqs. 1–3) over the face crops they weigh.

    Inputs:
        maps: (T, h, w), one spatial map per video step (a recorded ``(B, T, h, w)`` map with
            its batch row chosen); images: (T, 3, H, W) the model's face crops (any
            normalisation: each is stretched to its own range); mask: (T,) bool, True = a real
            step (padded steps are not drawn).
        max_steps: draw at most this many steps, spread over the clip.
        figure: a Figure or SubFigure to draw on.

    Raises:
        ValueError: maps and images with different step counts, or no valid step.
    """
    if maps.dim() != 3 or images.dim() != 4 or maps.shape[0] != images.shape[0]:
        raise ValueError(
            f"maps, images: expected (T, h, w) and (T, 3, H, W) with one T, got "
            f"{tuple(maps.shape)} and {tuple(images.shape)}"
        )
    steps = torch.arange(maps.shape[0])
    if mask is not None:
        steps = steps[mask.bool().cpu()]
    if steps.numel() == 0:
        raise ValueError("mask: no valid step to draw")
    chosen = steps[torch.linspace(0, steps.numel() - 1, min(max_steps, steps.numel())).long()]
    faces = _display_images(images[chosen].detach().float().cpu())
    size = faces.shape[1:3]
    heat = F.interpolate(maps[chosen, None].detach().float().cpu(), size=size, mode="bilinear")
    heat = heat[:, 0]
    figure = figure if figure is not None else _figure(figsize=(2.2 * len(chosen), 2.6))
    axes = figure.subplots(1, len(chosen), squeeze=False)[0]
    for ax, step, face, hot in zip(axes, chosen.tolist(), faces, heat, strict=True):
        ax.imshow(face.numpy())
        ax.imshow(hot.numpy(), cmap="jet", alpha=0.45)
        ax.set_title(f"step {step}", fontsize="small")
        ax.set_axis_off()
    figure.suptitle(title, fontsize="medium")
    return figure.get_figure(root=True)


_CMU_KEY = re.compile(r"^(?P<prefix>.*\.cmu)\.(?P<target>[^.]+)\.(?P<kind>alpha|attention_\d)$")


def plot_cmu(
    attentions: Mapping[str, Tensor],
    *,
    layer: str | None = None,
    sample: int = 0,
    figure: Figure | Any = None,
) -> Figure:
    """A cross-mutual unit's selective weights α over both sources' steps (Yang et al. 2023,
    eq. 3) and the target's attention over each source (eqs. 4–5, heads averaged), one row per
    target modality.

    Args:
        attentions: recorded maps (``EmotionOutput.attentions``) with keys
            ``<layer>.cmu.<target>.alpha`` (B, T_s1 + T_s2) and
            ``<layer>.cmu.<target>.attention_<i>`` (B, heads, T_t, T_s_i).
        layer: the key prefix up to ``.cmu`` (e.g. ``"reinforcement.layers.0.cmu"``); default
            the first one recorded.
        sample: the batch row to draw.
        figure: a Figure or SubFigure to draw on.

    Raises:
        ValueError: no CMU maps in ``attentions`` (or none under ``layer``).
    """
    found: dict[str, dict[str, dict[str, Tensor]]] = {}
    for key, value in attentions.items():
        match = _CMU_KEY.match(key)
        if match:
            found.setdefault(match["prefix"], {}).setdefault(match["target"], {})[match["kind"]] = (
                value
            )
    if not found or (layer is not None and layer not in found):
        raise ValueError(
            f"attentions: expected CMU maps ('<layer>.cmu.<target>.alpha'/'attention_<i>') "
            f"{'under ' + repr(layer) if layer else ''}; recorded layers: {sorted(found)}"
        )
    layer = layer or next(iter(found))
    targets = found[layer]
    modalities = list(targets)
    figure = figure if figure is not None else _figure(figsize=(10, 2.6 * len(targets)))
    axes = figure.subplots(len(targets), 3, squeeze=False)
    for row, (target, maps) in zip(axes, targets.items(), strict=True):
        sources = [m for m in modalities if m != target]
        attn = [maps[k] for k in sorted(maps) if k.startswith("attention_")]
        if len(sources) != len(attn):
            sources = [f"source {i}" for i in range(len(attn))]
        alpha = maps.get("alpha")
        if alpha is not None:
            values = alpha[sample].detach().float().cpu()
            split = attn[0].shape[-1] if attn else values.numel()
            first, second = values[:split].numpy(), values[split:].numpy()
            row[0].bar(range(split), first, label=sources[0] if sources else "")
            row[0].bar(range(split, values.numel()), second, label=" / ".join(sources[1:]))
            row[0].set_title(f"α → {target}", fontsize="small")
            row[0].set_xlabel("source step", fontsize="small")
            row[0].legend(fontsize="x-small")
        else:
            row[0].set_axis_off()
        for ax, source, weights in zip(row[1:], sources, attn, strict=False):
            image = ax.imshow(weights[sample].detach().float().mean(0).cpu().numpy(), aspect="auto")
            ax.set_title(f"{target} attends to {source}", fontsize="small")
            ax.set_xlabel(f"{source} step", fontsize="small")
            ax.set_ylabel(f"{target} step", fontsize="small")
            figure.colorbar(image, ax=ax)
        for ax in row[1 + len(attn) :]:
            ax.set_axis_off()
    figure.suptitle(f"cross-mutual unit {layer}", fontsize="medium")
    return figure.get_figure(root=True)


def plot_confusion_matrix(
    matrix: Tensor,
    label_names: Sequence[str] | None = None,
    *,
    normalize: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """A confusion matrix (rows = true class, columns = predicted, as
    :func:`emofuse.metrics.confusion_matrix` returns it), each row normalised to recall when
    ``normalize``, the counts written in the cells.

    Raises:
        ValueError: not a square (C, C) matrix, or ``label_names`` of another length.
    """
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix: expected a (C, C) confusion matrix, got {tuple(matrix.shape)}")
    names = _names(label_names, matrix.shape[0], "class ")
    counts = matrix.detach().double().cpu()
    shown = counts / counts.sum(1, keepdim=True).clamp(min=1) if normalize else counts
    ax = _axes(ax, figsize=(1 + 0.7 * len(names), 0.8 + 0.6 * len(names)))
    image = ax.imshow(shown.numpy(), cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for i in range(len(names)):
        for j in range(len(names)):
            dark = shown[i, j] > (0.5 if normalize else shown.max() / 2)
            color = "white" if dark else "black"
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", color=color)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix" + (" (rows: recall)" if normalize else ""))
    _root(ax).colorbar(image, ax=ax)
    return _root(ax)


def plot_per_class_f1(
    f1: Tensor, label_names: Sequence[str] | None = None, *, ax: Axes | None = None
) -> Figure:
    """Per-class F1 as bars (``multiclass_f1(..., average="none")`` or
    ``multilabel_f1(..., average="none")``), with their mean (macro F1) as a line.

    Raises:
        ValueError: ``f1`` not (C,), or ``label_names`` of another length.
    """
    if f1.dim() != 1:
        raise ValueError(f"f1: expected (C,) per-class scores, got {tuple(f1.shape)}")
    names = _names(label_names, f1.shape[0], "class ")
    values = f1.detach().double().cpu()
    ax = _axes(ax, figsize=(1.5 + 0.6 * len(names), 3))
    ax.bar(range(len(names)), values.numpy())
    macro = values.nanmean().item()
    ax.axhline(macro, color="black", ls="--", lw=1, label=f"macro F1 {macro:.3f}")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_title("per-class F1")
    ax.legend(fontsize="small")
    return _root(ax)


def plot_evaluation(
    predictions: Predictions,
    label_names: Sequence[str] | None = None,
    *,
    thresholds: Thresholds | None = None,
) -> Figure:
    """The confusion matrix (single-label) and the per-class F1 of :func:`emofuse.metrics.predict`'s
    result.

    Args:
        predictions: scores and labels of a split.
        thresholds: for a multi-label model, the thresholds tuned on validation
            (:func:`emofuse.metrics.tune_thresholds`); required there.

    Raises:
        ValueError: a regression model's predictions, or a multi-label one without thresholds.
    """
    from emofuse.metrics import confusion_matrix, multiclass_f1, multilabel_f1

    if predictions.task == "multiclass":
        figure = _figure(figsize=(11, 4.5))
        left, right = figure.subplots(1, 2)
        matrix = confusion_matrix(predictions.scores, predictions.labels)
        plot_confusion_matrix(matrix, label_names, ax=left)
        f1 = multiclass_f1(predictions.scores, predictions.labels, average="none")
        plot_per_class_f1(f1, label_names, ax=right)
        return figure
    if predictions.task == "multilabel":
        if thresholds is None:
            raise ValueError(
                "thresholds: required for multi-label predictions (tune them on validation)"
            )
        f1 = multilabel_f1(predictions.scores, predictions.labels, thresholds, average="none")
        return plot_per_class_f1(f1, label_names)
    raise ValueError(f"predictions: a {predictions.task!r} task has no per-class F1")


def plot_prediction(prediction: Prediction) -> Figure:
    """The figure of ``emofuse predict --plot``: scores over time; the decision weights over
    time where the model has an attentive decision fusion; semantic enhancement maps over the
    face crops where it has them; CMU maps where it has cross-mutual units."""
    sem = [
        k
        for k, kind in prediction.attention_modules.items()
        if kind == "SemanticEnhancement" and "video" in k and prediction.attentions[k].dim() == 4
    ]
    panels: list[str] = ["scores"]
    if any(w.decision_weights for w in prediction.windows):
        panels.append("decision")
    if sem and "video" in prediction.inputs and bool(prediction.inputs["video_mask"].any()):
        panels.append("sem")
    if any(_CMU_KEY.match(k) for k in prediction.attentions):
        panels.append("cmu")
    heights = {"scores": 3.0, "decision": 2.4, "sem": 2.8, "cmu": 7.0}
    figure = _figure(figsize=(10, sum(heights[p] for p in panels)), layout="constrained")
    ratios = [heights[p] for p in panels]
    subfigures = figure.subfigures(len(panels), 1, height_ratios=ratios, squeeze=False)[:, 0]
    for panel, sub in zip(panels, subfigures, strict=True):
        if panel == "scores":
            plot_scores_over_time(prediction, ax=sub.add_subplot())
        elif panel == "decision":
            plot_decision_weights(prediction, ax=sub.add_subplot())
        elif panel == "sem":
            # the finest map (largest h × w) over the face crops of the whole clip
            key = max(sem, key=lambda k: prediction.attentions[k][0, 0].numel())
            plot_sem_maps(
                prediction.attentions[key][0],
                prediction.inputs["video"][0],
                mask=prediction.inputs["video_mask"][0],
                title=f"semantic enhancement map {key} over the face crops",
                figure=sub,
            )
        else:
            plot_cmu(prediction.attentions, figure=sub)
    figure.suptitle(f"{prediction.clip} — {prediction.model}")
    return figure


__all__ = [
    "plot_cmu",
    "plot_confusion_matrix",
    "plot_decision_weights",
    "plot_evaluation",
    "plot_per_class_f1",
    "plot_prediction",
    "plot_scores_over_time",
    "plot_sem_maps",
]
