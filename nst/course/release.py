"""Build the two course releases from the repository: the student zip and the Gradescope autograder zip.

* **student** (``nst-student.zip``, one top folder ``nst-student/``): ``assignment/`` (the stubs), the
  package (``nst/``, ``benchmarks/``, ``conf/``), what graded runs read under ``tests/`` (graded test
  files, conftest, helpers, the sha256 manifest, ``reference/``), ``styles/``, ``content/``,
  ``notebooks/``, part 2's demo model, the two tools ``nst data setup`` runs and ``styles/.gitignore``,
  ``pyproject.toml``, and as ``README.md`` the student README
  (``nst/course/student_readme.md``: install, tests, the handouts, notebooks, grading, submitting);
  not ``docs/`` (pages for instructors) nor the repository's README (the instructors').
* **gradescope** (``nst-gradescope[-partN].zip``, flat: Gradescope unpacks it into ``/autograder/source``):
  the same without notebooks and docs, plus ``tests/hidden/``, ``setup.sh`` and ``run_autograder``.

Neither ever holds ``solutions/`` or the planted bugs (``tests/planted/``). Before the student zip is
written, every text file bound for it is scanned for the code of the solution blocks (:func:`find_leaks`);
one hit and the release is refused, naming the file and the line. Both refuse a stale ``assignment/``
and tests that do not match ``tests/manifest.sha256`` (the grader would refuse them).
Zips are deterministic (sorted entries, fixed timestamps): the same tree gives the same bytes.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from nst.course import stubs
from nst.errors import NstError

# Paths (relative, POSIX) never shipped in any release: the reference code and anything derived from it.
NEVER = ("solutions/", "tests/hidden/", "tests/planted/")
JUNK = re.compile(r"(^|/)(__pycache__|\.ipynb_checkpoints|\.pytest_cache|[^/]*\.egg-info)(/|$)|\.py[co]$|(^|/)\.")
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".txt", ".sh", ".toml", ".cfg", ".ini", ".json", ".yaml", ".yml", ""}
REQUIRED = ("pyproject.toml", "nst", "assignment", "tests/conftest.py")
EXPECTED = ("README.md", "styles", "content", "notebooks")
STUDENT_README = "nst/course/student_readme.md"   # the student zip's README.md (the repository's is the instructors')
STUDENT_MODELS = ("models/stained_glass_demo.npz",)  # part 2's demo model, which the student README uses
STUDENT_LEFT_OUT = {STUDENT_README}                  # packed once, as README.md
# named by shipped files (nst data setup runs the tools; styles/README.md names the .gitignore): shipped too
STUDENT_EXTRAS = ("tools/make_styles.py", "tools/export_content.py", "styles/.gitignore")
MIN_LINE = 16  # shorter solution lines ("return out") are too generic to prove a leak
MIN_CORE = 30  # a solution line's expression this long is recognised anywhere, even quoted in a string
TARGET = re.compile(r"^(return\s+|[\w\s,.\[\]]+?(?<![=!<>])=(?!=)\s*)")

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope entry point: put the student's files into assignment/, grade, write results/results.json.
# AUTOGRADER_ROOT (default /autograder) lets a local copy of Gradescope's layout run the same script.
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{PYTHON:-python3}}"
cd "$ROOT/source"
mkdir -p "$ROOT/results"
"$PYTHON" -m nst course install-submission "$ROOT/submission" --into assignment
exec "$PYTHON" -m nst grade{grade_args} --json "$ROOT/results/results.json"
"""

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope image set-up (runs once, with network): the package, its test extras, the VGG19 weights.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install --upgrade pip
"$PYTHON" -m pip install -e ".[test]"
"$PYTHON" -m nst weights fetch vgg19
"""


@dataclass
class Release:
    path: Path
    files: list[str]          # names inside the zip
    missing: list[str]        # expected parts (README, styles...) that the repository lacks
    leaks: list[str] = field(default_factory=list)  # gradescope only: solution code found (students never see it)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _walk(root: Path, top: str) -> list[str]:
    base = root / top
    if base.is_file():
        return [top]
    return sorted(_rel(p, root) for p in base.rglob("*") if p.is_file())


def _excluded(rel: str) -> bool:
    return bool(JUNK.search(rel)) or rel.startswith(NEVER)


def graded_tests(root: Path) -> list[str]:
    """What graded runs read under tests/ (the grader's manifest covers the same): the ``test_*.py`` that use
    ``pytest.mark.graded``, every other file directly in tests/ (conftest, helpers, manifest), tests/reference/."""
    tests = root / "tests"
    files = [_rel(p, root) for p in tests.iterdir() if p.is_file()
             and (not p.name.startswith("test_") or "mark.graded" in p.read_text(errors="replace"))]
    return sorted(files) + ["tests/reference"]


def solution_blocks(solutions: Path) -> dict[str, set[str]]:
    """{"file:line TODO text": code lines} for every BEGIN/END SOLUTION block in ``solutions/``.

    A block's lines are stripped; comments, lines shorter than ``MIN_LINE`` characters and lines
    that also occur outside the blocks (given code) are left out: they prove nothing.
    """
    blocks: dict[str, set[str]] = {}
    outside: set[str] = set()
    for path in stubs.solution_files(solutions):
        current = None
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            text = line.strip()
            begin = stubs.BEGIN.match(line)
            if begin:
                current = blocks.setdefault(f"{path.name}:{lineno} ({begin.group('todo') or 'solution'})", set())
            elif stubs.END.match(line):
                current = None
            elif current is not None:
                if len(text) >= MIN_LINE and not text.startswith("#"):
                    current.add(text)
            else:
                outside.add(text)
    return {where: lines - outside for where, lines in blocks.items() if lines - outside}


def _code_lines(text: str) -> dict[str, int]:
    """{stripped line: first line number} of a text file."""
    found: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        found.setdefault(line.strip(), lineno)
    return found


def _text_of(path: Path) -> str | None:
    """A file's text (a notebook's cell sources, one after the other); None for binary files."""
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        return None
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except (ValueError, AttributeError):
            return text
        return "\n".join("".join(cell.get("source", "")) for cell in cells)
    return text


def core(line: str) -> str:
    """A code line without its ``return`` or its assignment target: the expression that solves the TODO."""
    return TARGET.sub("", line, count=1).strip()


def find_leaks(root: Path, files: list[str], solutions: Path) -> list[str]:
    """"<file>:<line> holds the code of solutions/<file>:<line> (TODO)" for each release file that holds
    more than half of the code lines of some solution block (both lines of a two-line block).

    A line counts as held when the file has it (stripped), or has its expression (:func:`core`, if
    ``MIN_CORE`` characters or more) anywhere, even quoted in a string or a YAML file.
    """
    blocks = solution_blocks(solutions)
    leaks = []
    for rel in files:
        if Path(rel).suffix not in TEXT_SUFFIXES:
            continue
        text = _text_of(root / rel)
        if text is None:
            continue
        lines = _code_lines(text)
        unquoted = text.replace('\\"', '"')
        for where, code in blocks.items():
            held = [line for line in code
                    if line in lines or (len(c := core(line)) >= MIN_CORE and c in unquoted)]
            if 2 * len(held) > len(code):
                at = min(lines.get(line) or unquoted.count("\n", 0, unquoted.index(core(line))) + 1 for line in held)
                leaks.append(f"{rel}:{at} holds the code of solutions/{where}")
    return leaks


def stale_report(solutions: Path, assignment: Path) -> list[str]:
    """One line per assignment file out of step with ``solutions/``: missing, different (first line), orphan."""
    problems = []
    expected = stubs.expected_stubs(solutions)
    for name, text in expected.items():
        path = assignment / name
        if not path.is_file():
            problems.append(f"assignment/{name}: missing (generate it from solutions/{name})")
            continue
        have, want = path.read_text().splitlines(), text.splitlines()
        if have != want:
            line = next((i for i, (a, b) in enumerate(zip(have, want), 1) if a != b), min(len(have), len(want)) + 1)
            problems.append(f"assignment/{name}: differs from what solutions/{name} generates, first at line {line}")
        elif path.read_text() != text:
            problems.append(f"assignment/{name}: differs from what solutions/{name} generates (line endings)")
    for path in sorted(assignment.glob("*.py")):
        if path.name not in expected:
            problems.append(f"assignment/{path.name}: no solutions/{path.name} generates it")
    return problems


def _check_tree(root: Path) -> list[str]:
    if not (root / "solutions").is_dir():
        raise NstError(f"{root / 'solutions'}: not found (run from the repository root or give --root)")
    for part in REQUIRED:
        if not (root / part).exists():
            raise NstError(f"{root / part}: missing; a release needs {', '.join(REQUIRED)}")
    stale = stale_report(root / "solutions", root / "assignment")
    if stale:
        more = f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""
        raise NstError(f"{stale[0]}{more}: run `nst course build-assignment` first")
    manifest = root / "tests" / "manifest.sha256"
    if manifest.is_file():  # a test that does not match it makes every grading run refuse to start
        from nst.grading import integrity

        found = integrity.problems(root, integrity.read_manifest(root))
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise NstError(f"{found[0]}{more}: the grader would refuse to grade; run `nst grade --update-manifest`")
    return [part for part in EXPECTED if not (root / part).exists()]


def _write_zip(dest: Path, root: Path, files: list[str], prefix: str, extra: dict[str, str]) -> None:
    from nst.images import write_atomic

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        entries = {rel: (root / rel).read_bytes() for rel in files}
        entries.update({name: text.encode() for name, text in extra.items()})
        for name in sorted(entries):
            info = zipfile.ZipInfo(prefix + name, date_time=(1980, 1, 1, 0, 0, 0))
            executable = name in ("run_autograder", "setup.sh")
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[name])
    write_atomic(dest, buf.getvalue())


def _collect(root: Path, tops: list[str]) -> list[str]:
    files: list[str] = []
    for top in tops:
        if (root / top).exists():
            files += [rel for rel in _walk(root, top) if not _excluded(rel)]
    return sorted(set(files))


def student_release(root: Path, out_dir: Path) -> Release:
    """``<out_dir>/nst-student.zip`` under a top folder ``nst-student/``; see the module docstring."""
    root = root.resolve()
    missing = _check_tree(root)
    tops = ["pyproject.toml", "conftest.py", "LICENSE", "nst", "benchmarks", "conf", "assignment", "styles", "content",
            "notebooks", "outputs/README.md", *STUDENT_MODELS, *graded_tests(root)]  # not docs/: the instructors' pages
    files = [f for f in _collect(root, tops) if f not in STUDENT_LEFT_OUT]
    files = sorted(set(files) | {f for f in STUDENT_EXTRAS if (root / f).is_file()})
    readme = root / STUDENT_README
    if not readme.is_file():  # a course tree without its own: this package's
        readme = Path(__file__).with_name("student_readme.md")
    scanned = files + ([STUDENT_README] if readme == root / STUDENT_README else [])
    leaks = find_leaks(root, scanned, root / "solutions")
    if leaks:
        more = f" (and {len(leaks) - 3} more)" if len(leaks) > 3 else ""
        raise NstError(f"refusing to release solution code: {'; '.join(leaks[:3])}{more}")
    dest = out_dir / "nst-student.zip"
    _write_zip(dest, root, files, "nst-student/", {"README.md": readme.read_text()})
    return Release(dest, sorted(f"nst-student/{f}" for f in files + ["README.md"]), missing)


def gradescope_release(root: Path, out_dir: Path, part: int | None = None) -> Release:
    """``<out_dir>/nst-gradescope[-partN].zip``: the autograder source with setup.sh and run_autograder at its top.

    Students never see it, so solution code found in it is reported (``Release.leaks``), not refused;
    solutions/ and the planted bugs are left out all the same.
    """
    from nst.course.submit import module_part

    root = root.resolve()
    missing = [m for m in _check_tree(root) if m != "notebooks"]
    if part is not None and part not in {module_part(p) for p in stubs.solution_files(root / "solutions")}:
        raise NstError(f"--part {part}: no module of solutions/ belongs to part {part} (its docstring says 'Part N')")
    tops = ["pyproject.toml", "conftest.py", "README.md", "LICENSE", "nst", "benchmarks", "conf", "assignment", "styles", "content",
            *graded_tests(root)]
    files = _collect(root, tops)
    if (root / "tests/hidden").is_dir():
        files = sorted(set(files) | {rel for rel in _walk(root, "tests/hidden") if not JUNK.search(rel)})
    leaks = find_leaks(root, files, root / "solutions")
    grade_args = f" --part {part}" if part is not None else ""
    extra = {"run_autograder": RUN_AUTOGRADER.format(grade_args=grade_args), "setup.sh": SETUP_SH}
    dest = out_dir / (f"nst-gradescope-part{part}.zip" if part is not None else "nst-gradescope.zip")
    _write_zip(dest, root, files, "", extra)
    return Release(dest, sorted(files + list(extra)), missing, leaks)
