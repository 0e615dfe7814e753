"""``nst bench``: the benchmarks (``python -m benchmarks``) from the ``nst`` command.

The options are declared here, once, for both spellings; the ``benchmarks`` package (which
imports TensorFlow and edits ``sys.path``) is imported only when ``nst bench`` runs.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks: Gatys s/iteration vs an eager baseline, CPU ceiling, memory, "
                                     "inference; prints one table and writes JSON")
    add_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from benchmarks.__main__ import run as run_benchmarks

    return run_benchmarks(args)


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 256,512, got {text!r}")
    if not values or min(values) < 32:
        raise argparse.ArgumentTypeError(f"sizes must be >= 32, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run: 128 px, 1 round, fewer configurations (~5 min)")
    add("--sizes", type=_ints, help="longest sides for s/iteration and inference (default 256,512,1024)")
    add("--only", choices=["gatys", "quality", "cliff", "fast", "arbitrary", "grading"],
        help="run one section (quality: time to neural-style's loss; cliff: the 1024x1024 rows; grading: "
             "nst grade --batch against pytest without the sandbox)")
    add("--submissions", type=int, default=10, help="copies of solutions/ the grading section grades (default 10)")
    add("--rounds", type=int, help="turns each configuration takes (default 3 at 256 px, 2 at 512, 1 above)")
    add("--steps", type=int, help="iterations per turn (default 1)")
    add("--explore", action="store_true", help="also time every other configuration (bfloat16, ...) up to 512 px")
    add("--memory-sizes", type=_ints, help="square sizes for peak memory (default 512,1024; 2048 takes minutes)")
    add("--loss-size", type=int, default=256, help="longest side for time to quality (default 256)")
    add("--loss-iterations", type=int, default=300,
        help="Adam iterations of the neural-style reference whose final loss is the target (default 300)")
    add("--images", type=Path, help="save each time-to-quality image and a side-by-side strip in this folder")
    add("--multiscale", type=_ints, help="also the peak RSS of `nst stylize amber.jpg --scales S1,S2,...` "
        "--iterations 1, e.g. 512,1024,2048 (13 GiB, minutes; off by default)")
    add("--cliff-timeout", type=float, default=600, help="seconds before a 1024x1024 cliff row gives up (600)")
    add("--json", type=Path, help="where to write the rows (default: results.json in the benchmarks folder)")
    add("--seed", type=int, default=0, help="seed (every configuration starts from the same image)")
