"""The ``emofuse`` command (also ``python -m emofuse``): ``list [PATTERN]``, ``info NAME``,
``demo NAME``, ``train NAME --data ... --out DIR``, ``evaluate DIR --data ...``,
``predict CLIP --model DIR_OR_NAME``, ``sample-clip PATH``, ``export NAME_OR_DIR --format
onnx|pt2 --out PATH``. The benchmark suite runs from a checkout: ``python benchmarks/run.py``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

import emofuse


def _list(args: argparse.Namespace) -> int:
    names = emofuse.list_models(args.pattern)
    if not names:
        print(f"no model matches {args.pattern!r}", file=sys.stderr)
        return 1 if args.pattern else 0
    width = max(len(n) for n in names)
    for name in names:
        info = emofuse.model_info(name)
        print(f"{name:<{width}}  {', '.join(info['modalities']):<20}  {info['description']}")
    return 0


def _info(args: argparse.Namespace) -> int:
    print(json.dumps(emofuse.model_info(args.name), indent=2))
    return 0


def _shape(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"{tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shape(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _demo(args: argparse.Namespace) -> int:
    name = args.name
    if not name.endswith("_tiny") and f"{name}_tiny" in emofuse.list_models() and not args.full:
        name = f"{name}_tiny"
    torch.manual_seed(args.seed)
    model = emofuse.build(name)
    info = emofuse.model_info(name)
    print(f"{name}: {info['description']}")
    if info["citation"]:
        print(f"  paper: {emofuse.Citation(**info['citation'])}")
    print(f"  parameters: {sum(p.numel() for p in model.parameters()):,}")
    inputs = model.example_inputs(batch_size=args.batch_size)
    print("  inputs (synthetic):")
    for key, value in inputs.items():
        print(f"    {key:<12} {_shape(value)}")
    model.eval()
    with torch.no_grad():
        model(**inputs)  # warm-up
        start = time.perf_counter()
        out = model(**inputs, return_attentions=True)
        forward_s = time.perf_counter() - start
    print("  outputs:")
    for key, value in out.items():
        if key == "attentions":
            continue
        print(f"    {key:<16} {_shape(value)}")
    print("  attentions (return_attentions=True):")
    for key, value in (out.attentions or {}).items():
        print(f"    {key:<24} {_shape(value)}")
    from emofuse.blocks import AttentiveDecisionFusion

    # the attentive decision fusion's weights (B, K), where the model has one
    decision = next(
        (n for n, m in model.named_modules() if isinstance(m, AttentiveDecisionFusion)), None
    )
    if out.attentions and decision in out.attentions:
        weights = out.attentions[decision][0].tolist()
        names = list(out.modality_logits or {})
        if len(names) != len(weights):
            names = [str(i) for i in range(len(weights))]
        shown = ", ".join(f"{n}={w:.3f}" for n, w in zip(names, weights, strict=True))
        print(f"  decision weights (sample 0): {shown}")
    task = model.config.task
    probs = out.logits.sigmoid() if task == "multilabel" else out.logits.softmax(-1)
    names = model.config.label_names or [str(i) for i in range(model.config.num_classes)]
    if task != "regression":
        top = ", ".join(f"{n}={p:.2f}" for n, p in zip(names, probs[0].tolist(), strict=True))
        print(f"  scores (sample 0, untrained): {top}")
    model.train()
    start = time.perf_counter()
    model(**inputs).logits.square().mean().backward()
    train_s = time.perf_counter() - start
    print(
        f"  forward {forward_s * 1e3:.1f} ms, forward+backward {train_s * 1e3:.1f} ms "
        f"(batch {args.batch_size}, CPU threads {torch.get_num_threads()})"
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    from lightning_fabric.utilities.rank_zero import rank_zero_only

    from emofuse.training import parse_overrides
    from emofuse.training.run import train

    results, table = train(
        args.name, data=args.data, out_dir=args.out, fold=args.fold,
        overrides=parse_overrides(args.set), seeds=args.seeds, devices=args.devices,
        accelerator=args.accelerator, resume=args.resume, progress=not args.quiet,
        pretrained=args.pretrained,
    )  # fmt: skip
    if getattr(rank_zero_only, "rank", 0) != 0:  # the other processes of a DDP run print nothing
        return 0
    for result in results:
        score = "-" if result.best_score is None else f"{result.best_score:.4f}"
        print(
            f"{result.best_dir}: best {result.monitor} {score} (epoch {result.best_epoch}), "
            f"{result.steps} steps{', stopped early' if result.stopped_early else ''}"
        )
    if table is not None:
        print(table.to_markdown(4))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from emofuse.training.run import evaluate, format_result, to_json

    result = evaluate(
        args.dir, data=args.data, split=args.split, fold=args.fold, missing=args.missing,
        protocol=args.protocol, batch_size=args.batch_size,
    )  # fmt: skip
    print(to_json(result) if args.json else format_result(result))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from emofuse.predict import predict

    transcript = args.transcript
    if transcript is not None and os.path.isfile(transcript):
        with open(transcript, encoding="utf-8") as file:
            transcript = file.read().strip()
    elif transcript is not None and transcript.endswith(".txt"):
        print(f"emofuse: transcript: no file {transcript}", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)  # a registry name builds random heads: reproducible ones
    try:
        result = predict(
            args.clip,
            args.model,
            transcript=transcript,
            window_s=args.window,
            max_fps=args.max_fps,
        )
    except (FileNotFoundError, ImportError) as error:
        print(f"emofuse: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.format())
    if args.plot:
        from emofuse.plotting import plot_prediction

        plot_prediction(result).savefig(args.plot, dpi=args.dpi)
        print(f"figure written to {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _sample_clip(args: argparse.Namespace) -> int:
    from emofuse.video import sample_clip

    try:
        text = {"text": args.text} if args.text else {}
        clip = sample_clip(args.path, speech=not args.no_speech, **text)
    except ImportError as error:
        print(f"emofuse: {error}", file=sys.stderr)
        return 2
    speech = "speech by espeak-ng" if clip.has_audio else "no audio (espeak-ng not installed)"
    print(
        f"wrote {clip.path}: {clip.duration:.2f} s, scikit-image's astronaut photograph, {speech}"
    )
    if clip.has_audio:
        print(f"  it says: {clip.transcript}")
    print(f"wrote {clip.transcript_path}: the transcript")
    return 0


def _export(args: argparse.Namespace) -> int:
    from emofuse import export

    source = Path(args.model)
    model = emofuse.load(source) if source.is_dir() else emofuse.build(args.model)
    inputs = model.example_inputs(batch_size=args.batch_size)
    try:
        path = export.export(
            model, args.out, format=args.format, inputs=inputs, opset_version=args.opset
        )
    except ImportError as error:  # ONNX without the emofuse[export] extra
        print(f"emofuse: {error}", file=sys.stderr)
        return 2
    axes = export.dynamic_axes(model, inputs)
    dynamic = sorted({name for named in axes.values() for name in named.values()})
    print(f"{path}: {model.registered_name or type(model).__name__} as {args.format}")
    print(f"  inputs: {', '.join(inputs)}; dynamic axes: {', '.join(dynamic)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emofuse", description="Multimodal emotion recognition models for PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"emofuse {emofuse.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("list", help="list registered models (optionally a glob pattern)")
    p.add_argument("pattern", nargs="?", default=None)
    p.set_defaults(run=_list)
    p = commands.add_parser("info", help="citation, inputs and default config of a model (JSON)")
    p.add_argument("name")
    p.set_defaults(run=_info)
    p = commands.add_parser("demo", help="run a synthetic batch through a model (tiny variant)")
    p.add_argument("name")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--full", action="store_true", help="the paper configuration, not _tiny")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_demo)
    data_help = (
        "synthetic[:N], an MMSA .pkl, a RAVDESS folder (Actor_XX/), a MELD folder "
        "(emofuse.training.sources)"
    )
    p = commands.add_parser("train", help="train a model with its paper's recipe")
    p.add_argument("name")
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--out", required=True, help="the run folder (best/, last.ckpt, logs/)")
    p.add_argument("--fold", type=int, default=None, help="the corpus fold (RAVDESS)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a recipe field (emofuse.training.Recipe) or model config field; repeatable",
    )  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="one run per seed")
    p.add_argument("--devices", type=int, default=1, help="processes/devices (DDP when > 1)")
    p.add_argument("--accelerator", default="auto", help="cpu, gpu or auto")
    p.add_argument("--resume", action="store_true", help="continue from DIR/last.ckpt")
    p.add_argument(
        "--pretrained", action="store_true", help="start from the backbones' published weights"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_train)
    p = commands.add_parser("evaluate", help="score a trained model on a split of --data")
    p.add_argument("dir", help="a run folder (its best/) or a save_pretrained folder")
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--split", default="test", choices=("test", "validation"))
    p.add_argument("--fold", type=int, default=None)
    p.add_argument("--missing", nargs="+", default=[], help="modalities left out")
    p.add_argument("--protocol", default=None, help="a paper protocol, e.g. yang2023/mosi")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_evaluate)
    p = commands.add_parser(
        "predict",
        help="emotion scores for a video file, whole clip and over time (needs emofuse[video])",
    )
    p.add_argument("clip", help="a video (or audio) file FFmpeg reads")
    p.add_argument(
        "--model",
        required=True,
        help="a folder written by save_pretrained, or a registered name (untrained heads)",
    )
    p.add_argument("--transcript", help="what is said: the text, or a .txt file holding it")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plot", metavar="PNG", help="write a figure of the scores and attentions")
    p.add_argument(
        "--window",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="window length for the scores over time (default 2)",
    )
    p.add_argument(
        "--max-fps",
        type=float,
        default=None,
        help="read at most this many frames per second (default: every frame)",
    )
    p.add_argument("--seed", type=int, default=0, help="seeds a registry name's random heads")
    p.add_argument("--dpi", type=int, default=100, help="resolution of --plot")
    p.set_defaults(run=_predict)
    p = commands.add_parser(
        "sample-clip",
        help="write a real talking-face clip offline (scikit-image photo, espeak-ng speech)",
    )
    p.add_argument("path", help="the output file, e.g. sample.mp4")
    p.add_argument("--text", default=None, help="what the clip says (espeak-ng)")
    p.add_argument("--no-speech", action="store_true", help="write no audio stream")
    p.set_defaults(run=_sample_clip)
    p = commands.add_parser(
        "export",
        help="write a model as ONNX or a torch.export archive (dynamic batch and lengths)",
        description="Export a registered model (random weights) or a folder written by "
        "save_pretrained; see emofuse.export.export.",
    )
    p.add_argument("model", metavar="NAME_OR_DIR")
    p.add_argument("--format", choices=["onnx", "pt2"], required=True)
    p.add_argument("--out", required=True, help="the file to write (.onnx or .pt2)")
    p.add_argument(
        "--batch-size", type=int, default=2, help="of the example inputs traced (any works after)"
    )
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    p.set_defaults(run=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.run(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except ValueError as error:
        print(f"emofuse: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `emofuse list | head`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
