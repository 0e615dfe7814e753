"""pytest plugin the grader loads into its child process (``-p nst.grading.plugin``).

It appends one JSON object per line to ``--nst-report`` (a file outside the work tree
that the grader created), each tagged with the token the grader wrote to
``<report>.token`` (read and deleted here, before any test code runs):

    {"event": "item", "nodeid": ..., "points": 12, "part": 1}         (--nst-collect)
    {"event": "start", "nodeid": ...}                                  before setup
    {"event": "result", "nodeid": ..., "status": "passed"|"failed"|"error"|"skipped"|"crashed"|"grading-error",
     "reason": ..., "output": ...}                                     grading-error: the grader's fault (blame)
    {"event": "collect_error", "path": ..., "reason": ...}
    {"event": "tamper", "what": [...]}                                 numpy/TF/tests patched
    {"event": "done"}

The grader watches the file to time each test and scores from it; nothing the student
code prints or writes elsewhere is read.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

OUTPUT_CHARS = 3000


def pytest_addoption(parser) -> None:
    group = parser.getgroup("nst-grade")
    group.addoption("--nst-report", help="JSON-lines report written for the grader")
    group.addoption("--nst-guard", default="numpy,numpy.testing,tensorflow",
                    help="modules imported and snapshotted before any test code")
    group.addoption("--nst-collect", action="store_true", help="report the graded items (with --collect-only)")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "graded(points, part): a graded test worth `points` in part `part`")
    if config.getoption("--nst-report"):
        config.pluginmanager.register(Reporter(config), "nst-grade-reporter")


def one_line(message: str, limit: int = 200) -> str:
    """The gist of a failure: 'Error: message', or the next lines when the message itself is empty."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    text = lines[0]
    if text.endswith(":"):                       # e.g. "AssertionError:" then numpy's explanation
        text = " ".join([text] + lines[1:3])
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _reason(report) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return "skipped: " + one_line(str(report.longrepr[2]).removeprefix("Skipped: "))
    crash = getattr(report.longrepr, "reprcrash", None)
    return one_line(crash.message if crash is not None else str(report.longrepr))


class _NoSolutions:
    """Meta-path finder: ``import solutions`` fails in a graded run, even if nst is pip-installed;
    so does ``import assignment`` in the judge when the student code runs in workers."""

    def __init__(self, blocked: tuple[str, ...] = ("solutions",)):
        self.blocked = blocked

    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top == "solutions":
            raise ImportError("the reference solutions are not available while grading")
        if top in self.blocked:
            raise ImportError(f"the judge never imports {top}: use the impl_module fixture")
        return None


class Reporter:
    def __init__(self, config):
        from nst.grading import remote

        self.remote = remote.session()
        sys.meta_path.insert(0, _NoSolutions(("solutions", "assignment") if self.remote else ("solutions",)))
        path = config.getoption("--nst-report")
        try:
            with open(f"{path}.token") as f:
                self.token = f.read().strip()
            os.unlink(f"{path}.token")
        except OSError:
            self.token = ""                  # the grader then ignores every line
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.collect = config.getoption("--nst-collect")
        self.phases: dict[str, list] = {}
        self.faults: dict[str, str] = {}       # nodeid -> the grader's failure that ended a phase (blame)
        self.tampered: set[str] = set()
        from nst.grading.guard import Guard

        imports = [m for m in config.getoption("--nst-guard").split(",") if m]
        self.guard = Guard(imports, test_dir=Path(str(config.rootpath)) / "tests")

    def emit(self, **event) -> None:
        event["token"] = self.token
        os.write(self.fd, (json.dumps(event) + "\n").encode())

    def check(self) -> None:
        new = [name for name in self.guard.changed() if name not in self.tampered]
        if new:
            self.tampered.update(new)
            self.emit(event="tamper", what=new)

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.emit(event="collect_error", path=report.nodeid, reason=_reason(report),
                      output=str(report.longrepr)[-OUTPUT_CHARS:])

    def pytest_collection_finish(self, session) -> None:
        self.check()                      # the test modules are imported now: watch them too
        if self.collect:
            for item in session.items:
                mark = item.get_closest_marker("graded")
                if mark is not None:
                    self.emit(event="item", nodeid=item.nodeid, points=mark.kwargs.get("points"),
                              part=mark.kwargs.get("part"))

    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.phases[nodeid] = []
        self.emit(event="start", nodeid=nodeid)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        yield
        if call.excinfo is not None:
            from nst.grading import blame

            e = call.excinfo.value
            if blame.judge_fault(e):
                text = str(e) if getattr(e, "nst_grader_fault", None) else f"{type(e).__name__}: {e}"
                self.faults.setdefault(item.nodeid, one_line(text))

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or report.failed:
            self.check()
        self.phases.setdefault(report.nodeid, []).append(report)

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        seen: list[str] = []
        if self.remote is not None:
            try:
                self.remote.end_test()        # the test's worker and all it started are gone now
            except Exception as e:  # noqa: BLE001 - the zygote failed to stop it: the grader's, not this test's
                self.remote.faults.append(f"the grader's sandbox failed to stop the test's worker ({e})")
            seen, self.remote.faults[:] = list(self.remote.faults), []
        reports = self.phases.pop(nodeid, [])
        bad = next((r for r in reports if r.failed), None) or next((r for r in reports if r.skipped), None)
        fault = self.faults.pop(nodeid, None) or (seen[0] if seen else None)
        if fault is not None:                 # the grader failed during this test: not scored, either way
            self.emit(event="result", nodeid=nodeid, status="grading-error", reason=fault,
                      output=bad.longreprtext[-OUTPUT_CHARS:] if bad is not None else "")
        elif bad is not None:
            status = "skipped" if bad.skipped else ("failed" if bad.when == "call" else "error")
            if _reason(bad).startswith(("WorkerCrashed", "nst.grading.remote.WorkerCrashed")):
                status = "crashed"
            self.emit(event="result", nodeid=nodeid, status=status, reason=_reason(bad),
                      output=bad.longreprtext[-OUTPUT_CHARS:])
        elif any(r.when == "call" and r.passed for r in reports):
            self.emit(event="result", nodeid=nodeid, status="passed", reason="", output="")
        else:
            self.emit(event="result", nodeid=nodeid, status="grading-error", reason="the test did not run", output="")

    def pytest_sessionfinish(self, session) -> None:
        self.check()
        self.emit(event="done")
