"""Time to quality: how long each Gatys configuration takes to reach neural-style's loss.

The reference is ``--preset neural-style`` (anishathalye/neural-style's defaults: Adam,
learning rate 10, noise start) for ``reference_iterations`` Adam steps; its total loss after
the last step is the target. Every other configuration (same loss, same weights, same start)
then runs until its total loss at the full size is at or below that target. A configuration that
computes in bfloat16 is judged by the float32 loss of its float32 image (a float32 twin evaluates it
at every step; that evaluation is off the clock), so every row compares the same number. Each runs in its
own fresh process, one after the other, in one command; the clock starts before the first
``StyleTransfer`` is built, so tracing and every coarse scale count. Wall seconds and the
worker's CPU seconds are both recorded: on a shared machine CPU seconds move less with the
load (the ratios are given for both).

``python -m benchmarks.quality worker CONFIG_JSON`` is the worker; :func:`run` the driver.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import REPO, shared_images

CONTENT, STYLE = "content/tubingen.jpg", "styles/starry_night.jpg"
REFERENCE = "adam (neural-style defaults)"


def configurations() -> dict[str, dict]:
    """name -> Config overrides on top of the neural-style preset; ``iterations`` caps the last scale."""
    return {
        "lbfgs": dict(optimizer="lbfgs"),
        "lbfgs from the content": dict(optimizer="lbfgs", initial="content"),
        # --preset neural-style-fast at float32, and with --precision auto on a CPU with bfloat16 units
        "lbfgs from the recolored content": dict(optimizer="lbfgs", initial="recolored"),
        "lbfgs from the recolored content, bfloat16": dict(optimizer="lbfgs", initial="recolored",
                                                           precision="bfloat16"),
    }


# Measured once and dropped from the default run (the course repository's benchmark notes): no faster than
# the rows above (coarse-to-fine at 256 px: 36.7 s from the content, against 22.9 s without, 2026-12-04).
SLOWER = {
    "adam coarse-to-fine 0.5,1": dict(scale_fractions=(0.5, 1.0), coarse_iterations=(200,)),
    "lbfgs coarse-to-fine 0.5,1": dict(optimizer="lbfgs", scale_fractions=(0.5, 1.0), coarse_iterations=(100,)),
    "lbfgs coarse-to-fine 0.25,0.5,1": dict(optimizer="lbfgs", scale_fractions=(0.25, 0.5, 1.0),
                                            coarse_iterations=(100, 100)),
    "lbfgs coarse-to-fine 0.5,1 from the content": dict(optimizer="lbfgs", initial="content",
                                                         scale_fractions=(0.5, 1.0), coarse_iterations=(100,)),
}


class Reached(Exception):
    """Raised from the step hook when the target loss is reached: the run stops there."""


def worker(spec: dict) -> dict:
    """Run one configuration (stages as ``gatys.stylize``); stop when the last stage reaches ``target``."""
    from nst import gatys, images
    from nst.gatys import optimize
    from nst.impl import load
    from nst.runtime import configure_threads, set_seed

    StyleTransfer = load("style_transfer", "solutions").StyleTransfer

    configure_threads()
    config = gatys.Config(**{**gatys.PRESETS["neural-style"], "max_size": spec["size"], "seed": spec["seed"],
                             "print_iterations": 10 ** 9, **spec["overrides"]})
    content_path, style_path = str(shared_images() / CONTENT), str(shared_images() / STYLE)
    target, trace, t0, c0 = spec.get("target"), [], time.perf_counter(), time.process_time()
    stages = gatys.stages_of(config)
    hit, result, loop = None, None, None
    judged_off_clock = [0.0, 0.0]  # wall and CPU seconds of the float32 judge, taken off the clock
    for i, (size, fraction, iterations) in enumerate(stages):
        set_seed(config.seed)
        last = i + 1 == len(stages)
        content, styles = gatys.prepare_images(content_path, [style_path], config, size=size, fraction=fraction)
        st = StyleTransfer(content, styles, config)
        if result is not None:
            st.initial_img = images.preprocess(images.resize(result.astype("float32"), *content.shape[:2]))
        st.build()
        loop = optimize.Loop(st)  # for another precision, its float32 twin (nst.gatys.twin) judges the image

        def on_step(step, losses, loop=loop, last=last, stage=i):
            now, cpu = time.perf_counter() - t0 - judged_off_clock[0], time.process_time() - c0 - judged_off_clock[1]
            total = _judged(loop, judged_off_clock) if last and loop.twin is not None else losses["total"]
            trace.append((now, cpu, stage, step, total))
            if last and target is not None and total <= target:
                raise Reached

        try:
            with contextlib.redirect_stdout(sys.stderr):
                result = loop.run(iterations, on_step=on_step)
        except Reached:
            hit = trace[-1]
            result = images.deprocess(st.input_img.numpy())
            break
    if hit is None:  # the reference (or a miss): the loss of the final image, after the last step
        final_loss = optimize.weighted(st, st.total_loss())["total"] if loop.twin is None else \
            _judged(loop, judged_off_clock)
        hit = (time.perf_counter() - t0, time.process_time() - c0, len(stages) - 1, trace[-1][3] if trace else 0,
               final_loss)
    if spec.get("image"):
        images.save_image(result, spec["image"])
    reached = target is None or hit[4] <= target
    return {"seconds": hit[0], "cpu_seconds": hit[1], "iterations": hit[3], "loss": hit[4], "reached": reached,
            "precision": config.precision, "loss_precision": "float32",
            "final_iterations": [sum(1 for t in trace if t[2] == s) for s in range(len(stages))],
            "height": int(result.shape[0]), "width": int(result.shape[1])}


def _judged(loop, off_clock: list[float]) -> float:
    """The float32 total loss of the loop's current image (its twin's), the cost added to ``off_clock`` (wall, CPU)."""
    from nst.gatys.optimize import weighted
    from nst.gatys.twin import float32_losses

    w0, c0 = time.perf_counter(), time.process_time()
    total = weighted(loop, float32_losses(loop.twin, loop.st))["total"]
    off_clock[0] += time.perf_counter() - w0
    off_clock[1] += time.process_time() - c0
    return total


def _spawn(spec: dict) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.quality", "worker", json.dumps(spec)], cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"time-to-quality worker {spec['name']} failed:\n{err.read()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(size: int = 256, reference_iterations: int = 300, seed: int = 0,
        images_dir: str | Path | None = None, cap: int = 300, names: list[str] | None = None,
        log=print) -> list[dict]:
    """The reference first (its final loss is the target), then each configuration (or ``names``); rows with ratios."""
    images_dir = Path(images_dir) if images_dir else None
    if images_dir:
        images_dir.mkdir(parents=True, exist_ok=True)

    def image(name):
        return str(images_dir / (name.split(" (")[0].replace(" ", "_").replace(",", "-") + ".png")) if images_dir else None

    log(f"time to quality: {REFERENCE}, {reference_iterations} iterations at {size} px")
    ref = _spawn({"name": REFERENCE, "size": size, "seed": seed, "image": image(REFERENCE),
                  "overrides": {"iterations": reference_iterations}})
    target = ref["loss"]
    results = {REFERENCE: ref}
    for name, overrides in {**configurations(), **SLOWER}.items():
        if (names is None and name in SLOWER) or (names is not None and name not in names):
            continue
        log(f"time to quality: {name} until total loss <= {target:.4g}")
        results[name] = _spawn({"name": name, "size": size, "seed": seed, "target": target, "image": image(name),
                                "overrides": {"iterations": cap, **overrides}})
    rows = []
    for name, r in results.items():
        rows.append({"section": "time_to_quality", "variant": name, "size": size, "height": r["height"],
                     "width": r["width"], "target_total_loss": target, "reference_iterations": reference_iterations,
                     "seconds": r["seconds"] if r["reached"] else None, "cpu_seconds": r["cpu_seconds"],
                     "iterations_per_scale": r["final_iterations"], "total_loss": r["loss"], "reached": r["reached"],
                     "time_ratio": r["seconds"] / ref["seconds"] if r["reached"] else None,
                     "cpu_ratio": r["cpu_seconds"] / ref["cpu_seconds"] if r["reached"] else None,
                     "precision": r.get("precision"), "loss_precision": r.get("loss_precision"),
                     "image": image(name)})
    return rows


def side_by_side(rows: list[dict], output: str | Path, height: int = 192) -> Path:
    """content | style | each configuration's image at the target, labelled, as one JPEG (written atomically)."""
    import io

    from PIL import Image, ImageDraw

    from nst.images import write_atomic

    tiles = [("content", shared_images() / CONTENT), ("style", shared_images() / STYLE)]
    tiles += [(r["variant"].split(" (")[0] + (f": {r['seconds']:.0f} s" if r["seconds"] else ": not reached"),
               r["image"]) for r in rows if r.get("image")]
    ims = []
    for label, path in tiles:
        im = Image.open(path).convert("RGB")
        im = im.resize((round(im.width * height / im.height), height))
        canvas = Image.new("RGB", (im.width, height + 18), "white")
        canvas.paste(im, (0, 18))
        ImageDraw.Draw(canvas).text((3, 3), label, fill="black")
        ims.append(canvas)
    strip = Image.new("RGB", (sum(i.width for i in ims) + 4 * (len(ims) - 1), height + 18), "white")
    x = 0
    for im in ims:
        strip.paste(im, (x, 0))
        x += im.width + 4
    buf = io.BytesIO()
    strip.save(buf, format="JPEG", quality=85)
    return write_atomic(output, buf.getvalue())


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "worker":
    print(json.dumps(worker(json.loads(sys.argv[2]))), flush=True)
