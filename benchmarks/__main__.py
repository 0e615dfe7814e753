"""``python -m benchmarks``: one table of every measurement, and the same rows as JSON.

Sections: the CPU's convolution ceiling; Gatys s/iteration side by side with the eager
baseline (ratios per round, medians over rounds); time to a fixed loss for Adam and
L-BFGS; peak memory per configuration (each in its own process), with a linear fit in
the pixel count to extrapolate larger sizes; fast and arbitrary inference when their
modules (``benchmarks/fast.py``, ``benchmarks/arbitrary.py``) exist.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import json
import os
import platform
import sys
from pathlib import Path

from benchmarks import REPO
from nst.cli.bench import add_arguments

# What each size times by default (a 2-core machine: the list shrinks as the steps grow).
VARIANTS_BY_SIZE = [
    (256, ["baseline eager (TF defaults)", "project adam", "project adam, oneDNN off", "project adam XLA",
           "project lbfgs"]),
    (512, ["baseline eager (TF defaults)", "project adam", "project adam, oneDNN off", "project adam XLA",
           "project lbfgs"]),
    (None, ["baseline eager (TF defaults)", "project adam", "project adam XLA"]),
]


def variants_for(size: int) -> list[str]:
    return next(names for limit, names in VARIANTS_BY_SIZE if limit is None or size <= limit)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def gatys_rows(args) -> list[dict]:
    from benchmarks import ceiling, gatys
    from nst.runtime import cpu_has_bf16

    rows = [cpu_row()]
    rows += [{"section": "ceiling", "variant": f"3x3 conv {'x'.join(map(str, shape[1:]))} {dtype}",
             "gflops": rate, "note": "best of VGG's conv shapes"} for dtype, (rate, shape) in ceiling.measure().items()]
    for size in args.sizes:
        names = list(variants_for(size))
        if args.quick:
            names = ["baseline eager (TF defaults)", "project adam", "project lbfgs"]
        if not args.quick and size <= 512 and cpu_has_bf16():  # emulated, 10x slower, without AVX512_BF16
            names.append("project adam bfloat16")
        if args.explore and size <= 512:
            names += [n for n in gatys.VARIANTS if n not in names]
        rounds = args.rounds or (1 if args.quick else 3 if size <= 256 else 2 if size <= 512 else 1)
        steps = args.steps or 1
        rows += gatys.side_by_side(names, size, rounds, steps, seed=args.seed, log=log)
    rows += quality_rows(args)
    rows += cliff_rows(args)
    for size in args.memory_sizes:
        for name in ("project adam", "project adam XLA"):
            log(f"peak memory at {size}x{size}: {name}")
            variant = dataclasses.replace(gatys.VARIANTS[name], square=True, seed=args.seed)
            rows.append(gatys.peak_memory(variant, size, steps=1))
    rows += memory_fit([r for r in rows if r["section"] == "memory" and r["variant"] == "project adam"])
    if args.multiscale:
        log(f"peak memory of --scales {args.multiscale}")
        rows.append(multiscale_row(args.multiscale, args.seed))
    return rows


def quality_rows(args) -> list[dict]:
    """Time to neural-style's loss (benchmarks/quality.py), and the side-by-side strip when --images is given."""
    import tempfile

    from benchmarks import quality

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.images or Path(tmp)
        rows = quality.run(args.loss_size, args.loss_iterations, seed=args.seed,
                           images_dir=folder, cap=60 if args.quick else 300, log=log)
        strip = quality.side_by_side(rows, folder / "side_by_side.jpg")
        if args.images:
            log(f"time-to-quality images: {strip}")
        else:
            for r in rows:
                r.pop("image", None)
    return rows


