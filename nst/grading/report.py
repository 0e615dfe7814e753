"""What a grading produces: the table on the terminal, Gradescope's results.json, the batch CSV.

An incomplete grade (a test the grader failed on: ``grading-error``, see ``blame``) is never shown
as a score: the table ends with "grading error: ...; no score", the CSV leaves its cells empty, and
results.json carries no score at all, which Gradescope shows as a failed autograder run.
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

from nst.grading.runner import Grade, GradedTest

OUTPUT_CHARS = 4000


def names(catalog: list[GradedTest]) -> dict[str, str]:
    """Short display names: the test function, or file::function where two files share one."""
    short = {t.nodeid: t.nodeid.split("::", 1)[-1] for t in catalog}
    counts = Counter(short.values())
    return {n: (s if counts[s] == 1 else n.removeprefix("tests/")) for n, s in short.items()}


def _pts(x: float) -> str:
    return f"{x:g}"


def _earned(r) -> str:
    return _pts(r.earned) if r.graded else "-"


def ungraded_line(grade: Grade) -> str:
    """'grading error: N test(s) could not be graded (first reason); no score'."""
    bad = grade.ungraded
    return f"grading error: {len(bad)} test(s) could not be graded ({bad[0].reason or 'no reason given'}); no score"


def table(grade: Grade) -> str:
    """Test, points earned/possible, status, one-line reason; then the total (or why there is none)."""
    label = names([r.test for r in grade.results])
    rows = [("test", "points", "status", "reason")]
    for r in grade.results:
        name = label[r.test.nodeid] + (" (hidden)" if r.test.hidden else "")
        rows.append((name, f"{_earned(r)}/{_pts(r.test.points)}", r.status, r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in rows]
    lines.insert(1, "-" * (sum(widths) + 12))
    lines += part_lines(grade)
    if grade.complete:
        lines.append(f"Total: {_pts(grade.total)}/{_pts(grade.max_total)}  ({grade.submission}, {grade.seconds:.0f} s)")
    else:
        lines.append(f"{ungraded_line(grade)}  ({grade.submission}, {grade.seconds:.0f} s)")
    lines += [f"note: {n}" for n in grade.notes]
    return "\n".join(line.rstrip() for line in lines)


def _not_started(reason: str) -> bool:
    return "NotImplementedError" in reason and "TODO" in reason


def part_lines(grade: Grade) -> list[str]:
    """"Part 1: 100/100", "Part 2: 0/100, not started (every test stops at a TODO)": one line per part graded."""
    lines = []
    for part in sorted({r.test.part for r in grade.results}):
        results = [r for r in grade.results if r.test.part == part]
        earned, possible = sum(r.earned for r in results), sum(r.test.points for r in results)
        ungraded = sum(not r.graded for r in results)
        if ungraded:
            lines.append(f"Part {part}: incomplete, {ungraded} test(s) could not be graded")
            continue
        if all(r.status != "passed" and _not_started(r.reason) for r in results):
            state = ", not started (every test stops at a TODO)"
        elif earned == possible:
            state = ", complete"
        else:
            todo = sum(r.status != "passed" and _not_started(r.reason) for r in results)
            state = f", {todo} test(s) still stop at a TODO" if todo else ""
        lines.append(f"Part {part}: {_pts(earned)}/{_pts(possible)}{state}")
    return lines


def summary(grade: Grade, visible_only: bool = False) -> str:
    """'Score x/y (n passed, ...).' and the notes; ``visible_only``: hidden tests are left out of both."""
    results = [r for r in grade.results if not (visible_only and r.test.hidden)]
    if not grade.complete:
        return "\n".join([f"The autograder failed on this submission: {ungraded_line(grade)}. This is not a "
                          f"grade and not a failure of your code; the course staff will regrade it."] + grade.notes)
    counts = Counter(r.status for r in results)
    parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    earned, possible = sum(r.earned for r in results), sum(r.test.points for r in results)
    hidden = len(grade.results) - len(results)
    more = [f"{hidden} hidden test(s) are graded too; their points appear after the due date."] if hidden else []
    return "\n".join([f"Score {_pts(earned)}/{_pts(possible)} ({parts})."] + more + grade.notes)


def gradescope(grade: Grade) -> dict:
    """Gradescope's results format; hidden tests (tests/hidden/) are visible after the due date, and their
    points are in neither the top-level output nor a top-level score before it.

    An incomplete grade has no score anywhere (neither top-level nor per test): Gradescope's spec
    requires one or the other, so it shows the run as a failed autograder run (``nst grade`` also
    exits with status 3), with ``output`` saying why, instead of a score of 0."""
    label = names([r.test for r in grade.results])
    tests = []
    for r in grade.results:
        text = "passed" if r.status == "passed" else f"{r.status}: {r.reason}"
        if r.output:
            text += "\n\n" + r.output[-OUTPUT_CHARS:]
        test = {"name": f"part {r.test.part}: {label[r.test.nodeid]}", "max_score": r.test.points,
                "output": text, "visibility": "after_due_date" if r.test.hidden else "visible"}
        if grade.complete:
            test.update(score=r.earned, status="passed" if r.status == "passed" else "failed")
        tests.append(test)
    out = {"execution_time": round(grade.seconds, 1), "output": summary(grade, visible_only=True),
           "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    if grade.complete and not any(r.test.hidden for r in grade.results):
        out["score"] = grade.total     # with hidden tests Gradescope sums the tests' scores itself,
    return out                         # showing each hidden one only after the due date


def write_json(path: Path, grade: Grade) -> Path:
    from nst.images import write_atomic

    return write_atomic(path, json.dumps(gradescope(grade), indent=2) + "\n")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ TAB or CR gets a leading '
    (OWASP's rule against CSV injection); the quoting itself is the csv module's."""
    return "'" + value if value.startswith(FORMULA_START) else value


def write_csv(path: Path, grades: list[Grade], catalog: list[GradedTest]) -> Path:
    """One row per submission: submission, status (graded, grading-error, unreadable), total, max, the
    points of every test, notes. A test the grader failed on has an empty cell, and an incomplete
    grade an empty total: no number stands for points that were not graded."""
    from nst.images import write_atomic

    label = names(catalog)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["submission", "status", "total", "max"] + [label[t.nodeid] for t in catalog] + ["notes"]
    writer.writerow([cell(h) for h in header])
    for g in grades:
        results = {r.test.nodeid: r for r in g.results}
        points = [_pts(results[t.nodeid].earned) if t.nodeid in results and results[t.nodeid].graded else ""
                  for t in catalog]
        notes = g.notes if g.complete else [ungraded_line(g)] + g.notes
        writer.writerow([cell(str(x)) for x in [g.submission, g.status, _pts(g.total) if g.complete else "",
                                                _pts(g.max_total), *points, "; ".join(notes)]])
    return write_atomic(path, out.getvalue())
