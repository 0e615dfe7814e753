"""A hostile student against the grader: each attack of issue 13, built on the fly, scores only
what the honest part of its submission deserves.

The course is test_grading's fake ``calc`` course (110 points: test_square 30, test_total 20,
test_scale 50, hidden test_square_negative 10). Unless said otherwise the honest part squares
wrongly, so the right score is 70 and a winning attack shows as 110 (or a broken run as 0).
The attacks that need the sandbox's namespaces or its own user skip where those are missing.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
import zipfile
from pathlib import Path

import pytest

from nst.grading import report, runner, sandbox
from nst.grading.batch import find_submissions, grade_all
from test_grading import BROKEN_SQUARE, FAST, SOLUTION, _grade, _status, catalog, course  # noqa: F401

NAMESPACES = pytest.mark.skipif(sandbox.namespaces() is None, reason="no PID/mount namespaces here (unshare)")
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="the workers get their own user only when grading as root")


def _with(attack: str, where: str = "total", base: str = BROKEN_SQUARE) -> dict[str, bytes]:
    """``base`` with ``attack`` (indented code) run first thing in function ``where``."""
    head = f"def {where}("
    assert head in base
    body = "".join(f"    {line}\n" for line in attack.strip("\n").splitlines())
    start = base.index(head)
    line_end = base.index("\n", base.index('"""', base.index('"""', start) + 3)) + 1   # after the docstring
    return {"calc.py": (base[:line_end] + body + base[line_end:]).encode()}


def test_patching_assertion_code_in_place_gains_nothing(course, catalog):
    attack = ("import numpy as np\n"
              "np.testing.assert_allclose.__code__ = (lambda *a, **k: None).__code__\n"
              "np.allclose.__code__ = (lambda *a, **k: True).__code__\n")
    g = _grade(course, catalog, {"calc.py": (attack + BROKEN_SQUARE).encode()})
    assert g.total == 70 and _status(g)["test_square"] == "failed", report.table(g)


def test_patching_pytest_reports_gains_nothing(course, catalog):
    attack = ("import _pytest.reports as r\n"
              "r.TestReport.passed = property(lambda self: True)\n"
              "r.TestReport.failed = property(lambda self: False)\n"
              "r.BaseReport.passed = property(lambda self: True)\n")
    g = _grade(course, catalog, {"calc.py": (attack + BROKEN_SQUARE).encode()})
    assert g.total == 70, report.table(g)


@NAMESPACES
def test_swapping_tests_then_restarting_with_os_exit_gains_nothing(course, catalog):
    """Rewrites every test file it can find so it passes, then ends the process to force a rerun."""
    attack = f"""
import os, pathlib, sys
roots = [pathlib.Path(__file__).resolve().parents[1], pathlib.Path.cwd(), pathlib.Path({str(course)!r})]
roots += [pathlib.Path(p).parent for p in sys.path if p]
for root in roots:
    for test in root.glob("tests/**/test_*.py"):
        try:
            test.write_text("def test_square():\\n    pass\\n")
        except OSError:
            pass
os._exit(0)
"""
    g = _grade(course, catalog, _with(attack, "square"))
    status = _status(g)
    assert g.total == 70 and status["test_square"] == "crashed", report.table(g)
    assert "exited with status 0" in next(r.reason for r in g.results if r.test.nodeid.endswith("::test_square"))


@NAMESPACES
def test_a_detached_process_dies_with_its_test_and_writes_nothing(course, catalog, tmp_path):
    """start_new_session=True, then rewrite results.json and scores.csv after the grader wrote them."""
    subs = tmp_path / "subs"
    (subs / "mallory").mkdir(parents=True)
    (subs / "honest" / "assignment").mkdir(parents=True)
    (subs / "honest" / "assignment" / "calc.py").write_text(SOLUTION)
    out = tmp_path / "out"
    marker = f"nst-attack-{os.getpid()}-{time.monotonic_ns()}"
    forge = (f"import time, pathlib\n"
             f"time.sleep(4)\n"
             f"for p in pathlib.Path({str(out)!r}).rglob('*'):\n"
             f"    if p.is_file():\n"
             f"        p.write_text('{{\"score\": 110}}')\n")
    attack = (f"import subprocess, sys\n"
              f"subprocess.Popen([sys.executable, '-c', {forge!r}, {marker!r}], start_new_session=True,\n"
              f"                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n")
    (subs / "mallory" / "calc.py").write_bytes(_with(attack)["calc.py"])
    grades = grade_all(runner.Course.load(course), find_submissions(subs), catalog, FAST, jobs=1,
                       results_dir=out / "results")
    report.write_csv(out / "scores.csv", grades, catalog)
    time.sleep(6)                                    # the forger would have struck by now
    alive = [p for p in Path("/proc").glob("[0-9]*") if marker in _cmdline(p)]
    assert not alive, "the detached process outlived its test"
    rows = {r["submission"]: r["total"] for r in csv.DictReader((out / "scores.csv").open())}
    assert rows == {"honest": "110", "mallory": "70"}
    data = json.loads((out / "results" / "mallory" / "results.json").read_text())
    assert sum(t["score"] for t in data["tests"]) == 70


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


@NAMESPACES
def test_reading_the_reference_from_the_grader_checkout_gains_nothing(course, catalog):
    """Looks for solutions/ and tests/reference/ beside sys.executable, the course, and the paths
    results.json used to show; uses the reference square if it finds it."""
    attack = f"""