def cliff_rows(args) -> list[dict]:
    """Build + one Adam step at 1024x1024 (amber-sized), as nst runs it; on AVX512 CPUs also with oneDNN capped
    to AVX2 (as on an AVX2-only CPU, where nst switches oneDNN off): the million-pixel cliff shows up here."""
    from benchmarks import gatys
    from nst.onednn import cpu_flags

    size = 128 if args.quick else 1024
    variants = [dataclasses.replace(gatys.VARIANTS["project adam"], square=True, seed=args.seed)]
    if "avx512f" in cpu_flags():
        variants.append(dataclasses.replace(variants[0], isa="AVX2"))
    rows = []
    for variant in variants:
        log(f"cliff guard at {size}x{size}: {variant.name} {variant.isa or ''}")
        row = gatys.peak_memory(variant, size, steps=1, timeout=args.cliff_timeout)
        rows.append(dict(row, section="cliff"))
    return rows


def multiscale_row(scales: list[int], seed: int = 0) -> dict:
    """Peak RSS of one ``nst stylize --scales ...`` process (amber.jpg, 1080x1080), read by a wrapper process."""
    import subprocess
    import tempfile
    import time

    from benchmarks import shared_images

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "nst", "stylize", str(shared_images() / "content" / "amber.jpg"), "--style",
               str(shared_images() / "styles" / "starry_night.jpg"), "--scales", ",".join(map(str, scales)),
               "--iterations", "1", "--seed", str(seed), "--run-dir", tmp, "--impl", "solutions"]
        wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
                   "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, cwd=REPO)
        seconds = time.perf_counter() - start
    code, kib = (int(v) for v in out.stdout.split())
    side = max(scales)
    return {"section": "memory", "variant": f"nst stylize --scales {','.join(map(str, scales))}", "size": side,
            "height": side, "width": side, "peak_rss_mb": kib / 1024, "seconds": seconds,
            "note": f"one process, 1 iteration per scale, {seconds:.0f} s" + ("" if code == 0 else f", exit {code}")}


def cpu_row() -> dict:
    """The CPU's vector flags (bfloat16 rows only where it has AVX512_BF16)."""
    from nst.onednn import cpu_flags

    flags = cpu_flags()
    have = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return {"section": "cpu", "variant": platform.processor() or platform.machine(), "flags": have,
            "note": "flags: " + (" ".join(have) or "none of avx2/avx512f/avx512_bf16") + f"; {os.cpu_count()} cores"}


def memory_fit(rows: list[dict]) -> list[dict]:
    """Peak RSS ~ a + b * pixels through the measured sizes; predicted 1024 and 2048 (marked as such)."""
    if len(rows) < 2:
        return []
    import numpy as np

    pixels = np.array([r["height"] * r["width"] for r in rows], float)
    b, a = np.polyfit(pixels, [r["peak_rss_mb"] for r in rows], 1)
    measured = {r["size"] for r in rows}
    return [{"section": "memory", "variant": "project adam (extrapolated)", "size": s, "height": s, "width": s,
             "peak_rss_mb": float(a + b * s * s), "extrapolated": True} for s in (1024, 2048) if s not in measured]


def plugin_rows(name: str, sizes: list[int]) -> list[dict]:
    """``benchmarks/<name>.py``'s ``run(sizes)`` rows, or one row saying why there are none."""
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"benchmarks.{name}":
            raise
        return [{"section": name, "variant": "skipped", "note": f"benchmarks/{name}.py not present yet"}]
    return [dict(section=name, **row) for row in module.run(sizes)]


def _fmt(value, spec: str) -> str:
    return format("-", ">" + spec.split(".")[0]) if value is None else format(value, spec)


