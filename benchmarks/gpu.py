"""``python -m benchmarks.gpu``: the GPU rows, in one command, into one results file.

On a machine with an NVIDIA GPU it measures, side by side in one run:

- Gatys at 512 px: seconds per Adam iteration, float32 and bfloat16 (the published figure of the
  seed repository: 57 ms per step), each in its own worker (``benchmarks/gatys.py``);
- fast (part 2) and arbitrary (part 3) inference at 1024 px: ms per image, float32 and bfloat16
  (``benchmarks/fast.py``, ``benchmarks/arbitrary.py``);
- one part 2 training step (VGG16 perceptual loss, 256 px crops, batch 4): ms per step.

It writes the rows to ``--json`` (default: results-gpu.json in the benchmarks folder) and prints the table of
``python -m benchmarks``. Without a GPU it stops with one line, unless ``--cpu`` (the test runs it so,
at small sizes).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

from benchmarks import REPO

GATYS = ("project adam", "project adam bfloat16")


def device_row() -> dict:
    """The accelerator the rows ran on (or the CPU), by name."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return {"section": "device", "variant": ", ".join(names) or f"CPU only ({platform.processor() or platform.machine()})",
            "gpus": len(gpus), "note": f"{len(gpus)} GPU(s)" if gpus else "no GPU: CPU numbers (--cpu)"}


def run(gatys_size: int = 512, infer_size: int = 1024, train_size: int = 256, train_batch: int = 4,
        rounds: int = 3, log=print) -> list[dict]:
    """Rows: the device, Gatys s/iteration, fast and arbitrary ms/image, one training step."""
    from benchmarks import arbitrary, fast, gatys

    rows = [device_row()]
    log(f"gatys: {', '.join(GATYS)} at {gatys_size} px, {rounds} rounds")
    rows += gatys.side_by_side(list(GATYS), gatys_size, rounds, 1, log=log)
    log(f"fast: inference at {infer_size} px, a training step at {train_size} px, batch {train_batch}")
    rows += [dict(section="fast", **r) for r in fast.run(sizes=(infer_size,), reps=rounds, train_size=train_size,
                                                          train_batch=train_batch, train_reps=rounds)]
    log(f"arbitrary: inference at {infer_size} px")
    rows += [dict(section="arbitrary", **r) for r in arbitrary.run(sizes=(infer_size,), repeats=rounds)]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results-gpu.json", help="rows go here")
    parser.add_argument("--cpu", action="store_true", help="run without a GPU (CPU numbers; for testing)")
    parser.add_argument("--gatys-size", type=int, default=512, help="Gatys longest side (default 512)")
    parser.add_argument("--size", type=int, default=1024, help="inference size, fast and arbitrary (default 1024)")
    parser.add_argument("--train-size", type=int, default=256, help="training crop (default 256)")
    parser.add_argument("--train-batch", type=int, default=4, help="training batch (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="turns (Gatys) and repeats (inference) (default 3)")
    args = parser.parse_args(argv)
    import tensorflow as tf

    from benchmarks.__main__ import table
    from nst.images import write_atomic

    if not tf.config.list_physical_devices("GPU") and not args.cpu:
        print("error: no GPU visible to TensorFlow here (nvidia-smi, CUDA_VISIBLE_DEVICES); --cpu runs it anyway",
              file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    rows = run(args.gatys_size, args.size, args.train_size, args.train_batch, args.rounds,
               log=lambda m: print(m, file=sys.stderr, flush=True))
    meta = {"date": started, "command": " ".join(sys.argv), "machine": platform.platform(), "tensorflow": tf.__version__}
    write_atomic(args.json, json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(table(rows))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
