"""Gatys benchmarks: s/iteration per path, side by side; time to a fixed loss; peak memory.

Each configuration (a :class:`Variant` at one size) lives in a worker process
(``python -m benchmarks.gatys serve VARIANT SIZE``) that builds it, warms it up (the
first step traces the graph) and then answers "run N iterations" requests with their
wall time, so the parent can make the workers take turns and compare them in the same
seconds of a shared machine. A worker's peak RSS (``ru_maxrss``) is that configuration's
memory, TensorFlow's runtime included.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from benchmarks import REPO, shared_images

CONTENT, STYLE = "content/tubingen.jpg", "styles/starry_night.jpg"


@dataclass(frozen=True)
class Variant:
    """One way to run Gatys: the eager ``baseline`` or the ``project`` (solutions/, tf.function)."""

    name: str
    path: str = "project"        # project | baseline
    optimizer: str = "adam"      # adam | lbfgs (project only)
    precision: str = "float32"
    jit: bool = False            # XLA-compile each step (Config.xla, nst stylize --xla)
    onednn: bool | None = None   # TF_ENABLE_ONEDNN_OPTS; None: what nst chooses (on with AVX512, off without: nst/onednn.py)
    isa: str | None = None       # ONEDNN_MAX_CPU_ISA, e.g. "AVX2": oneDNN as on an AVX2-only CPU
    square: bool = False         # resize the content to size x size instead of keeping its aspect
    seed: int = 0                # initial noise and TF seeds


VARIANTS = {v.name: v for v in (
    Variant("baseline eager (TF defaults)", path="baseline"),
    Variant("baseline eager, oneDNN off", path="baseline", onednn=False),
    Variant("project adam"),
    Variant("project adam, oneDNN off", onednn=False),
    Variant("project adam XLA", jit=True),
    Variant("project adam bfloat16", precision="bfloat16"),
    Variant("project adam bfloat16 XLA", precision="bfloat16", jit=True),
    Variant("project lbfgs", optimizer="lbfgs"),
    Variant("project lbfgs XLA", optimizer="lbfgs", jit=True),
)}
BASELINE = "baseline eager (TF defaults)"


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_pair(size: int, square: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """tubingen (longest side ``size``, or ``size`` x ``size``) and starry_night fitted to it."""
    from nst import gatys, images

    config = gatys.Config(max_size=size)
    content, styles = gatys.prepare_images(str(shared_images() / CONTENT), [str(shared_images() / STYLE)], config)
    if square:
        content = images.resize(content, size, size)
        styles = [images.resize(s, size, size) for s in styles]
    return content, styles[0]


class Runner:
    """A built configuration: ``run(n)`` does n iterations and returns the last losses."""

    def __init__(self, variant: Variant, size: int):
        from nst.runtime import configure_threads, set_seed

        configure_threads()
        set_seed(variant.seed)
        self.variant = variant
        content, style = load_pair(size, variant.square)
        self.shape = content.shape[:2]
        self.trace: list[tuple[float, int, float]] = []   # (time, step, total loss) of the last run
        self.loop = None                                   # the project's optimize.Loop, made by the first run
        if variant.path == "baseline":
            from benchmarks.baseline import EagerGatys
            from nst.gatys import Config, initial_image

            self.model = EagerGatys(content, style, initial_image(content, [style], Config(seed=variant.seed)))
        else:
            from nst.gatys import Config
            from nst.impl import load

            StyleTransfer = load("style_transfer", "solutions").StyleTransfer

            config = Config(max_size=size, optimizer=variant.optimizer, precision=variant.precision,
                            xla=variant.jit, seed=variant.seed, print_iterations=10 ** 9)
            self.model = StyleTransfer(content, [style], config)
            self.model.build()
            self.opt_start = [v.numpy() for v in self.model.opt.variables]  # learning rate, zero moments

    def reset(self) -> None:
        """Back to the initial image with a fresh optimiser (project only): a warm, untouched start."""
        self.model.input_img.assign(self.model.initial_img)
        for v, start in zip(self.model.opt.variables, self.opt_start):
            v.assign(start)

    def _record(self, step: int, losses: dict[str, float]) -> None:
        self.trace.append((time.perf_counter(), step, losses["total"]))

    def run(self, n: int) -> dict:
        """n iterations (L-BFGS: at most n); the losses, the iterations done, L-BFGS evaluations."""
        from nst.gatys import optimize

        self.trace = []
        if self.variant.path == "baseline":
            for i in range(n):
                losses = self.model.step()
                self._record(i + 1, losses)
            return {"iterations": n, "total": losses["total"]}
        with contextlib.redirect_stdout(sys.stderr):  # stdout is the worker's reply channel
            if self.loop is None:  # one Loop for every turn: its traced step, XLA program and float32 twin
                self.loop = optimize.Loop(self.model)
            loop = self.loop
            loop.run(n, on_step=self._record)
        out = {"iterations": len(self.trace), "total": self.trace[-1][2] if self.trace else float("nan")}
        result = loop.lbfgs_result
        if result is not None:
            out["evaluations"] = int(result.nfev)
        return out


def serve(variant: Variant, size: int) -> None:
    """Worker loop: build, warm up, then for each stdin line "N" reply with one JSON line."""
    start = time.perf_counter()
    runner = Runner(variant, size)
    runner.run(1)  # trace + first step
    reply = {"ready": True, "warmup_s": time.perf_counter() - start, "height": runner.shape[0],
             "width": runner.shape[1], "peak_rss_mb": peak_rss_mb()}
    print(json.dumps(reply), flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        if line.strip() == "reset":
            runner.reset()
            print(json.dumps({"reset": True}), flush=True)
            continue
        t0 = time.perf_counter()
        out = runner.run(int(line))
        # to the last iteration's step hook: a bfloat16 run then prints the float32 loss of its image
        # (its twin's forward pass, 0.18 s at 256 px), which is the turn's output, not an iteration
        end = runner.trace[-1][0] if runner.trace else time.perf_counter()
        out.update(seconds=end - t0, peak_rss_mb=peak_rss_mb(), trace=[(t - t0, s, l) for t, s, l in runner.trace])
        print(json.dumps(out), flush=True)


class Worker:
    """The parent's handle on a ``serve`` process."""

    def __init__(self, variant: Variant, size: int, timeout: float | None = None):
        from nst import onednn

        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        env.pop("TF_ENABLE_ONEDNN_OPTS", None)
        if variant.isa:
            env["ONEDNN_MAX_CPU_ISA"] = variant.isa
        if variant.onednn is None:
            onednn.choose(env)
        env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0" if variant.onednn is False else "1")
        self.variant, self.size, self.onednn = variant, size, env["TF_ENABLE_ONEDNN_OPTS"] == "1"
        self.stderr = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.gatys", "serve", json.dumps(dataclasses.asdict(variant)), str(size)],
            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.timer = None
        if timeout:  # a stuck worker (the million-pixel cliff) is killed, and _reply says so
            import threading

            self.timer = threading.Timer(timeout, self.proc.kill)
            self.timer.start()
        self.info = self._reply()

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.stderr.seek(0)
            tail = self.stderr.read()[-2000:]
            raise RuntimeError(f"worker {self.variant.name} at {self.size} px exited ({self.proc.returncode}):\n{tail}")
        return json.loads(line)

    def run(self, n: int | str) -> dict:
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        with contextlib.suppress(OSError):
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.stderr.close()


