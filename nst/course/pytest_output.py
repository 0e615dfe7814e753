"""pytest plugin for students' runs (``-p nst.course.pytest_output`` in pyproject.toml's addopts).

A first ``python -m pytest`` on the stubs fails every graded test; this keeps that readable:

* tests run part 1 first, then part 2, then part 3 (the graded marker's ``part``; modules stay whole);
* a test that stops on a stub's ``NotImplementedError("TODO n: ...")`` reports two lines instead
  of a traceback: ``TODO n not written yet: assignment/<file>.py:<line>`` and the stub's message;
* numpy prints at most a few numbers of each array in a failed comparison (no array dumps);
* TensorFlow's start-up lines are dropped (:func:`nst.runtime.quiet_tensorflow`);
* the end of the run lists the TODOs still to do, one per line within 80 columns, in order:
  ``TODO 1  load_vgg.py:VGG.conv2d_relu  (1 test)``.

The grader (``nst grade``) runs pytest with its own ini file and never loads this plugin.
"""
from __future__ import annotations

import re

import pytest

TODO = re.compile(r"^TODO (?P<n>\d+)\b:?\s*(?P<what>.*?)\s*(?:\((?P<where>[^()]*)\))?$", re.S)
WIDTH = 79
KEY = pytest.StashKey[dict]()


def pytest_configure(config) -> None:
    import numpy as np

    from nst.runtime import quiet_tensorflow

    quiet_tensorflow(announce=False)  # no absl/oneDNN/CUDA-probe lines when a test imports TensorFlow

    np.set_printoptions(threshold=24, edgeitems=2, precision=5, linewidth=76)
    config.stash[KEY] = {}


def _part(item) -> int:
    mark = item.get_closest_marker("graded")
    return int(mark.kwargs.get("part", 0)) if mark is not None else 0


def pytest_collection_modifyitems(session, config, items) -> None:
    """Stable sort by module, ranking each module by the lowest graded part in it (ungraded modules: 0)."""
    rank: dict[str, int] = {}
    for item in items:
        part = _part(item)
        module = item.nodeid.split("::", 1)[0]
        if part:
            rank[module] = min(rank.get(module, part), part)
    items[:] = sorted(items, key=lambda item: rank.get(item.nodeid.split("::", 1)[0], 0))


def _stub_frame(excinfo) -> str:
    """"assignment/load_vgg.py:41" for the innermost frame in assignment/, else the innermost frame."""
    entries = list(excinfo.traceback)
    inside = [e for e in entries if "/assignment/" in str(e.path).replace("\\", "/")] or entries[-1:]
    if not inside:
        return "?"
    entry = inside[-1]
    path = str(entry.path).replace("\\", "/")
    short = "assignment/" + path.rsplit("/assignment/", 1)[1] if "/assignment/" in path else path
    return f"{short}:{entry.lineno + 1}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    excinfo = call.excinfo
    if excinfo is None or not report.failed or not excinfo.errisinstance(NotImplementedError):
        return
    match = TODO.match(str(excinfo.value).strip())
    if match is None:
        return
    where = _stub_frame(excinfo)
    # First line (what the short summary shows): the TODO's number first, so it fits 80 columns.
    report.longrepr = f"TODO {match['n']} not written yet: {where}\nNotImplementedError: {excinfo.value}"
    todos = item.config.stash.get(KEY, {})
    n = int(match["n"])
    entry = todos.setdefault((_part(item), n, match["where"] or where), {"what": match["what"], "tests": 0})
    entry["tests"] += 1


def _fit(text: str) -> str:
    return text if len(text) <= WIDTH else text[:WIDTH - 3] + "..."


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    todos = config.stash.get(KEY, {})
    if not todos:
        return
    terminalreporter.section("TODOs not written yet (do them in this order)", sep="=")
    for (part, n, where), entry in sorted(todos.items()):
        tests = f"{entry['tests']} test{'s' if entry['tests'] != 1 else ''}"
        label = f"part {part} " if part else ""
        terminalreporter.write_line(_fit(f"{label}TODO {n}  {where}  ({tests}): {entry['what']}"))
    terminalreporter.write_line(_fit("A stub raises NotImplementedError until you write it; "
                                     "the handout in README.md says how."))
