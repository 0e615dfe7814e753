"""What a grading produces: the table on the terminal, Gradescope's results.json, the batch CSV."""
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


def table(grade: Grade) -> str:
    """Test, points earned/possible, status, one-line reason; then the total."""
    label = names([r.test for r in grade.results])
    rows = [("test", "points", "status", "reason")]
    for r in grade.results:
        name = label[r.test.nodeid] + (" (hidden)" if r.test.hidden else "")
        rows.append((name, f"{_pts(r.earned)}/{_pts(r.test.points)}", r.status, r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in rows]
    lines.insert(1, "-" * (sum(widths) + 12))
    lines += part_lines(grade)
    lines.append(f"Total: {_pts(grade.total)}/{_pts(grade.max_total)}  ({grade.submission}, {grade.seconds:.0f} s)")
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
    counts = Counter(r.status for r in results)
    parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    earned, possible = sum(r.earned for r in results), sum(r.test.points for r in results)
    hidden = len(grade.results) - len(results)
    more = [f"{hidden} hidden test(s) are graded too; their points appear after the due date."] if hidden else []
    return "\n".join([f"Score {_pts(earned)}/{_pts(possible)} ({parts})."] + more + grade.notes)


def gradescope(grade: Grade) -> dict:
    """Gradescope's results format; hidden tests (tests/hidden/) are visible after the due date, and their
    points are in neither the top-level output nor a top-level score before it."""
    label = names([r.test for r in grade.results])
    tests = []
    for r in grade.results:
        text = "passed" if r.status == "passed" else f"{r.status}: {r.reason}"
        if r.output:
            text += "\n\n" + r.output[-OUTPUT_CHARS:]
        tests.append({"name": f"part {r.test.part}: {label[r.test.nodeid]}", "score": r.earned,
                      "max_score": r.test.points, "status": "passed" if r.status == "passed" else "failed",
                      "output": text, "visibility": "after_due_date" if r.test.hidden else "visible"})
    out = {"execution_time": round(grade.seconds, 1), "output": summary(grade, visible_only=True),
           "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    if not any(r.test.hidden for r in grade.results):
        out["score"] = grade.total     # with hidden tests Gradescope sums the tests' scores itself,
    return out                         # showing each hidden one only after the due date


def write_json(path: Path, grade: Grade) -> Path:
    from nst.images import write_atomic

    return write_atomic(path, json.dumps(gradescope(grade), indent=2) + "\n")


def write_csv(path: Path, grades: list[Grade], catalog: list[GradedTest]) -> Path:
    """One row per submission: submission, total, max, the points of every test, notes."""
    from nst.images import write_atomic

    label = names(catalog)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["submission", "total", "max"] + [label[t.nodeid] for t in catalog] + ["notes"])
    for g in grades:
        earned = {r.test.nodeid: r.earned for r in g.results}
        writer.writerow([g.submission, _pts(g.total), _pts(g.max_total)]
                        + [_pts(earned.get(t.nodeid, 0.0)) for t in catalog] + ["; ".join(g.notes)])
    return write_atomic(path, out.getvalue())
