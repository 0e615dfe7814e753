"""The cost of grading a class: ``nst grade --batch`` against grading with no sandbox, side by side.

``python -m benchmarks --only grading`` makes ``--submissions`` copies of ``solutions/``'s
modules (each a submission) and grades them twice, ``--jobs`` at a time, in one run:

- **no sandbox** (the grader before issue 20): per submission, one pytest process running the
  graded tests with the submission's modules imported in that process, in a fresh tree built by
  ``nst.grading.workspace``, with the grader's threads per job;
- **sandbox** (what ``nst grade --batch`` does): catalog, probe, a judge per submission, every
  test's student code in its own sandboxed worker.

The ratio sandbox / no sandbox is the price of the sandbox on the real job (issue 25's target:
at most 1.5). Both must give every submission full marks, or the row says so.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import REPO, USER_ONEDNN

MODULES = ("load_vgg.py", "style_transfer.py", "transformer_net.py", "fast_style.py", "arbitrary.py")


def _user_env() -> dict[str, str]:
    """The environment of a user's shell: the oneDNN setting as the user had it (``benchmarks`` sets one for
    its own workers), so each grader runs TensorFlow as it would for them (runner.child_env's choice)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    return env if USER_ONEDNN is None else {**env, "TF_ENABLE_ONEDNN_OPTS": USER_ONEDNN}


def _submissions(folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        sub = folder / f"student{i:03d}"
        sub.mkdir(parents=True)
        for name in MODULES:
            (sub / name).write_bytes((REPO / "solutions" / name).read_bytes())
        paths.append(sub)
    return paths


def _no_sandbox(subs: list[Path], jobs: int) -> tuple[float, int]:
    """Seconds for the whole batch, and how many submissions passed every graded test."""
    from nst.grading import batch, runner, workspace

    course = runner.Course.load(REPO)
    tests = [rel for rel in course.files if Path(rel).name.startswith("test_")]
    threads = str(batch.threads_per_job(jobs))

    def one(path: Path) -> bool:
        modules = {**course.stubs, **workspace.submission_files(path)}
        with tempfile.TemporaryDirectory(prefix="nst-bench-grade-") as tmp:
            work = workspace.build(Path(tmp), course.files, modules, REPO)
            env = {**_user_env(), "NST_IMPL": "assignment", "PYTHONPATH": str(work), "TF_CPP_MIN_LOG_LEVEL": "2",
                   "OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1"}
            proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "graded",
                                   *tests], check=False, cwd=work, env=env, capture_output=True, text=True)
            return proc.returncode == 0

    start = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        passed = sum(pool.map(one, subs))
    return time.perf_counter() - start, passed


def _sandbox(folder: Path, jobs: int, out: Path) -> tuple[float, int]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nst", "grade", "--root", str(REPO), "--batch", str(folder),
                    "--jobs", str(jobs), "-o", str(out)], check=False, cwd=REPO, env=_user_env(), capture_output=True,
                   text=True)
    seconds = time.perf_counter() - start
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return seconds, sum(r["status"] == "graded" and r["total"] == r["max"] for r in rows)


def run(submissions: int = 10, jobs: int | None = None, log=print) -> list[dict]:
    """Rows: no sandbox, sandbox (each with seconds and full marks), the ratio on the sandbox's row."""
    from nst.grading.batch import default_jobs

    jobs = jobs or default_jobs()
    with tempfile.TemporaryDirectory(prefix="nst-bench-class-") as tmp:
        subs = _submissions(Path(tmp) / "class", submissions)
        log(f"grading: {submissions} submissions, {jobs} at a time, without the sandbox")
        plain, plain_full = _no_sandbox(subs, jobs)
        log("grading: the same with nst grade --batch")
        boxed, boxed_full = _sandbox(Path(tmp) / "class", jobs, Path(tmp) / "out" / "scores.csv")
    base = {"section": "grading", "size": f"{submissions} subm", "submissions": submissions, "jobs": jobs}
    return [{**base, "variant": "no sandbox (pytest per submission)", "seconds": plain, "full_marks": plain_full},
            {**base, "variant": "nst grade --batch (sandbox)", "seconds": boxed, "full_marks": boxed_full,
             "ratio": boxed / plain}]
