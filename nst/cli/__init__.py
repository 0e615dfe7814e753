"""``nst`` command line: a thin layer over the library.

Each sub-command lives in its own module with ``add_parser(subparsers)``; the
modules import TensorFlow only inside the command function, so ``nst --help`` is fast.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from nst.errors import NstError


def build_parser() -> argparse.ArgumentParser:
    from nst.cli import arbitrary, bench, course, data, fast, gatys, grade, weights

    parser = argparse.ArgumentParser(
        prog="nst", description="Neural style transfer: Gatys (optimisation), Johnson (fast), Ghiasi (arbitrary).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in (gatys, weights, data, fast, arbitrary, course, grade, bench):
        module.add_parser(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except NstError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