def side_by_side(names: list[str], size: int, rounds: int, steps: int, seed: int = 0, log=print) -> list[dict]:
    """Workers for ``names`` at ``size`` take turns: ``rounds`` x ``steps`` iterations each.

    Between turns the parent measures the float32 conv ceiling, so every ratio (to the
    baseline, to the ceiling) is a median over rounds of same-round measurements.
    """
    from benchmarks import ceiling

    workers: dict[str, Worker] = {}
    try:
        for name in names:
            log(f"  {size} px: starting {name}")
            workers[name] = Worker(dataclasses.replace(VARIANTS[name], seed=seed), size)
        per_iter: dict[str, list[float]] = {n: [] for n in names}
        dtypes = {VARIANTS[n].precision for n in names}
        ceilings: dict[str, list[float]] = {d: [] for d in dtypes}  # a bfloat16 path is judged by the bfloat16 ceiling
        evaluations, rss = {n: 0 for n in names}, {}
        for r in range(rounds):
            for dtype in dtypes:
                ceilings[dtype].append(ceiling.best_conv_rate(dtype, repeats=2)[0] / 1e9)
            for name, worker in workers.items():
                out = worker.run(steps)
                per_iter[name].append(out["seconds"] / max(out["iterations"], 1))
                evaluations[name] += out.get("evaluations", 0)
                rss[name] = out["peak_rss_mb"]
                log(f"  {size} px round {r + 1}/{rounds}: {name} {per_iter[name][-1]:.3f} s/it")
        rows = []
        for name, worker in workers.items():
            h, w = worker.info["height"], worker.info["width"]
            dtype = worker.variant.precision
            flops = ceiling.vgg_flops(h, w)["step"]
            rates = [flops / t / 1e9 for t in per_iter[name]]
            row = {"section": "gatys", "variant": name, "size": size, "height": h, "width": w,
                   "s_per_iter": float(np.median(per_iter[name])), "rounds_s_per_iter": per_iter[name],
                   "gflop_per_iter": flops / 1e9, "gflops": float(np.median(rates)),
                   "fraction_of_ceiling": float(np.median([a / c for a, c in zip(rates, ceilings[dtype])])),
                   "warmup_s": worker.info["warmup_s"], "ceiling_gflops": float(np.median(ceilings[dtype])),
                   "ceiling_dtype": dtype,
                   "peak_rss_mb": rss[name]}
            if BASELINE in per_iter:
                row["speedup_vs_baseline"] = float(np.median(
                    [b / t for b, t in zip(per_iter[BASELINE], per_iter[name])]))
            if evaluations[name]:
                row["evaluations_per_iter"] = evaluations[name] / (rounds * steps)
            rows.append(row)
    finally:
        for worker in workers.values():
            worker.close()
    return rows


def peak_memory(variant: Variant, size: int, steps: int = 2, timeout: float | None = None) -> dict:
    """Peak RSS of a fresh process that builds ``variant`` at ``size`` and runs ``steps`` iterations.

    With ``timeout`` a worker still busy after that many seconds is killed, and the row says so.
    """
    started = time.perf_counter()
    row = {"section": "memory", "variant": variant.name + (f", oneDNN ISA {variant.isa}" if variant.isa else ""),
           "size": size}
    try:
        worker = Worker(variant, size, timeout=timeout)
        try:
            out = worker.run(steps)
        finally:
            worker.close()
    except RuntimeError:
        if timeout is None or time.perf_counter() - started < timeout:
            raise
        return dict(row, height=size, width=size, note=f"did not finish in {timeout:.0f} s (the cliff)")
    return dict(row, height=worker.info["height"], width=worker.info["width"], peak_rss_mb=out["peak_rss_mb"],
                s_per_iter=out["seconds"] / max(out["iterations"], 1), warmup_s=worker.info["warmup_s"],
                onednn=worker.onednn)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "serve":
    serve(Variant(**json.loads(sys.argv[2])), int(sys.argv[3]))
