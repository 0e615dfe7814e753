"""``nst grade --self-check``: prove the graded tests grade.

Expectations, each graded in its own process like a submission:

* ``solutions/`` scores full marks;
* the untouched stubs (generated from ``solutions/``) score 0, every failure naming its TODO;
* every planted bug in ``tests/planted/*.yaml`` loses the points of each test in its ``catches``
  (only those tests are run on it, which keeps the self-check to a few minutes on 2 cores);
* every graded test of the selected parts is in some bug's ``catches`` (a test no bug targets
  has never been seen to fail on a wrong answer).

A planted bug is a one-place text replacement in a copy of a solution file::

    - name: short-name-of-the-bug
      description: what a student might get wrong
      file: style_transfer.py
      find: "<an exact piece of the solution, found once>"
      replace: "<the same piece, with the bug>"
      catches: [test_that_should_catch_it]

``find`` must occur exactly once, so a bug that no longer applies is reported, not skipped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from nst.errors import NstError
from nst.grading.batch import run_parallel, safe_grade
from nst.grading.runner import Course, Grade, GradedTest, Settings, collect, select
from nst.grading.workspace import IGNORED_MODULES

PLANTED = "tests/planted"
KEYS = {"name", "description", "file", "find", "replace", "catches"}


@dataclass(frozen=True)
class Bug:
    name: str
    description: str
    file: str
    find: str
    replace: str
    catches: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    run: str
    expectation: str
    score: str
    ok: bool
    detail: str


def load_bugs(root: Path) -> list[Bug]:
    import yaml

    bugs = []
    for path in sorted((root / PLANTED).glob("*.yaml")):
        entries = yaml.safe_load(path.read_text()) or []
        for n, entry in enumerate(entries if isinstance(entries, list) else [None], 1):
            if not isinstance(entry, dict) or set(entry) != KEYS or not entry["catches"]:
                raise NstError(f"{path.name}: entry {n} needs exactly the keys {', '.join(sorted(KEYS))}")
            bugs.append(Bug(**{**entry, "catches": tuple(entry["catches"])}))
    names = [b.name for b in bugs]
    if len(set(names)) != len(names):
        raise NstError(f"{PLANTED}: planted bug names must be unique")
    return bugs


def plant(bug: Bug, solutions: dict[str, bytes]) -> dict[str, bytes]:
    text = solutions.get(bug.file, b"").decode()
    count = text.count(bug.find)
    if count != 1:
        raise NstError(f"planted bug {bug.name}: the text to replace occurs {count} times in solutions/{bug.file}")
    return {**solutions, bug.file: text.replace(bug.find, bug.replace).encode()}


def matching(name: str, catalog: list[GradedTest]) -> list[GradedTest]:
    """Tests named ``name``: a node id, its ending after '::', or a parametrized test's base name."""
    return [t for t in catalog if t.nodeid == name or t.nodeid.endswith("::" + name)
            or t.nodeid.split("::")[-1].split("[")[0] == name]


def _expect_coverage(catalog: list[GradedTest], bugs: list[Bug]) -> Check:
    """Every graded test in ``catalog`` is named in the ``catches`` of at least one planted bug."""
    covered = {t.nodeid for b in bugs for c in b.catches for t in matching(c, catalog)}
    bare = list(dict.fromkeys(t.nodeid.split("::")[-1].split("[")[0] for t in catalog if t.nodeid not in covered))
    return Check("coverage", "a planted bug for every graded test", f"{len(catalog) - len(bare)}/{len(catalog)}",
                 not bare, "no planted bug catches: " + ", ".join(bare) if bare else "")


def _expect_full(g: Grade) -> Check:
    lost = [r.test.nodeid.split("::")[-1] for r in g.results if r.status != "passed"]
    return Check(g.submission, "full marks", f"{g.total:g}/{g.max_total:g}", not lost,
                 "lost: " + ", ".join(lost) if lost else "")


