"""``emofuse train`` / ``emofuse evaluate``: the same run on 1 and 2 processes (gloo DDP on CPU,
started by Fabric's own launcher), data layouts, several seeds, evaluation output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from corpus_media import MELD_ROWS, write_meld_csv, write_mmsa, write_ravdess_speech
from data.test_dai import write_dai_iemocap

import emofuse
from emofuse.cli import main
from emofuse.labels import MELD_7
from emofuse.training.sources import resolve_data

ROOT = Path(__file__).resolve().parents[2]
# plain SGD, so that weights move linearly with the gradients: two half-batch gradients
# averaged by all-reduce equal the full batch's up to float32 summation order
DDP_TOLERANCE = 1e-6


def _train_args(out: Path, *extra: str) -> list[str]:
    return [
        "train", "mcr_tiny", "--data", "synthetic:64", "--out", str(out), "--accelerator", "cpu",
        "--set", "epochs=2", "--set", "dropout=0", "--quiet", *extra,
    ]  # fmt: skip


def _last_weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "last.ckpt", weights_only=True)["model"]


def test_two_gloo_processes_equal_one_with_the_same_global_batch(tmp_path: Path) -> None:
    sgd = ("--set", "optimizer=sgd", "--set", "lr=0.05", "--set", "betas=0,0.999")
    assert main(_train_args(tmp_path / "one", *sgd)) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "emofuse", *_train_args(tmp_path / "two", "--devices", "2", *sgd)],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 2 processes" in done.stderr + done.stdout  # really two processes
    assert "Warning" not in done.stderr and "warn" not in done.stderr.lower(), done.stderr
    one, two = _last_weights(tmp_path / "one"), _last_weights(tmp_path / "two")
    assert one.keys() == two.keys()
    worst = max(float((one[k] - two[k]).abs().max()) for k in one)
    assert worst < DDP_TOLERANCE, f"largest weight difference {worst:.2e}"
    steps = [torch.load(p / "last.ckpt", weights_only=True)["progress"]["step"]
             for p in (tmp_path / "one", tmp_path / "two")]  # fmt: skip
    assert steps == [8, 8]
    assert done.stdout.count("best MAE") == 1  # one process reports


def test_train_then_evaluate_prints_the_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_train_args(tmp_path / "run", "--set", "epochs=1")) == 0
    assert "best MAE" in capsys.readouterr().out
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "recipe.json").read_text())["epochs"] == 1
    assert main(["evaluate", str(tmp_path / "run"), "--data", "synthetic:64", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["samples"] == 16
    assert set(result["figures"]) == {"MAE", "Corr", "Acc2", "Acc7"}
    assert main(["evaluate", str(tmp_path / "run"), "--data", "synthetic:64"]) == 0
    assert "MAE:" in capsys.readouterr().out


def test_several_seeds_print_mean_and_std(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _train_args(tmp_path, "--set", "epochs=1", "--seeds", "0", "1")
    args[args.index("synthetic:64")] = "synthetic:32"
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| mean ± std |" in out and (tmp_path / "seed_1" / "best").is_dir()


def test_bad_command_lines_say_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_train_args(tmp_path, "--set", "lrr=1")) == 2
    assert "neither recipe fields" in capsys.readouterr().err
    assert main(_train_args(tmp_path, "--set", "lr=fast")) == 2
    assert "lr: expected a float" in capsys.readouterr().err
    (tmp_path / "elsewhere").mkdir()
    args = _train_args(tmp_path / "x")
    args[args.index("synthetic:64")] = str(tmp_path / "elsewhere")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "none of the layouts" in err and "RAVDESS" in err and "MMSA" in err


def test_data_layouts_resolve_to_their_adapters(tmp_path: Path) -> None:
    model = emofuse.build("mcr_tiny")
    synthetic = resolve_data("synthetic:40", model)
    assert (len(synthetic.train), len(synthetic.validation), len(synthetic.test)) == (40, 10, 10)
    with pytest.raises(ValueError, match="synthetic:N"):
        resolve_data("synthetic:none", model)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_data(str(tmp_path / "missing"), model)
    (tmp_path / "MOSI").mkdir()
    path = write_mmsa(tmp_path / "MOSI" / "unaligned_50.pkl", n=8)
    splits = resolve_data(str(path), model)
    assert splits.protocol == "yang2023/mosi" and len(splits.train) == 8
    with pytest.raises(ValueError, match="--fold"):
        resolve_data(str(path), model, fold=1)
    # Dai et al.'s layout goes to DaiIEMOCAP with their shipped split (which this small copy
    # lacks: the adapter names the missing ids)
    write_dai_iemocap(tmp_path / "dai")
    with pytest.raises(ValueError, match="id.s. of the split missing.*Dai et al. 2021's layout"):
        resolve_data(str(tmp_path / "dai"), emofuse.build("mer_sem_mbt_tiny"))


def test_mmsa_features_of_other_sizes_than_the_model_name_the_fields_to_set(
    tmp_path: Path,
) -> None:
    """mcr's fixed widths and lengths against an MMSA file: a mismatch names ``input_dims`` or
    ``seq_lens``, the file's sizes and the ``--set`` that builds the model for it."""
    path = write_mmsa(tmp_path / "unaligned_50.pkl", n=4)  # widths (12, 5, 6), lengths (6, 9, 7)
    resolve_data(str(path), emofuse.build("mcr_tiny"))  # the tiny model's own sizes
    wide = emofuse.build("mcr_tiny", input_dims=(12, 5, 8))
    with pytest.raises(ValueError, match=r"input_dims: .* \(12, 5, 8\) .* holds \(12, 5, 6\).*"
                       r"--set input_dims=12,5,6 --set seq_lens=6,9,7"):  # fmt: skip
        resolve_data(str(path), wide)
    short = emofuse.build("mcr_tiny", seq_lens=(6, 4, 7))
    with pytest.raises(ValueError, match=r"seq_lens: .* at most \(6, 4, 7\) .* \(6, 9, 7\)"):
        resolve_data(str(path), short)
    resolve_data(str(path), emofuse.build("mcr_tiny", seq_lens=(8, 12, 7)))  # longer: padded


