"""A student's ``submission.zip`` (``nst course submit``) and its inverse for the autograder.

The zip holds::

    assignment/<module>.py            the student's code (every module of assignment/)
    runs/<run>/final.png              the result of each run
    runs/<run>/loss_curves.png        its loss curves, drawn from the run's TensorBoard events
    runs/<run>/settings.json          the settings the run used
    manifest.json                     sha256 of every file above, and the TODOs left

A run is a folder ``outputs/<run>/`` written by ``nst stylize`` (or the part 1 notebook) with
``final.png``, ``settings.json`` and ``logs/`` holding TensorBoard event files.
Nothing is written unless every part is there; a stub still raising its TODO is refused
unless ``allow_incomplete`` (the student then knowingly hands in partial work).
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from nst.errors import NstError

TODO_RAISE = re.compile(r"""raise NotImplementedError\(\s*(["'])(?P<todo>TODO.*?)\1""")
PART = re.compile(r"^[rRuU]?(?:\"{3}|'{3})\s*Part (\d+)\b")  # a docstring starting "Part 1, step 2: ..."
RUN_FILES = ("final.png", "settings.json")


@dataclass
class Submission:
    path: Path
    files: list[str]
    todos: list[str] = field(default_factory=list)


def module_part(path: Path) -> int | None:
    """The part a module belongs to, from its docstring's first words ("Part 2, step 1: ..."); None if unsaid."""
    for line in path.read_text().splitlines()[:5]:
        match = PART.match(line.strip())
        if match:
            return int(match.group(1))
    return None


def unfinished_todos(modules: list[Path]) -> list[str]:
    """"<file>:<line>: <TODO text>" for every stub line still raising ``NotImplementedError("TODO ...")``."""
    found = []
    for path in modules:
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            match = TODO_RAISE.search(line)
            if match and not line.lstrip().startswith("#"):
                found.append(f"{path.name}:{lineno}: {match.group('todo')}")
    return found


def find_runs(outputs: Path) -> list[Path]:
    """Run folders directly under ``outputs/`` that hold a ``final.png``."""
    if not outputs.is_dir():
        return []
    return sorted(p for p in outputs.iterdir() if p.is_dir() and (p / "final.png").is_file())


def missing_in_run(run: Path) -> list[str]:
    """What a run folder lacks: final.png, settings.json, TensorBoard events under logs/."""
    missing = [name for name in RUN_FILES if not (run / name).is_file()]
    if not any((run / "logs").rglob("events.out.tfevents.*")):
        missing.append("logs/ with TensorBoard events")
    return missing


def _check_code(assignment: Path, part: int | None) -> list[Path]:
    modules = sorted(p for p in assignment.glob("*.py") if p.name != "__init__.py")
    if not modules:
        raise NstError(f"{assignment}: no assignment/*.py to submit (run this in your project folder or give --root)")
    if part is not None:
        modules = [p for p in modules if module_part(p) in (part, None)]
        if not modules:
            raise NstError(f"{assignment}: no module belongs to part {part}")
    for path in modules:
        try:
            compile(path.read_text(), str(path), "exec")
        except SyntaxError as e:
            raise NstError(f"{path}:{e.lineno}: syntax error ({e.msg}); fix it before submitting") from None
    return modules


def _runs(root: Path, runs: list[Path] | None) -> list[Path]:
    if runs is None:
        runs = find_runs(root / "outputs")
        if not runs:
            raise NstError(f"no finished run: {root / 'outputs'} has no folder with final.png; "
                           "run `nst stylize` (or the part 1 notebook) first, or name runs with --runs")
    for run in runs:
        if not run.is_dir():
            raise NstError(f"{run}: no such run folder")
    names = [run.name for run in runs]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise NstError(f"two runs are named {duplicate!r}; give folders with different names")
    problems = [f"{run}: missing {', '.join(missing)}" for run in runs if (missing := missing_in_run(run))]
    if problems:
        raise NstError("; ".join(problems))
    return runs


def make_submission(root: Path, output: Path, runs: list[Path] | None = None,
                    allow_incomplete: bool = False, part: int | None = None) -> Submission:
    """Check everything, then write ``output`` atomically; see the module docstring.

    ``part``: hand in only the modules of that part (their docstring starts "Part N"), so the stubs
    of later parts do not count as unfinished work.
    """
    from nst.images import write_atomic
    from nst.summaries import plot_loss_curves

    assignment = root / "assignment"
    if not assignment.is_dir():
        raise NstError(f"{assignment}: not found (run this in your project folder or give --root)")
    modules = _check_code(assignment, part)
    todos = unfinished_todos(modules)
    if todos and not allow_incomplete:
        more = f" and {len(todos) - 1} more" if len(todos) > 1 else ""
        parts = sorted({n for m in modules if (n := module_part(m)) is not None})
        hint = f", hand in one part with --part {parts[0]}" if part is None and len(parts) > 1 else ""
        raise NstError(f"not implemented yet: {todos[0]}{more}; finish them{hint}, or pass --allow-incomplete "
                       "to hand in partial work")
    runs = _runs(root, runs)

    entries: dict[str, bytes] = {f"assignment/{p.name}": p.read_bytes() for p in modules}
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            curves = plot_loss_curves(run / "logs", Path(tmp) / f"{run.name}.png")
            entries[f"runs/{run.name}/loss_curves.png"] = curves.read_bytes()
            for name in RUN_FILES:
                entries[f"runs/{run.name}/{name}"] = (run / name).read_bytes()
    manifest = {"files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(entries.items())},
                "part": part, "todos_left": todos}
    entries["manifest.json"] = json.dumps(manifest, indent=2).encode()

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), entries[name],
                        compress_type=zipfile.ZIP_DEFLATED)
    write_atomic(output, buf.getvalue())
    return Submission(output, sorted(entries), todos)


