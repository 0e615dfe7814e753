"""Fast style transfer benchmark: inference ms/image and training step time, peak memory.

    python -m benchmarks.fast                      # 256, 512, 1024 px; float32 and bfloat16
    python -m benchmarks.fast --sizes 256 --reps 3 --json outputs/bench_fast.json
    python -m benchmarks.fast --finetune                 # random init vs --init, one new style
    python -m benchmarks.fast --multistyle [--newstyle]  # the published 26-style network (benchmarks/multistyle.py)

Inference: one square RGB image through the transformation network (one traced
``tf.function``, first call excluded), float32 and bfloat16 compute. Training: one step of
``solutions.fast_style.train_step`` (VGG16 loss network, Adam) at 256 px, batch 4.
Peak memory is the process's peak resident set size after each row (it only grows).
Weights are random: speed does not depend on them.

Fine-tuning (``--finetune``): the same new style (``styles/tide.jpg``) trained twice with the
shipped CPU recipe (conf/starry_night_cpu.yml: 128 px crops of content/, batch 2, style weight
0.05), once from random weights and once from a shipped model (``--init``), for the same
number of steps; the table gives, for each fixed style-loss target, the first step (and the
training wall time to it) at which the style loss, averaged over the last ``window`` steps,
is at or below the target: the two runs side by side.
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

    from nst.impl import load
    from nst.runtime import configure_threads, set_seed
    from nst.vgg import VGGFeatures

    fast_style, transformer_net = load("fast_style", "solutions"), load("transformer_net", "solutions")

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


def race(configs: dict, steps: int, heldout=None, every: int = 25) -> dict[str, list[tuple[int, float, float]]]:
    """Train each ``{label: TrainConfig}`` for ``steps`` (solutions/, nothing saved), one after the
    other; per label the curve ``[(step, style loss, seconds since the first step began)]``.

    With ``heldout`` (an :class:`nst.fast.evaluate.HeldOut`), the curve holds its mean style loss on the
    held-out photos every ``every`` steps (and at the last) instead of the training loss, and the
    seconds leave out the time those evaluations took."""
    from nst.fast.train import train
    from nst.runtime import configure_threads

    configure_threads()
    curves: dict[str, list[tuple[int, float, float]]] = {}
    for label, cfg in configs.items():
        t0, curve, spent = time.perf_counter(), [], [0.0]

        def probe(net, spent=spent):
            t = time.perf_counter()
            style = heldout(net)["mean"]["style"]
            spent[0] += time.perf_counter() - t
            return {"heldout_style": style}

        def record(step, losses, curve=curve, t0=t0, spent=spent):
            if heldout is None:
                curve.append((step, losses["style"], time.perf_counter() - t0))
            elif "heldout_style" in losses:
                curve.append((step, losses["heldout_style"], time.perf_counter() - t0 - spent[0]))

        train(cfg, steps=steps, impl="solutions", save=False, callback=record,
              probe=probe if heldout is not None else None, probe_every=every)
        curves[label] = curve
        print(f"{label}: {steps} steps in {curve[-1][2]:.0f} s, last style loss {curve[-1][1]:.0f}"
              f"{' (held out)' if heldout is not None else ''}", file=sys.stderr, flush=True)
    return curves


def reached(curves: dict[str, list], targets, window: int) -> list[dict]:
    """Per target, per label: the first (step, seconds) where the style loss averaged over the last
    ``window`` steps is <= target (so step ``window`` is the earliest), or (None, None)."""
    rows = []
    for target in targets:
        row = {"target": target}
        for label, curve in curves.items():
            hit = next(((st, sec) for i, (st, _, sec) in enumerate(curve)
                        if i + 1 >= window and sum(c[1] for c in curve[i + 1 - window:i + 1]) / window <= target),
                       (None, None))
            row[f"{label}_step"], row[f"{label}_s"] = hit
        rows.append(row)
    return rows


def finetune(style: str = "styles/tide.jpg", init: str = "stained_glass_demo", steps: int = 300,
             targets=(5000, 4000, 3000, 2500, 2000, 1500, 1250), window: int = 10,
             config: str = "conf/starry_night_cpu.yml", content=("content",), seed: int = 0) -> dict:
    """{"curves": {"random": [...], "init": [...]}, "rows": [{"target", "random_step", "random_s", "init_step",
    "init_s"}]}: steps and seconds (training loop only) to a windowed-mean style loss <= target, None if never."""
    from nst.fast.config import load_config

    configs = {}
    for label, start in (("random", None), ("init", init)):
        configs[label] = load_config(config, style_image=style, content_dir=list(content), naming=f"bench_{label}",
                                     init=start, seed=seed)
        configs[label].init = start
    curves = race(configs, steps)
    return {"style": style, "init": init, "steps": steps, "window": window, "curves": curves,
            "rows": reached(curves, targets, window)}


def finetune_table(result: dict) -> str:
    """Side by side: target | random init step, seconds | --init step, seconds."""
    def cell(step, sec):
        return f"{'not reached':>16}" if step is None else f"{step:>6} {sec:>7.0f} s "
    lines = [f"style {result['style']}, {result['steps']} steps each, style loss averaged over {result['window']} steps",
             f"{'style loss <=':>13} | {'random init':>16} | {'--init ' + str(result['init']):>16}"]
    for r in result["rows"]:
        lines.append(f"{r['target']:>13} | {cell(r['random_step'], r['random_s'])} | {cell(r['init_step'], r['init_s'])}")
    return "\n".join(lines)


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
    p.add_argument("--finetune", action="store_true",
                   help="instead: steps and time to fixed style losses, random init vs --init, side by side")
    p.add_argument("--init", default="stained_glass_demo", help="Johnson model to fine-tune from (default the shipped stained_glass_demo)")
    p.add_argument("--style", help="the new style (default: styles/tide.jpg for --finetune, the config's painting "
                                   "for --newstyle, The Scream)")
    p.add_argument("--steps", type=int, default=300, help="steps per run (default 300)")
    p.add_argument("--content-dir", nargs="+", default=["content"],
                   help="folder(s) of training photos for --finetune and --newstyle (default content/)")
    p.add_argument("--targets", type=float, nargs="+", default=[5000, 4000, 3000, 2500, 2000, 1500, 1250])
    p.add_argument("--multistyle", action="store_true", help="the published network vs onnxruntime (benchmarks/multistyle.py)")
    p.add_argument("--newstyle", action="store_true",
                   help="with --multistyle: train norm / all / random to held-out style-loss targets")
    p.add_argument("--heldout-every", type=int, default=25,
                   help="with --newstyle: held-out style loss every N steps (0: the training loss, every step)")
    args = p.parse_args(argv)
    if args.multistyle:
        from benchmarks import multistyle

        if args.newstyle:
            result = multistyle.newstyle(args.style, args.steps, seed=args.seed, heldout_every=args.heldout_every,
                                         content=tuple(args.content_dir))
            print(multistyle.newstyle_table(result))
        else:
            result = multistyle.inference(tuple(args.sizes), args.reps, args.seed)
            print(multistyle.inference_table(result))
        if args.json:
            from nst.images import write_atomic

            write_atomic(args.json, json.dumps(result, indent=1))
        return 0
    if args.finetune:
        from nst.images import write_atomic

        result = finetune(args.style or "styles/tide.jpg", args.init, args.steps, tuple(args.targets),
                          content=tuple(args.content_dir), seed=args.seed)
        print(finetune_table(result))
        if args.json:
            write_atomic(args.json, json.dumps(result, indent=1))
        return 0
    rows = run(tuple(args.sizes), tuple(args.precisions), args.reps, train_reps=args.train_reps, progress=True)
    print(table(rows))
    if args.json:
        from nst.images import write_atomic

        write_atomic(args.json, json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
