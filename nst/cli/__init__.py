"""``nst`` command line: a thin layer over the library.

Each sub-command lives in its own module with ``add_parser(subparsers)``; the
modules import TensorFlow only inside the command function, so ``nst --help`` is fast;
that import drops TensorFlow's start-up log lines and says which devices it runs on.
A student's stub still raising ``NotImplementedError("TODO n: ...")`` ends the command with
one ``error:`` line naming the TODO and its file (status 2), not a traceback.
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


def todo_message(error: BaseException) -> str | None:
    """"assignment/load_vgg.py:43: TODO 1: ... is not done yet; ..." when ``error`` (or what it wraps: autograph
    and Keras re-raise) is a stub's TODO: the first unwritten TODO of that part (:mod:`nst.course.todos`)."""
    from nst.course.todos import stopped_message
    from nst.impl import CHECKOUT

    return stopped_message(error, CHECKOUT / "assignment")


def main(argv: list[str] | None = None) -> int:
    from nst.runtime import quiet_tensorflow

    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _show_warning
    pixels = args.work_pixels(args) if hasattr(args, "work_pixels") else None  # read before TensorFlow's import
    quiet_tensorflow(announce=args.command not in ("course", "grade", "data", "weights"), pixels=pixels)
    try:
        return int(args.func(args) or 0)
    except NstError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a stub's TODO, however TensorFlow wrapped it: one line; anything else: the traceback
        message = todo_message(e)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
