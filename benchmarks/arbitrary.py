"""Arbitrary style transfer inference: ms/image for style prediction and for transfer, separately.

    python -m benchmarks.arbitrary [--sizes 256,512,1024] [--repeats 5] [--seed 0]

For each precision (float32, bfloat16) and each size S (a square S x S image):
  * prediction: backbone (VGG19 to conv4_1) + head, style image -> z (the paper feeds 256 px);
  * transfer:   z + content -> stylised image.
Each is one traced ``tf.function`` with a fixed input shape, warmed up once, then timed
``repeats`` times; the median is reported. Weights do not change the cost, so the model is
freshly initialised (no trained model needed).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import benchmarks  # noqa: F401  (sets oneDNN on before TensorFlow is imported)

PRECISIONS = ("float32", "bfloat16")


def _model(precision: str):
    import keras

    from nst.arbitrary.config import ModelConfig
    from nst.arbitrary.networks import ArbitraryStyleModel
    from solutions import arbitrary

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if precision == "float32" else f"mixed_{precision}")
    try:
        return ArbitraryStyleModel(ModelConfig(), arbitrary, name="arbitrary").build_all()
    finally:
        keras.config.set_dtype_policy(previous)


def _time(fn, args, repeats: int) -> float:
    """Median milliseconds of ``fn(*args)`` after one warm-up call (which traces)."""
    fn(*args).numpy()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args).numpy()
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def run(sizes=(256, 512, 1024), repeats: int = 3, seed: int = 0, precisions=PRECISIONS,
        log=None) -> list[dict]:
    """Rows {variant, size, width, height, precision, part, ms_per_image} for every precision x size x part."""
    import tensorflow as tf

    from nst.runtime import configure_threads, set_seed

    configure_threads()
    set_seed(seed)
    rows = []
    for precision in precisions:
        model = _model(precision)
        embed = tf.function(model.embed)
        transfer = tf.function(model.transfer)
        for size in sizes:
            image = tf.random.uniform((1, size, size, 3), -120.0, 120.0, seed=seed)
            z = tf.cast(embed(image), tf.float32)
            for part, fn, args in (("prediction", embed, (image,)), ("transfer", transfer, (image, z))):
                ms = _time(fn, args, repeats if size <= 512 else max(1, repeats - 1))
                rows.append({"variant": f"{part} {precision}", "size": size, "width": size, "height": size,
                             "precision": precision, "part": part, "ms_per_image": ms})
                if log:
                    log(f"{part} {precision} {size}: {ms:.1f} ms/image")
    return rows


def table(rows: list[dict]) -> str:
    sizes = sorted({r["size"] for r in rows})
    head = f"{'ms/image':<24}" + "".join(f"{s:>10}" for s in sizes)
    lines = [head, "-" * len(head)]
    for variant in dict.fromkeys(r["variant"] for r in rows):
        by_size = {r["size"]: r["ms_per_image"] for r in rows if r["variant"] == variant}
        lines.append(f"{variant:<24}" + "".join(f"{by_size.get(s, float('nan')):>10.1f}" for s in sizes))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512,1024", help="square image sides (default 256,512,1024)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", action="append", choices=PRECISIONS,
                        help="repeatable (default: float32 and bfloat16)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    print(table(run(sizes, args.repeats, args.seed, tuple(args.precision or PRECISIONS), log)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
