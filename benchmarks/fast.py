"""Fast style transfer benchmark: inference ms/image and training step time, peak memory.

    python -m benchmarks.fast                      # 256, 512, 1024 px; float32 and bfloat16
    python -m benchmarks.fast --sizes 256 --reps 3 --json outputs/bench_fast.json

Inference: one square RGB image through the transformation network (one traced
``tf.function``, first call excluded), float32 and bfloat16 compute. Training: one step of
``solutions.fast_style.train_step`` (VGG16 loss network, Adam) at 256 px, batch 4.
Peak memory is the process's peak resident set size after each row (it only grows).
Weights are random: speed does not depend on them.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _time(fn, reps: int) -> float:
    fn()  # trace and warm up
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run(sizes=(256, 512, 1024), precisions=("float32", "bfloat16"), reps: int = 3,
        train_size: int = 256, train_batch: int = 4, train_reps: int = 2, progress: bool = False) -> list[dict]:
    """One dict per measurement: {"what", "size", "batch", "precision", "ms", "peak_rss_mb"}.

    ``progress`` prints each row to stderr as soon as it is measured.
    """
    import numpy as np
    import tensorflow as tf

    from nst.runtime import configure_threads, set_seed
    from nst.vgg import VGGFeatures
    from solutions import fast_style, transformer_net

    configure_threads()
    set_seed(0)
    rows = []
    for precision in precisions:
        net = transformer_net.TransformerNet(seed=0, compute_dtype=precision)
        forward = tf.function(net.__call__, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        for size in sizes:
            x = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32))
            seconds = _time(lambda: forward(x).numpy(), reps)
            rows.append({"what": "inference", "variant": f"inference {precision}", "size": size, "width": size,
                         "height": size, "batch": 1, "precision": precision, "ms": 1000 * seconds,
                         "ms_per_image": 1000 * seconds, "peak_rss_mb": _peak_rss_mb()})
            if progress:
                print(table(rows[-1:]).splitlines()[1], file=sys.stderr, flush=True)
    if train_reps:
        net = transformer_net.TransformerNet(seed=0)
        style = np.random.default_rng(1).uniform(0, 255, (train_size, train_size, 3)).astype(np.float32)
        loss = fast_style.PerceptualLoss(VGGFeatures("vgg16", pooling="max"), style)
        optimizer = tf.keras.optimizers.Adam(1e-3)
        step = tf.function(lambda images: fast_style.train_step(net, loss, optimizer, images))
        x = tf.constant(np.random.default_rng(2).uniform(0, 255, (train_batch, train_size, train_size, 3))
                        .astype(np.float32))
        seconds = _time(lambda: step(x)["total"].numpy(), train_reps)
        rows.append({"what": "train step", "variant": f"train step float32, batch {train_batch}", "size": train_size,
                     "width": train_size, "height": train_size, "batch": train_batch, "precision": "float32",
                     "ms": 1000 * seconds, "ms_per_image": 1000 * seconds / train_batch,
                     "peak_rss_mb": _peak_rss_mb()})
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'what':<11} {'size':>5} {'batch':>5} {'precision':<9} {'ms':>9} {'ms/image':>9} {'peak RSS MB':>11}"]
    for r in rows:
        lines.append(f"{r['what']:<11} {r['size']:>5} {r['batch']:>5} {r['precision']:<9} {r['ms']:>9.1f} "
                     f"{r['ms'] / r['batch']:>9.1f} {r['peak_rss_mb']:>11.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    p.add_argument("--reps", type=int, default=3, help="timed repetitions per row (best is reported)")
    p.add_argument("--train-reps", type=int, default=2, help="timed training steps (0 = skip training)")
    p.add_argument("--json", help="also write the rows to this JSON file")
    p.add_argument("--seed", type=int, default=0, help="random seed (inputs are seeded anyway)")
    args = p.parse_args(argv)
    rows = run(tuple(args.sizes), tuple(args.precisions), args.reps, train_reps=args.train_reps, progress=True)
    print(table(rows))
    if args.json:
        from nst.images import write_atomic

        write_atomic(args.json, json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