# ---------------------------------------------------------------- the autograder's side
def _candidates(source: Path) -> dict[str, bytes | Path]:
    """{relative POSIX path: file} of a submission folder, looking inside any zip it holds (not extracted)."""
    found: dict[str, bytes | Path] = {}
    paths = [source] if source.is_file() else sorted(source.rglob("*"))
    for path in paths:
        if path.is_symlink() or not path.is_file():
            continue
        rel = path.name if path == source else path.relative_to(source).as_posix()
        if path.suffix == ".zip":
            try:
                with zipfile.ZipFile(path) as zf:
                    for info in zf.infolist():
                        if not info.is_dir() and info.file_size < 10_000_000:
                            found[f"{rel}/{info.filename}"] = zf.read(info)
            except zipfile.BadZipFile:
                continue
        else:
            found[rel] = path
    return found


def install_submission(source: Path, into: Path) -> tuple[list[str], list[str]]:
    """Copy the submitted ``<module>.py`` files over the stubs in ``into`` (an assignment folder).

    ``source`` is a folder or a zip holding the modules flat, in an ``assignment/`` folder, or in a
    zip made by ``nst course submit``. Only names of modules that ``into`` already has are taken
    (``__init__.py`` never); for each the candidate in an ``assignment/`` folder wins, then the
    shallowest. Returns (installed, not submitted): a module not submitted keeps its stub.
    """
    from nst.images import write_atomic

    if not source.exists():
        raise NstError(f"{source}: no such submission")
    if not into.is_dir():
        raise NstError(f"{into}: no such assignment folder")
    wanted = sorted(p.name for p in into.glob("*.py") if p.name != "__init__.py")
    candidates = _candidates(source)
    installed, absent = [], []
    for name in wanted:
        matches = [rel for rel in candidates if rel.rsplit("/", 1)[-1] == name]
        if not matches:
            absent.append(name)
            continue
        best = min(matches, key=lambda rel: (not rel.endswith(f"assignment/{name}"), rel.count("/"), rel))
        data = candidates[best]
        write_atomic(into / name, data.read_bytes() if isinstance(data, Path) else data)
        installed.append(name)
    return installed, absent
