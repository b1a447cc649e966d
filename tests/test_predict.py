"""emofuse.predict end to end on clips made here: a real face photograph animated into frames,
speech synthesised by espeak-ng, muxed with PyAV; and the imperfect clips real files are."""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from video_clips import corrupt_audio_packet, speech, talking_clip

import emofuse
from emofuse.cli import main
from emofuse.predict import Prediction, predict

MODEL = "mer_sem_mbt_tiny"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 3 s at 10 fps; frames 10-19 (the second second) show a coffee cup: no face there
    path = tmp_path_factory.mktemp("predict") / "talk.mp4"
    return talking_clip(path, seconds=3.0, no_face=range(10, 20))


@pytest.fixture(scope="module")
def prediction(clip: Path) -> Prediction:
    torch.manual_seed(0)
    return predict(clip, MODEL, window_s=1.0)


def test_scores_for_the_clip_and_each_window(prediction: Prediction) -> None:
    labels = list(emofuse.default_config(MODEL).label_names or ())
    assert prediction.label_names == labels and prediction.task == "multilabel"
    assert prediction.duration == pytest.approx(3.0, abs=0.05) and prediction.fps == 10
    assert [(round(w.start, 3), round(w.end, 3)) for w in prediction.windows] == [
        (0.0, 1.0),
        (1.0, 2.0),
        (2.0, round(prediction.duration, 3)),
    ]
    for segment in [prediction.clip_scores, *prediction.windows]:
        assert list(segment.scores) == labels
        assert all(0.0 < s < 1.0 for s in segment.scores.values())  # sigmoid probabilities
        weights = segment.decision_weights  # mer_sem_mbt's attentive decision fusion
        assert weights is not None and list(weights) == ["audio", "video", "text"]
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-5) and weights["text"] == 0
    assert prediction.attentions["fusion"].shape == (1, 3)
    assert prediction.attention_modules["video_encoder.sem.3"] == "SemanticEnhancement"


def test_frames_without_a_face(prediction: Prediction) -> None:
    first, middle, last = prediction.windows
    assert (first.face_fraction, middle.face_fraction, last.face_fraction) == (1.0, 0.0, 1.0)
    assert prediction.clip_scores.face_fraction == pytest.approx(2 / 3)
    # a window with no face at all: video masked as absent, never a crash
    assert middle.modalities == {"audio": True, "video": False, "text": False}
    assert first.modalities["video"] and last.modalities["video"]
    assert middle.decision_weights is not None and middle.decision_weights["video"] == 0
    assert prediction.clip_scores.modalities["video"]  # the clip has faces
    assert any("no face found in 10 of 30 frames" in n for n in prediction.notes)
    # the clip's face steps (one per 0.96 s) are faces, never the black no-face crop
    video, mask = prediction.inputs["video"][0], prediction.inputs["video_mask"][0]
    assert mask.all() and video.flatten(1).std(1).min() > 0.1


def test_untrained_heads_are_said_plainly(prediction: Prediction, tmp_path: Path) -> None:
    assert not prediction.heads_trained
    assert "untrained emotion heads" in prediction.notes[0]
    assert "untrained" in prediction.format()
    model = emofuse.build(MODEL)
    model.save_pretrained(tmp_path / "trained")
    short = talking_clip(tmp_path / "short.mp4", seconds=1.0, fps=5, audio=False)
    loaded = predict(short, tmp_path / "trained")
    assert loaded.heads_trained and not any("untrained" in n for n in loaded.notes)
    assert not predict(short, model).heads_trained  # a module: untrained unless told
    assert predict(short, model, heads_trained=True).heads_trained


def test_no_audio_stream(tmp_path: Path) -> None:
    clip = talking_clip(tmp_path / "silent.mp4", seconds=2.0, fps=5, audio=False)
    result = predict(clip, MODEL)
    assert "the clip has no audio stream: audio is masked as absent" in result.notes
    assert result.clip_scores.modalities == {"audio": False, "video": True, "text": False}
    weights = result.clip_scores.decision_weights
    assert weights is not None and weights["audio"] == 0 and weights["video"] == pytest.approx(1)
    assert not result.inputs["audio_mask"].any()


def test_corrupt_audio_packet(clip: Path, tmp_path: Path) -> None:
    bad = corrupt_audio_packet(clip, tmp_path / "bad.mp4", index=7)
    result = predict(bad, MODEL, window_s=1.0)
    assert result.skipped_packets == {"audio": 1}
    assert "skipped 1 corrupt audio packet(s)" in result.notes
    assert result.clip_scores.modalities["audio"] and len(result.windows) == 3
    assert all(math.isfinite(s) for s in result.clip_scores.scores.values())


def test_very_short_clip(tmp_path: Path) -> None:
    clip = talking_clip(tmp_path / "blink.mp4", seconds=0.1, fps=10)  # 1 frame, 0.1 s of audio
    result = predict(clip, MODEL, window_s=2.0)
    assert len(result.windows) == 1 and result.windows[0].end == pytest.approx(result.duration)
    assert result.duration < 0.2 and result.fps == 10
    # one VGGish example (zero-padded to 0.96 s) and the one face
    assert result.clip_scores.modalities == {"audio": True, "video": True, "text": False}
    assert result.inputs["audio"].shape[1] == 1 and result.inputs["video"].shape[1] == 1
    assert all(math.isfinite(s) for s in result.clip_scores.scores.values())