def _expect_zero(g: Grade) -> Check:
    passed = [r.test.nodeid.split("::")[-1] for r in g.results if r.status == "passed"]
    silent = [r.test.nodeid.split("::")[-1] for r in g.results
              if r.status != "passed" and "TODO" not in r.reason + r.output]
    detail = ("passes: " + ", ".join(passed) if passed else
              "fails without naming a TODO: " + ", ".join(silent) if silent else "")
    return Check(g.submission, "0, each failure names its TODO", f"{g.total:g}/{g.max_total:g}",
                 not passed and not silent, detail)


def _expect_caught(g: Grade) -> Check:
    missed = [r.test.nodeid.split("::")[-1] for r in g.results if r.status == "passed"]
    ungraded = [r.test.nodeid.split("::")[-1] for r in g.ungraded]    # a grading error catches nothing
    names = ", ".join(r.test.nodeid.split("::")[-1] for r in g.results)
    detail = "still passes: " + ", ".join(missed) if missed else \
        "grading error in: " + ", ".join(ungraded) if ungraded else "; ".join(
            f"{r.test.nodeid.split('::')[-1]}: {r.reason}" for r in g.results)
    missed += ungraded
    return Check(g.submission, f"loses {names}", f"{g.total:g}/{g.max_total:g}", not missed, detail)


def self_check(root: Path, part: int | None, settings: Settings, jobs: int) -> tuple[list[Check], float]:
    """Run every expectation (in parallel); return the checks and the wall time."""
    start = time.monotonic()
    if not (root / "solutions").is_dir():
        raise NstError(f"--self-check needs solutions/ (an instructor checkout); not found in {root}")
    course = Course.load(root)
    full = collect(course, settings)
    catalog = select(full, part)
    if not catalog:
        raise NstError(f"no graded tests for part {part}")
    solutions = {p.name: p.read_bytes() for p in sorted((root / "solutions").glob("*.py"))
                 if p.name not in IGNORED_MODULES}
    run = partial(safe_grade, course, settings=settings)
    tasks = {"solutions": partial(run, "solutions", solutions, catalog=catalog),
             "stubs": partial(run, "stubs", {}, catalog=catalog)}
    checks: list[Check] = []
    targets: dict[str, list[GradedTest]] = {}
    bugs = load_bugs(root)
    for bug in bugs:
        unknown = [c for c in bug.catches if not matching(c, full)]
        if unknown:
            checks.append(Check(f"planted:{bug.name}", "", "-", False, f"no graded test named {unknown[0]}"))
            continue
        targets[bug.name] = list(dict.fromkeys(t for c in bug.catches for t in matching(c, catalog)))
        if not targets[bug.name]:
            continue                                   # its tests are in another part
        try:
            # only the tests meant to catch it: one lean process per bug keeps the self-check fast
            tasks[f"planted:{bug.name}"] = partial(run, f"planted:{bug.name}", plant(bug, solutions),
                                                   catalog=targets[bug.name])
        except NstError as e:
            checks.append(Check(f"planted:{bug.name}", "", "-", False, str(e)))
    done = run_parallel(tasks, jobs, "self-check")
    checks.insert(0, _expect_full(done.pop("solutions")))
    checks.insert(1, _expect_zero(done.pop("stubs")))
    checks.insert(2, _expect_coverage(catalog, bugs))
    checks += [_expect_caught(done[label]) for label in tasks if label in done]
    return checks, time.monotonic() - start


def table(checks: list[Check], seconds: float) -> str:
    rows = [("run", "score", "expected", "result", "detail")]
    rows += [(c.run, c.score, c.expectation, "ok" if c.ok else "FAIL", c.detail) for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    bad = sum(not c.ok for c in checks)
    lines.append(f"self-check: {len(checks) - bad}/{len(checks)} expectations met in {seconds:.0f} s")
    return "\n".join(line.rstrip() for line in lines)
