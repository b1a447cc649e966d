"""The ``emofuse`` command (also ``python -m emofuse``): ``list [PATTERN]``, ``info NAME``,
``demo NAME``, ``export NAME_OR_DIR --format onnx|pt2 --out PATH``. The benchmark suite runs
from a checkout: ``python benchmarks/run.py``."""

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
