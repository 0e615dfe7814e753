"""A student's ``submission_part<N>.zip`` (``nst course submit --part N``; all parts: ``submission.zip``) and its inverse for the autograder.

The zip holds::

    assignment/<module>.py                the student's code (the modules of the part, or all)
    runs/<run>/final.png                  part 1: the result of each run
    runs/<run>/loss_curves.png            its loss curves, drawn from the run's TensorBoard events
    runs/<run>/graph.png                  its step's TensorFlow graph by name scope (nst.graph_picture)
    runs/<run>/settings.json              the settings the run used
    runs/models/<naming>/config.json      part 2: each trained model's settings
    runs/models/<naming>/training_curves.png   its training curves (TensorBoard events)
    runs/models/<naming>/stylized/<image> images stylized with that model
    manifest.json                         sha256 of every file above, the TODOs left, the notes

Which runs: :mod:`nst.course.runs` (``--part N``: that part's only; the latest real run per content
and style, not smoke runs). Nothing is written unless every part is there; a stub still raising
its TODO is refused unless ``allow_incomplete`` (the student then knowingly hands in partial work).
"""
from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from nst.course.todos import TODO_RAISE, module_part
from nst.errors import NstError

RUN_FILES = ("final.png", "settings.json")


@dataclass
class Submission:
    path: Path
    files: list[str]
    todos: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # runs left out, or smoke runs handed in


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
    """What a run folder lacks: final.png, settings.json (part 2: config.json), TensorBoard events under logs/."""
    part2 = (run / "config.json").is_file() and not (run / "final.png").is_file()
    missing = [name for name in (("config.json",) if part2 else RUN_FILES) if not (run / name).is_file()]
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


def _runs(root: Path, given: list[Path] | None, part: int | None,
          picked: list[Path] | None = None) -> tuple[list, list[str]]:
    """The runs to pack (:func:`nst.course.runs.choose`) and notes; NstError if a part's run is missing or bad."""
    from nst.course import runs as runlib

    outputs = root / "outputs"
    if given is not None:
        for run in given:
            if not run.is_dir():
                raise NstError(f"{run}: no such run folder")
        found = [runlib.classify(run, outputs) for run in given]
        chosen, notes = found, []
    else:
        found = [r for r in runlib.find(outputs) if part is None or r.part == part]
        for run in picked or []:
            if not run.is_dir():
                raise NstError(f"--run {run}: no such run folder")
        mine = [runlib.classify(run, outputs) for run in picked or []]
        wrong = next((r for r in mine if part is not None and r.part != part), None)
        if wrong is not None:
            raise NstError(f"--run {wrong.path}: a part {wrong.part} run, not part {part}")
        chosen, notes = runlib.choose(found, mine)
        if not chosen and part != 3:
            what = {1: "run of part 1 (a folder with final.png)", 2: "run of part 2 (outputs/models/<naming>/)"}
            how = {1: "run `nst stylize` (or the part 1 notebook)", 2: "run `nst fast train --config conf/demo_cpu.yml`"}
            parts = [part] if part else [1]
            raise NstError(f"no finished {what[parts[0]]}: {outputs} has none; {how[parts[0]]} first, "
                           "or name runs with --runs")
    names = [f"{r.part}/{r.path.name}" for r in chosen]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise NstError(f"two runs are named {duplicate.split('/', 1)[1]!r}; give folders with different names")
    problems = [f"{r.path}: missing {', '.join(missing)}" for r in chosen if (missing := missing_in_run(r.path))]
    if problems:
        raise NstError("; ".join(problems))
    return chosen, notes


def _run_entries(chosen: list, tmp: Path) -> dict[str, bytes]:
    from nst.graph_picture import render_graph
    from nst.summaries import plot_loss_curves

    entries: dict[str, bytes] = {}
    for run in chosen:
        if run.part == 2:
            base = f"runs/models/{run.path.name}"
            curves = plot_loss_curves(run.path / "logs", tmp / f"{run.path.name}-training.png")
            entries[f"{base}/training_curves.png"] = curves.read_bytes()
            entries[f"{base}/config.json"] = (run.path / "config.json").read_bytes()
            for image in run.extras:
                entries[f"{base}/stylized/{image.name}"] = image.read_bytes()
            continue
        curves = plot_loss_curves(run.path / "logs", tmp / f"{run.path.name}.png")
        entries[f"runs/{run.path.name}/loss_curves.png"] = curves.read_bytes()
        graph = render_graph(run.path / "logs", tmp / f"{run.path.name}-graph.png")  # None: no step traced
        if graph is not None:
            entries[f"runs/{run.path.name}/graph.png"] = graph.read_bytes()
        for name in RUN_FILES:
            entries[f"runs/{run.path.name}/{name}"] = (run.path / name).read_bytes()
    return entries


def default_output(part: int | None) -> Path:
    """``submission_part<N>.zip`` for one part (so handing in part 2 keeps part 1's), else ``submission.zip``."""
    return Path(f"submission_part{part}.zip" if part else "submission.zip")


def make_submission(root: Path, output: Path | None, runs: list[Path] | None = None,
                    allow_incomplete: bool = False, part: int | None = None,
                    picked: list[Path] | None = None) -> Submission:
    """Check everything, then write ``output`` atomically; see the module docstring.

    ``part``: hand in only the modules of that part (their docstring starts "Part N") and its runs,
    so the stubs of later parts do not count as unfinished work. ``output`` None: :func:`default_output` in
    ``root``. ``picked`` (``--run``): these runs replace the automatic choice for their images.
    """
    from nst.images import write_atomic

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
    output = output if output is not None else root / default_output(part)
    chosen, notes = _runs(root, runs, part, picked)

    entries: dict[str, bytes] = {f"assignment/{p.name}": p.read_bytes() for p in modules}
    with tempfile.TemporaryDirectory() as tmp:
        entries.update(_run_entries(chosen, Path(tmp)))
    manifest = {"files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(entries.items())},
                "part": part, "todos_left": todos, "notes": notes}
    entries["manifest.json"] = json.dumps(manifest, indent=2).encode()

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), entries[name],
                        compress_type=zipfile.ZIP_DEFLATED)
    write_atomic(output, buf.getvalue())
    return Submission(output, sorted(entries), todos, notes)


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