def test_a_single_label_corpus_needs_a_multiclass_model_over_its_emotions(
    tmp_path: Path,
) -> None:
    """MELD and RAVDESS against a model built for another label set: the error names the
    field and gives the --set that fits, before any training."""
    for split in ("train", "dev", "test"):
        write_meld_csv(tmp_path / "meld" / f"{split}_sent_emo.csv", MELD_ROWS)
    meld = str(tmp_path / "meld")
    text = {"modalities": ("text",)}
    with pytest.raises(ValueError, match=r"task: MELD's emotions are single-label.*"
                       r"--set task=multiclass --set label_names=neutral,surprise"):  # fmt: skip
        resolve_data(meld, emofuse.build("mer_sem_mbt_tiny", **text))
    iemocap = emofuse.build("mer_sem_mbt_tiny", **text, task="multiclass")
    with pytest.raises(ValueError, match=r"label_names: MELD's labels are \['neutral'.*"
                       r"the model's \['anger', 'excited'"):  # fmt: skip
        resolve_data(meld, iemocap)
    splits = resolve_data(meld, emofuse.build(
        "mer_sem_mbt_tiny", **text, task="multiclass", label_names=MELD_7
    ))  # fmt: skip
    assert len(splits.train) == len(MELD_ROWS)
    write_ravdess_speech(tmp_path / "ravdess")
    with pytest.raises(ValueError, match=r"task: RAVDESS's .* 'multilabel'"):
        resolve_data(str(tmp_path / "ravdess"), emofuse.build("colearning_transformer_tiny"))


def test_mcr_trains_on_mmsa_features_and_reports_yang_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "MOSI").mkdir()
    path = write_mmsa(tmp_path / "MOSI" / "unaligned_50.pkl", n=8)
    args = _train_args(tmp_path / "run", "--set", "epochs=1", "--set", "batch_size=4")
    args[args.index("synthetic:64")] = str(path)
    assert main(args) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"] == "yang2023/mosi"
    assert list(result["protocol_figures"]) == ["Acc7", "Acc2", "F1", "MAE", "Corr"]


def test_the_colearning_comparison_through_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # examples/colearning_synthetic.py (Takashima et al. 2022, table 2 in miniature) through
    # the CLI: conventional audio+video training learns the easy audio and leaves video-only
    # inference at chance; co-learning (eq. 20, every subset each step) keeps video-only
    def run(mode: str) -> dict[str, float]:
        out = tmp_path / mode
        args = [
            "train", "colearning_transformer_tiny", "--data", "synthetic:128", "--out", str(out),
            "--accelerator", "cpu", "--quiet", "--set", f"colearning={mode}", "--set", "epochs=4",
            "--set", "batch_size=8",
            "--set", "dropout=0", "--set", "num_classes=3", "--set", "monitor=accuracy",
        ]  # fmt: skip
        assert main(args) == 0
        scores = {}
        for name, missing in (("A", ["video"]), ("V", ["audio"])):
            capsys.readouterr()
            evaluate = ["evaluate", str(out), "--data", "synthetic:128", "--json", "--missing"]
            assert main([*evaluate, *missing]) == 0
            scores[name] = json.loads(capsys.readouterr().out)["figures"]["accuracy"]
        return scores

    conventional, colearning = run("conventional"), run("sum")
    assert conventional["A"] > 0.9 and colearning["A"] > 0.9
    assert conventional["V"] < 0.6, conventional  # chance: 0.5 per label
    assert colearning["V"] > 0.65 and colearning["V"] > conventional["V"] + 0.1, colearning