def table(rows: list[dict]) -> str:
    """One fixed-width table: section, configuration, size, then the measured columns."""
    head = (f"{'section':<12} {'configuration':<34} {'size':>9} {'s/iter':>7} {'x base':>6} "
            f"{'GFLOP/s':>7} {'ceil%':>5} {'RSS MB':>7}  note")
    lines = [head, "-" * len(head)]
    for r in rows:
        size = f"{r['width']}x{r['height']}" if "width" in r else str(r.get("size", ""))
        note = r.get("note", "")
        if r["section"] == "time_to_quality":
            if r["seconds"] is None:
                note = f"loss {r['total_loss']:.4g} > {r['target_total_loss']:.4g} at the cap"
            else:
                note = (f"{r['seconds']:.1f} s = {r['time_ratio']:.2f} x ref (CPU {r['cpu_seconds']:.0f} s = "
                        f"{r['cpu_ratio']:.2f} x); its/scale {r['iterations_per_scale']}; "
                        f"loss <= {r['target_total_loss']:.4g}")
            if r.get("loss_precision") != "float32":  # every row should compare float32 losses: mark one that does not
                note += f"; LOSS IN {r.get('loss_precision') or r.get('precision') or '?'}, not float32"
            elif r.get("precision") not in (None, "float32"):
                note += f"; steps in {r['precision']}, loss in float32"
        elif r["section"] == "grading":
            note = (f"{r['seconds']:.1f} s, {r['jobs']} at a time; {r['full_marks']}/{r['submissions']} full marks"
                    + (f"; {r['ratio']:.2f} x no sandbox" if "ratio" in r else ""))
        elif r["section"] == "cliff" and "warmup_s" in r:
            note = f"build + 1 step {r['warmup_s'] + r['s_per_iter']:.1f} s, oneDNN {'on' if r['onednn'] else 'off'}"
        elif r["section"] == "time_to_loss":
            hit = (f"{r['seconds']:.1f} s, {r['iterations']} it" if r["seconds"] is not None
                   else f"not in {r['max_iterations']} it")
            note = (f"loss <= {r['target_total_loss']:.3g} ({r['target_fraction']:g} x start): {hit}; "
                    f"{r['evaluations_per_iter']:.2f} evaluations/iter")
        elif r.get("evaluations_per_iter"):
            note = f"{r['evaluations_per_iter']:.2f} evaluations/iter (L-BFGS restarted each turn)"
        elif r.get("extrapolated"):
            note = "extrapolated (linear in pixels)"
        elif "ms_per_image" in r:
            note = f"{r['ms_per_image']:.1f} ms/image"
            if r.get("batch", 1) > 1:
                note = f"{r['ms']:.0f} ms/step of {r['batch']} images, " + note
        elif r.get("warmup_s") is not None:
            note = f"build + first step {r['warmup_s']:.1f} s"
        ceil = r.get("fraction_of_ceiling")
        lines.append(f"{r['section']:<12} {r.get('variant', '?'):<34.34} {size:>9} {_fmt(r.get('s_per_iter'), '7.3f')} "
                     f"{_fmt(r.get('speedup_vs_baseline'), '6.2f')} {_fmt(r.get('gflops'), '7.1f')} "
                     f"{_fmt(None if ceil is None else 100 * ceil, '5.0f')} {_fmt(r.get('peak_rss_mb'), '7.0f')}  {note}")
    return "\n".join(lines)


def run(args) -> int:
    from nst.images import write_atomic

    args.json = args.json or REPO / "benchmarks" / "results.json"
    args.sizes = args.sizes or ([128] if args.quick else [256, 512, 1024])
    args.memory_sizes = args.memory_sizes or ([128, 192] if args.quick else [512, 1024])
    if args.quick:
        args.loss_size, args.loss_iterations = min(args.loss_size, 64), min(args.loss_iterations, 20)
    started = datetime.datetime.now(datetime.timezone.utc)
    meta = {"date": started.isoformat(timespec="seconds"), "command": " ".join(sys.argv),
            "machine": platform.platform(), "processor": platform.processor(), "python": platform.python_version()}
    rows: list[dict] = []
    if args.only in (None, "gatys"):
        rows += gatys_rows(args)
    elif args.only in ("quality", "cliff"):
        rows += [cpu_row()] + (quality_rows(args) if args.only == "quality" else cliff_rows(args))
    for name in ("fast", "arbitrary"):
        if args.only in (None, name):
            write_atomic(args.json, json.dumps({"meta": meta, "rows": rows, "partial": True}, indent=2))
            rows += plugin_rows(name, args.sizes)
    if args.only in (None, "grading"):
        from benchmarks import grading

        rows += ([cpu_row()] if args.only else []) + grading.run(2 if args.quick else args.submissions, log=log)
    write_atomic(args.json, json.dumps({"meta": meta, "rows": rows}, indent=2))  # before the table can fail
    print(table(rows))
    print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