@pytest.mark.parametrize(
    "name",
    ["emotion_query_transformer_tiny", "colearning_transformer_tiny", "av_attention_fusion_tiny"],
)
def test_every_model_that_reads_audio_and_faces(name: str, tmp_path: Path) -> None:
    clip = talking_clip(tmp_path / "talk.mp4", seconds=2.0, fps=5, no_face=range(2, 4))
    result = predict(clip, name, window_s=1.0)
    config = emofuse.default_config(name)
    assert len(result.clip_scores.scores) == config.num_classes and len(result.windows) == 2
    assert result.clip_scores.modalities["audio"] and result.clip_scores.modalities["video"]
    if config.task == "multiclass":
        assert sum(result.clip_scores.scores.values()) == pytest.approx(1.0, abs=1e-5)


def test_bad_arguments(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="model: expected a folder"):
        predict(clip, "no_such_model")
    with pytest.raises(ValueError, match="window_s"):
        predict(clip, MODEL, window_s=0)
    with pytest.raises(ValueError, match="transcript: colearning_transformer_tiny takes no text"):
        predict(clip, "colearning_transformer_tiny", transcript="hello")
    with pytest.raises(FileNotFoundError):
        predict(tmp_path / "missing.mp4", MODEL)


def test_cli_predict_json_and_plot(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "out.png"
    args = ["predict", str(clip), "--model", MODEL, "--window", "1.5", "--max-fps", "5"]
    assert main([*args, "--json", "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["heads_trained"] is False and out["model"] == MODEL and out["fps"] == 5
    assert [w["start"] for w in out["windows"]] == [0.0, 1.5]
    assert set(out["clip_scores"]["scores"]) == set(out["labels"])
    with Image.open(png) as image:
        assert image.format == "PNG" and min(image.size) > 300
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # something is drawn
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "untrained emotion heads" in text and "decision weights: audio=" in text
    assert main(["predict", str(tmp_path / "none.mp4"), "--model", MODEL]) == 2
    assert "no media file" in capsys.readouterr().err


def test_cli_sample_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample-clip", str(tmp_path / "s.mp4"), "--no-speech"]) == 0
    assert "astronaut photograph, no audio" in capsys.readouterr().out
    assert (tmp_path / "s.mp4").stat().st_size > 1000


def test_readme_first_set_up_command_ends_in_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The emofuse commands of the README's first set-up command run as written (in process):
    a real media file in, a printed prediction and a figure out, with no network."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    setup = readme[readme.index("## Set up") :]
    start = setup.index("```bash\n") + len("```bash\n")
    command = setup[start : setup.index("\n```", start)]
    steps = [s.strip() for s in command.split("&&")]
    demo = [shlex.split(s)[1:] for s in steps if s.startswith(".venv/bin/emofuse ")]
    assert [d[0] for d in demo] == ["sample-clip", "predict"], steps
    monkeypatch.chdir(tmp_path)
    for args in demo:
        assert main(args) == 0
    out = capsys.readouterr().out
    assert "wrote sample.mp4" in out and "untrained emotion heads" in out
    assert "wrote sample.txt" in out and "it is scored with the whole clip only" in out
    assert "clip: " in out and "figure written to sample.png" in out
    with Image.open(tmp_path / "sample.png") as image:
        assert image.format == "PNG"


def test_audio_only_file(tmp_path: Path) -> None:
    wav = tmp_path / "speech.wav"
    voice = speech(1.5)
    import av

    with av.open(str(wav), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=voice.sample_rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(voice.samples.numpy(), format="fltp", layout="mono")
        frame.sample_rate = voice.sample_rate
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    result = predict(wav, MODEL, window_s=1.0)
    assert "the clip has no video stream: video is masked as absent" in result.notes
    assert result.clip_scores.modalities == {"audio": True, "video": False, "text": False}
    assert result.fps == 0.0 and result.duration == pytest.approx(1.5, abs=0.01)
    assert [w.face_fraction for w in result.windows] == [0.0, 0.0]


def test_transcript_goes_with_the_whole_clip(clip: Path, tmp_path: Path) -> None:
    from emofuse.transforms import for_model

    text = "Well, that is wonderful news."
    result = predict(clip, MODEL, transcript=text, window_s=1.5)
    assert result.clip_scores.modalities == {"audio": True, "video": True, "text": True}
    assert all(not w.modalities["text"] for w in result.windows)
    assert "the transcript has no word timing: it is scored with the whole clip only" in (
        result.notes
    )
    ids = result.inputs["text"][0][result.inputs["text_mask"][0]]
    expected = for_model(MODEL)(text=text)["text"]  # the model's own tokenizer
    assert ids.tolist() == expected.tolist()
    weights = result.clip_scores.decision_weights
    assert weights is not None and weights["text"] > 0
    (tmp_path / "t.txt").write_text(text + "\n")
    args = ["predict", str(clip), "--model", MODEL, "--json", "--max-fps", "2"]
    assert main([*args, "--transcript", str(tmp_path / "t.txt")]) == 0
    assert main([*args, "--transcript", str(tmp_path / "missing.txt")]) == 2


def test_unfitted_feature_statistics_are_said(tmp_path: Path) -> None:
    # colearning_transformer standardises its filter banks with training statistics
    clip = talking_clip(tmp_path / "c.mp4", seconds=1.0, fps=5)
    result = predict(clip, "colearning_transformer_tiny")
    assert any(n.startswith("audio features are not standardised") for n in result.notes)
