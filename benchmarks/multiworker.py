"""``python -m benchmarks.multiworker``: throughput of one training worker vs two local workers.

The same global batch either on one worker process, or split over two worker processes on
127.0.0.1 under ``MultiWorkerMirroredStrategy`` (each one CPU device, ``cores / workers``
intra-op threads). Steps are timed by the chief from the end of one step to the end of the
next (part 2; part 3's own ``seconds_per_step``, the training step without the data wait);
the first ``--warmup`` steps (tracing, the collectives' set-up) are left out; the median is
reported. Both parts: ``nst fast train`` (the repo's ``content/`` photos and
``styles/tide.jpg``) and ``nst arbitrary train`` (``content/`` and ``styles/``), from random
weights, plain float32. Prints one JSON line per configuration (distributed.md of the docs).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _worker(args) -> dict:
    """One worker process: train ``args.steps`` steps, time them."""
    from nst.runtime import configure_threads

    configure_threads(intra=args.threads, inter=1)
    times: list[float] = []
    out = Path(args.out)
    if args.part == "fast":
        from nst.fast.config import TrainConfig
        from nst.fast.train import train

        cfg = TrainConfig(style_image=str(REPO / "styles" / "tide.jpg"), naming="bench", model_path=str(out),
                          content_dir=str(REPO / "content"), image_size=args.size, batch_size=args.batch,
                          checkpoint_every=10**6, log_every=10**6, image_every=10**6)
        train(cfg, steps=args.steps, impl="solutions", callback=lambda step, losses: times.append(time.perf_counter()))
    else:
        from nst.arbitrary.config import load_config
        from nst.arbitrary.train import train
        from nst.impl import load

        arbitrary = load("arbitrary", "solutions")

        cfg = load_config(None, out_dir=str(out), content_dirs=[str(REPO / "content")],
                          style_dirs=[str(REPO / "styles")], steps=args.steps, batch_size=args.batch, crop=args.size,
                          scale_range=(args.size, args.size * 2), checkpoint_every=10**6, log_every=10**6,
                          image_every=10**6)
        return {"s_per_step": train(cfg, arbitrary, progress=False)["seconds_per_step"]}
    gaps = sorted(b - a for a, b in list(zip(times, times[1:]))[args.warmup:])
    return {"s_per_step": gaps[len(gaps) // 2]}


def _run(part: str, workers: int, size: int, batch: int, steps: int, warmup: int) -> dict:
    cores = os.cpu_count() or 1
    threads = max(1, cores // workers)
    ports = _free_ports(workers)
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for i in range(workers):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO))
            env.pop("TF_CONFIG", None)
            if workers > 1:
                env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                               "task": {"type": "worker", "index": i}})
            cmd = [sys.executable, "-m", "benchmarks.multiworker", "--worker", "--part", part, "--size", str(size),
                   "--batch", str(batch), "--steps", str(steps), "--threads", str(threads), "--out", f"{tmp}/out",
                   "--warmup", str(warmup)]
            procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
        outs = [p.communicate(timeout=1800) for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("\n".join(err[-2000:] for _, err in outs))
    step_s = json.loads(outs[0][0].strip().splitlines()[-1])["s_per_step"]
    return {"part": part, "workers": workers, "threads_per_worker": threads, "size": size, "global_batch": batch,
            "steps": steps, "s_per_step": round(step_s, 3), "images_per_s": round(batch / step_s, 2),
            "images_per_s_per_worker": round(batch / step_s / workers, 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["fast", "arbitrary", "both"], default="both")
    p.add_argument("--size", type=int, default=128, help="crop side in px (default 128)")
    p.add_argument("--batch", type=int, default=4, help="global batch (default 4)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--warmup", type=int, default=2, help="step gaps left out (default 2)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        result = _worker(args)
        print(json.dumps(result), flush=True)
        return 0
    for part in (["fast", "arbitrary"] if args.part == "both" else [args.part]):
        for workers in (1, 2):
            print(json.dumps(_run(part, workers, args.size, args.batch, args.steps, args.warmup)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
