"""``nst grade --batch DIR -o scores.csv``: every submission in DIR, each in its own processes.

A submission is a sub-folder or a ``.zip`` of DIR. Up to ``jobs`` submissions are graded
at once (threads here, each driving its own pytest child); a submission that cannot be
read (any exception while reading it: a bad, encrypted or oddly compressed zip, a bad file
name) is ``unreadable`` (zeros, with a note), one that hangs or crashes gets its own zeros,
one the grader fails on is a ``grading-error`` (no score), and the batch goes on.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from pathlib import Path
from typing import Callable

from nst.errors import NstError
from nst.grading import pool, probe, report, workspace
from nst.grading.blame import GRADING_ERROR
from nst.grading.runner import Course, Grade, GradedTest, Settings, TestResult, grade


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def threads_per_job(jobs: int) -> int:
    return max(1, default_jobs() // max(1, jobs))


def find_submissions(folder: Path) -> list[tuple[str, Path]]:
    """(name, path) of each sub-folder and zip in ``folder``, sorted; names are unique."""
    if not folder.is_dir():
        raise NstError(f"--batch {folder}: not a folder")
    paths = sorted(p for p in folder.iterdir()
                   if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() == ".zip"))
    stems = [p.name if p.is_dir() else p.stem for p in paths]
    found = [(s if stems.count(s) == 1 else p.name, p) for s, p in zip(stems, paths)]
    if not found:
        raise NstError(f"--batch {folder}: no submissions (sub-folders or .zip files) found")
    return found


def safe_grade(course: Course, name: str, modules: dict[str, bytes], catalog: list[GradedTest],
               settings: Settings) -> Grade:
    """Grade, never raise: a failure of the grader on this submission is a grading error (no score)."""
    try:
        return grade(course, name, modules, catalog, settings)
    except Exception as e:  # noqa: BLE001 - one submission must never stop the batch
        reason = f"the grader failed on this submission: {type(e).__name__}: {e}"
        return Grade(name, [TestResult(t, GRADING_ERROR, reason) for t in catalog], 0.0, [reason])


def read_submission(path: Path) -> dict[str, bytes] | str:
    """The submission's modules, or, when anything goes wrong reading them, why (a one-line note:
    the submission is ``unreadable``, the student's failure, since the file is theirs)."""
    try:
        return workspace.submission_files(path)
    except NstError as e:                     # e.g. not a zip, a symbolic link
        return str(e)
    except Exception as e:  # noqa: BLE001 - encrypted (RuntimeError), method 99 (NotImplementedError), bad names...
        return f"{path.name}: cannot be read ({type(e).__name__}: {str(e)[:200]})"


def grade_path(course: Course, name: str, path: Path, catalog: list[GradedTest], settings: Settings) -> Grade:
    modules = read_submission(path)
    if isinstance(modules, str):              # zeros, a note, and the batch goes on
        return Grade(name, [TestResult(t, "unreadable", modules) for t in catalog], 0.0, [modules])
    return safe_grade(course, name, modules, catalog, settings)


def outcome(g: Grade) -> str:
    """'82/100', or 'grading error (no score)'."""
    return f"{g.total:g}/{g.max_total:g}" if g.complete else "grading error (no score)"


def run_parallel(tasks: dict[str, Callable[[], Grade]], jobs: int, desc: str,
                 on_done: Callable[[Grade], None] | None = None) -> dict[str, Grade]:
    """Run {label: task} on ``jobs`` threads with a progress bar (plain lines when stderr is not a TTY)."""
    from tqdm import tqdm

    done: dict[str, Grade] = {}
    tty = sys.stderr.isatty()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, \
            tqdm(total=len(tasks), unit="run", desc=desc, disable=not tty) as bar:
        futures = {pool.submit(task): label for label, task in tasks.items()}
        for future in as_completed(futures):
            g = done[futures[future]] = future.result()
            if on_done is not None:
                on_done(g)
            line = f"{g.submission}: {outcome(g)} in {g.seconds:.0f} s"
            if tty:
                bar.set_postfix_str(line)
                bar.update()
            else:
                print(f"{desc} [{len(done)}/{len(tasks)}] {line}", file=sys.stderr, flush=True)
    return done


def grade_all(course: Course, submissions: list[tuple[str, Path]], catalog: list[GradedTest], settings: Settings,
              jobs: int, results_dir: Path | None = None) -> list[Grade]:
    """Grade in parallel; write ``results_dir/<name>/results.json`` as each finishes; keep input order."""
    probe.check(course.root, course.files, course.stubs, settings.limits,   # one error line, not 300 zeros
                tuple(m for m in (settings.guard or course.guard).split(",") if m))
    tasks = {name: partial(grade_path, course, name, path, catalog, settings) for name, path in submissions}
    save = (lambda g: report.write_json(results_dir / g.submission / "results.json", g)) if results_dir else None
    with pool.reuse():                  # a zygote serves its job's submissions one after the other
        done = run_parallel(tasks, jobs, "grading", save)
    return [done[name] for name, _ in submissions]
