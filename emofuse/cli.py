"""The ``emofuse`` command: ``emofuse list [PATTERN]``, ``emofuse info NAME``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ValueError as error:
        print(f"emofuse: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