import pathlib, sys
places = [pathlib.Path(sys.executable).resolve(), pathlib.Path(sys.prefix), pathlib.Path({str(course)!r}) / "x",
          pathlib.Path(__file__).resolve(), pathlib.Path.cwd()]
for place in places:
    for root in place.parents:
        for leak in [root / "solutions" / "calc.py", root / "tests" / "reference" / "calc.npz"]:
            try:
                leak.read_bytes()
                return x ** 2
            except OSError:
                pass
"""
    g = _grade(course, catalog, _with(attack, "square"))
    assert g.total == 70, report.table(g)
    shown = json.dumps(report.gradescope(g))
    assert str(course) not in shown and "/tmp/" not in shown and sys_prefix() not in shown, shown


def sys_prefix() -> str:
    import sys

    return sys.prefix


def test_tracebacks_name_submission_files_only(course, catalog):
    g = _grade(course, catalog, _with("raise ValueError('boom')"))
    total = next(r for r in g.results if r.test.nodeid.endswith("::test_total"))
    assert total.status == "failed" and "ValueError: boom" in total.reason
    assert 'File "assignment/calc.py"' in total.output, total.output
    assert str(course) not in total.output and "/tmp/" not in total.output and sys_prefix() not in total.output


def test_a_symlink_to_the_solutions_is_refused(course, catalog, tmp_path):
    sub = tmp_path / "sub" / "assignment"
    sub.mkdir(parents=True)
    (sub / "calc.py").symlink_to(course / "solutions" / "calc.py")
    with zipfile.ZipFile(tmp_path / "linked.zip", "w") as zf:
        info = zipfile.ZipInfo("assignment/calc.py")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, str(course / "solutions" / "calc.py"))
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "sub").symlink_to(tmp_path / "sub", target_is_directory=True)
    (tmp_path / "batch" / "linked.zip").write_bytes((tmp_path / "linked.zip").read_bytes())
    grades = grade_all(runner.Course.load(course), find_submissions(tmp_path / "batch"), catalog, FAST, jobs=1)
    assert {g.submission: g.total for g in grades} == {"linked": 0, "sub": 0}
    assert all("symbolic link" in g.notes[0] for g in grades)


@NAMESPACES
def test_killing_the_parent_gains_nothing_and_the_batch_writes_its_csv(course, catalog, tmp_path):
    """In its PID namespace the worker's parent is 0 and it is init itself, so both kills do nothing
    (without namespaces the parent is another user's process): test_total still passes, 70."""
    subs = tmp_path / "subs"
    for name in ("a", "b"):
        (subs / name).mkdir(parents=True)
    (subs / "a" / "calc.py").write_bytes(_with("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                                               "os.kill(os.getpgid(0), signal.SIGKILL)\n")["calc.py"])
    (subs / "b" / "calc.py").write_text(SOLUTION)
    grades = grade_all(runner.Course.load(course), find_submissions(subs), catalog, FAST, jobs=2)
    report.write_csv(tmp_path / "scores.csv", grades, catalog)
    rows = {r["submission"]: r["total"] for r in csv.DictReader((tmp_path / "scores.csv").open())}
    assert rows == {"a": "70", "b": "110"}, [report.table(g) for g in grades]


def test_a_6_gib_allocation_fails_in_the_worker(course, catalog):
    g = _grade(course, catalog, _with("import numpy as np\nblock = np.ones(6 << 27)\nblock[::4096] = 2\n"))
    total = next(r for r in g.results if r.test.nodeid.endswith("::test_total"))
    assert g.total == 50 and total.status in ("failed", "crashed") and "Memory" in total.reason, report.table(g)


@ROOT_ONLY
def test_workers_run_as_the_grader_user(course, catalog):
    uid = sandbox.worker_uid()
    attack = f"import os\nif os.getuid() != {uid}:\n    raise RuntimeError('running as uid %d' % os.getuid())\n"
    g = _grade(course, catalog, _with(attack, base=SOLUTION))
    assert g.total == 110, report.table(g)


def test_without_namespaces_the_workers_still_grade_and_die(course, catalog, monkeypatch):
    """The fallback (a container without unshare): process groups, and as root the grader user's
    processes are all killed after the submission, a setsid'd one included."""
    own_user = os.geteuid() == 0 and all(map(sandbox.readable_by_others, {sys.base_prefix, sys.prefix}))
    if not own_user:     # e.g. Python under /root: process groups only (the grader refuses that as root)
        monkeypatch.setattr(sandbox, "worker_uid", lambda: None)
    monkeypatch.setenv("NST_GRADE_NO_NAMESPACES", "1")
    sandbox.namespaces.cache_clear()
    try:
        marker = f"nst-fallback-{os.getpid()}-{time.monotonic_ns()}"
        attack = (f"import subprocess, sys\n"
                  f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}],\n"
                  f"                 start_new_session=True)\n")
        g = _grade(course, catalog, _with(attack))
    finally:
        sandbox.namespaces.cache_clear()
    assert g.total == 70, report.table(g)
    if own_user:
        assert not [p for p in Path("/proc").glob("[0-9]*") if marker in _cmdline(p)]
