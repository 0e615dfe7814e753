"""The noise floor behind the part 3 published-model tolerance, and how far wrong CINs land.

    TF_ENABLE_ONEDNN_OPTS=0 python tools/cin_noise_floor.py --threads 1
    TF_ENABLE_ONEDNN_OPTS=1 python tools/cin_noise_floor.py --threads 2 solution

Renders the graded case (tests/arbitrary_cases.py: content/chelsea.jpg at 128 px in
styles/swirls.jpg) with the published model around solutions/arbitrary.py, its CIN replaced
by each variant, and prints mean and max |difference| of the float image (0..255, before
rounding) and of the 8-bit image from ``published_out`` in tests/reference/arbitrary.npz,
with the count of differing 8-bit values. Variants: ``solution``; correct CINs written
otherwise (``e2``: E[x^2] - mu^2, ``div``: a division, ``bn``: tf.nn.batch_normalization,
``f64``: float64); wrong ones (``eps1e-3``, ``eps1e-4``, ``unbiased``: n - 1, ``bf16``).
The limits and the measured values are in tests/test_arbitrary_graded.py.
"""
from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("solution", "e2", "div", "bn", "f64", "eps1e-3", "eps1e-4", "unbiased", "bf16")


def variant_cin(kind: str):
    """CIN(x) = gamma (x - mu) / sqrt(var + eps) + beta, computed the ``kind`` way."""
    import tensorflow as tf

    def cin(x, gamma, beta, epsilon=1e-5):
        g, b = gamma[:, None, None, :], beta[:, None, None, :]
        if kind == "bf16":
            xb = tf.cast(x, tf.bfloat16)
            m, v = tf.nn.moments(xb, axes=[1, 2], keepdims=True)
            y = tf.cast(g, tf.bfloat16) * (xb - m) * tf.math.rsqrt(v + epsilon) + tf.cast(b, tf.bfloat16)
            return tf.cast(y, tf.float32)
        if kind == "f64":
            x64 = tf.cast(x, tf.float64)
            m, v = tf.nn.moments(x64, axes=[1, 2], keepdims=True)
            y = tf.cast(g, tf.float64) * (x64 - m) / tf.sqrt(v + epsilon) + tf.cast(b, tf.float64)
            return tf.cast(y, tf.float32)
        m, v = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        if kind == "e2":
            v = tf.reduce_mean(tf.square(x), axis=[1, 2], keepdims=True) - tf.square(m)
        if kind == "bn":
            return tf.nn.batch_normalization(x, m, v, b, g, epsilon)
        if kind == "div":
            return (x - m) / tf.sqrt(v + epsilon) * g + b
        if kind == "unbiased":
            n = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)
            v = v * n / (n - 1.0)
        eps = {"eps1e-3": 1e-3, "eps1e-4": 1e-4}.get(kind, epsilon)
        return g * (x - m) * tf.math.rsqrt(v + eps) + b

    return cin


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="*", help=f"any of {', '.join(VARIANTS)} (default: all)")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: its default)")
    args = p.parse_args(argv)
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    import arbitrary_cases as cases
    from solutions import arbitrary

    with np.load(REPO / "tests" / "reference" / "arbitrary.npz") as z:
        ref = z["published_out"].astype(np.float64)
    content, style = cases.published_inputs(REPO)
    print(f"{'variant':<10} {'float mean':>11} {'float max':>10} {'8-bit mean':>10} {'max':>4} {'values':>7} of {ref.size}")
    for kind in args.variants or VARIANTS:
        module = types.ModuleType(f"arbitrary_{kind}")
        module.__dict__.update(arbitrary.__dict__)
        if kind != "solution":
            module.conditional_instance_norm = variant_cin(kind)
        _, image = cases.render_published(module, content, style)
        d = np.abs(image.astype(np.float64) - ref)
        d8 = np.abs(np.clip(image, 0, 255).round() - np.clip(ref, 0, 255).round())
        print(f"{kind:<10} {d.mean():>11.2e} {d.max():>10.2e} {d8.mean():>10.4f} {d8.max():>4.0f} "
              f"{np.count_nonzero(d8):>7}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
