"""``nst bench``: the benchmarks (``python -m benchmarks``) from the ``nst`` command."""
from __future__ import annotations


def add_parser(sub) -> None:
    from benchmarks.__main__ import add_arguments  # no TensorFlow import: `nst --help` stays fast

    p = sub.add_parser("bench", help="benchmarks: Gatys s/iteration vs an eager baseline, CPU ceiling, memory, "
                                     "inference; prints one table and writes JSON")
    add_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from benchmarks.__main__ import run as run_benchmarks

    return run_benchmarks(args)
