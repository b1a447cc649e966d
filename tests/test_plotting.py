"""The figures draw the numbers they are given: bar heights, cell counts and image data are
read back from the matplotlib artists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from video_clips import talking_clip

import emofuse
import emofuse.metrics as M
from emofuse import plotting as P
from emofuse.predict import Prediction, predict


@pytest.fixture(scope="module")
def prediction(tmp_path_factory: pytest.TempPathFactory) -> Prediction:
    clip = talking_clip(tmp_path_factory.mktemp("plot") / "talk.mp4", seconds=2.0, fps=5)
    torch.manual_seed(0)
    return predict(clip, "mer_sem_mbt_tiny", window_s=1.0)


def _bars(ax) -> list[float]:
    return [p.get_height() for p in ax.patches if isinstance(p, Rectangle)]


def test_scores_over_time_draw_each_window(prediction: Prediction) -> None:
    fig = P.plot_scores_over_time(prediction)
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [line.get_label() for line in lines] == prediction.label_names
    for line, name in zip(lines, prediction.label_names, strict=True):
        np.testing.assert_allclose(line.get_ydata(), [w.scores[name] for w in prediction.windows])
        centres = [(w.start + w.end) / 2 for w in prediction.windows]
        np.testing.assert_allclose(line.get_xdata(), centres)
    assert "untrained heads" in ax.get_title()


def test_decision_weights_stack_to_one(prediction: Prediction) -> None:
    ax = P.plot_decision_weights(prediction).axes[0]
    tops = [np.asarray(patch.get_path().vertices)[:, 1].max() for patch in ax.patches]
    assert max(tops) == pytest.approx(1.0, abs=1e-5)  # audio + video + text
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["audio", "video", "text"]


def test_sem_maps_over_the_face_crops(prediction: Prediction) -> None:
    maps = prediction.attentions["video_encoder.sem.3"][0]  # (T, 8, 8)
    faces, mask = prediction.inputs["video"][0], prediction.inputs["video_mask"][0]
    fig = P.plot_sem_maps(maps, faces, mask=mask, max_steps=2)
    assert len(fig.axes) == 2
    face, heat = fig.axes[0].get_images()
    assert face.get_array().shape == (64, 64, 3) and heat.get_array().shape == (64, 64)
    # the heat map is the recorded map, upsampled: its mean is the map's mean
    assert float(heat.get_array().mean()) == pytest.approx(float(maps[0].mean()), rel=0.05)
    padded = torch.tensor([True] + [False] * (maps.shape[0] - 1))
    assert len(P.plot_sem_maps(maps, faces, mask=padded).axes) == 1  # padding is not drawn
    with pytest.raises(ValueError, match="maps, images"):
        P.plot_sem_maps(maps[:1], faces)


def test_cmu_alpha_and_attention_maps() -> None:
    model = emofuse.build("mcr_tiny").eval()
    out = model(
        **model.example_inputs(2, generator=torch.Generator().manual_seed(0)),
        return_attentions=True,
    )
    fig = P.plot_cmu(out.attentions, layer="reinforcement.layers.1.cmu", sample=1)
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(axes) == 9  # text, video, audio targets × (α, two attention maps)
    alpha = out.attentions["reinforcement.layers.1.cmu.text.alpha"][1]
    np.testing.assert_allclose(_bars(axes[0]), alpha.detach().numpy(), rtol=1e-6)
    image = axes[1].get_images()[0]
    expected = out.attentions["reinforcement.layers.1.cmu.text.attention_0"][1].mean(0)
    np.testing.assert_allclose(image.get_array(), expected.detach().numpy(), rtol=1e-6)
    assert axes[1].get_title() == "text attends to video"
    with pytest.raises(ValueError, match="CMU maps"):
        P.plot_cmu({"fusion": torch.zeros(1, 3)})


def test_confusion_matrix_and_per_class_f1() -> None:
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(40, 4, generator=g).softmax(-1)
    labels = torch.randint(4, (40,), generator=g)
    matrix = M.confusion_matrix(scores, labels)
    ax = P.plot_confusion_matrix(matrix, ["a", "b", "c", "d"]).axes[0]
    cells = [int(t.get_text()) for t in ax.texts if isinstance(t, Text)]
    assert cells == matrix.flatten().tolist()
    shown = next(a for a in ax.get_children() if isinstance(a, AxesImage)).get_array()
    np.testing.assert_allclose(shown.sum(1), (matrix.sum(1) > 0).double().numpy())  # recall rows
    f1 = M.multiclass_f1(scores, labels, average="none")
    ax = P.plot_per_class_f1(f1, ["a", "b", "c", "d"]).axes[0]
    np.testing.assert_allclose(_bars(ax), f1.numpy())
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(float(f1.mean()))
    with pytest.raises(ValueError, match="label_names"):
        P.plot_per_class_f1(f1, ["a"])
    with pytest.raises(ValueError, match="matrix"):
        P.plot_confusion_matrix(torch.zeros(2, 3))


def test_plot_evaluation_from_predictions() -> None:
    g = torch.Generator().manual_seed(1)
    single = M.Predictions(
        torch.arange(30),
        torch.rand(30, 3, generator=g).softmax(-1),
        torch.randint(3, (30,), generator=g),
        "multiclass",
    )
    assert len([a for a in P.plot_evaluation(single).axes if a.get_label() != "<colorbar>"]) == 2
    multi = M.Predictions(
        torch.arange(30),
        torch.rand(30, 3, generator=g),
        torch.randint(2, (30, 3), generator=g),
        "multilabel",
    )
    with pytest.raises(ValueError, match="thresholds"):
        P.plot_evaluation(multi)
    val_scores, val_labels = torch.rand(30, 3, generator=g), torch.randint(2, (30, 3), generator=g)
    thresholds = M.tune_thresholds(val_scores, val_labels)  # on validation, not on the test
    f1 = M.multilabel_f1(multi.scores, multi.labels, thresholds, average="none")
    ax = P.plot_evaluation(multi, thresholds=thresholds).axes[0]
    np.testing.assert_allclose(_bars(ax), f1.numpy())


def test_the_predict_figure(prediction: Prediction, tmp_path: Path) -> None:
    fig = P.plot_prediction(prediction)
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("scores per window") for t in titles)
    assert any(
        t.startswith("attentive decision fusion: weight of each modality (whole clip: audio")
        for t in titles
    )
    assert sum(t.startswith("step ") for t in titles) == 2  # SEM maps on the 2 face steps
    fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_no_decision_fusion_is_said(tmp_path: Path) -> None:
    clip = talking_clip(tmp_path / "c.mp4", seconds=1.0, fps=5, audio=False)
    result = predict(clip, "colearning_transformer_tiny")
    with pytest.raises(ValueError, match="no decision-fusion weights"):
        P.plot_decision_weights(result)
    titles = [ax.get_title() for ax in P.plot_prediction(result).axes]
    assert len(titles) == 1 and titles[0].startswith("scores per window")
