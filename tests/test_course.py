"""Course tooling: build-assignment --check, the student and Gradescope releases, submit, install-submission.

The release tests work on a copy of the repository (``project`` fixture) whose assignment/ is
regenerated first, so they test the tooling and the real content, not whether a colleague has
run build-assignment yet (CI checks that with ``nst course build-assignment --check``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nst.cli import main
from nst.course import release, stubs
from nst.course.submit import install_submission

REPO = Path(__file__).resolve().parents[1]
COPIED = ["nst", "benchmarks", "conf", "assignment", "solutions", "tests", "content", "styles", "notebooks", "docs",
          "README.md", "pyproject.toml", "outputs/README.md"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache")
PART1 = ["load_vgg.py", "style_transfer.py"]
BLOCK = re.compile(r"# BEGIN SOLUTION[^\n]*\n(.*?)# END SOLUTION", re.S)


def copy_repo(dest: Path, parts=COPIED) -> Path:
    for part in parts:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=IGNORE)
        elif src.is_file():
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)
    return dest


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def prepare(root: Path) -> Path:
    """What an instructor runs before a release: build-assignment, and the grader's manifest if there is one."""
    stubs.build_assignment(root / "solutions", root / "assignment")
    if (root / "tests" / "manifest.sha256").is_file():
        from nst.grading import integrity

        integrity.write_manifest(root)
    return root


HIDDEN_TEST = "tests/hidden/test_hidden_part1.py"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the repository, with an instructor's hidden test (the real one ships none), so the
    release tests can see where ``tests/hidden/`` goes."""
    root = copy_repo(tmp_path_factory.mktemp("repo"))
    (root / HIDDEN_TEST).parent.mkdir(parents=True, exist_ok=True)
    (root / HIDDEN_TEST).write_text('"""An instructor\'s hidden test."""\n\n\ndef test_hidden():\n    assert True\n')
    return prepare(root)


def python_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NST_IMPL", "PYTHONPATH")}
    return {**env, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}


# ------------------------------------------------------------------ build-assignment
def test_build_assignment_check_names_each_stale_file(tmp_path, capsys):
    root = copy_repo(tmp_path, ["solutions"])
    assert cli(capsys, "course", "build-assignment", "--root", root)[0] == 0
    code, out, _ = cli(capsys, "course", "build-assignment", "--check", "--root", root)
    assert code == 0 and "up to date" in out

    source = root / "solutions" / "style_transfer.py"
    source.write_text(source.read_text().replace("TODO 3: the content loss", "TODO 3: the content loss, 1/(4s)"))
    (root / "assignment" / "load_vgg.py").unlink()
    (root / "assignment" / "extra.py").write_text("x = 1\n")
    before = {p.name: p.read_bytes() for p in (root / "assignment").glob("*.py")}

    code, out, err = cli(capsys, "course", "build-assignment", "--check", "--root", root)
    assert code == 1
    want = stubs.make_stub(source.read_text(), "style_transfer.py").splitlines()
    line = next(i for i, text in enumerate(want, 1) if "1/(4s)" in text)
    assert f"stale: assignment/style_transfer.py: differs from what solutions/style_transfer.py generates, " \
           f"first at line {line}" in out
    assert "stale: assignment/load_vgg.py: missing" in out
    assert "stale: assignment/extra.py: no solutions/extra.py generates it" in out
    assert len(out.splitlines()) == 3 and "3 stale file(s)" in err
    assert {p.name: p.read_bytes() for p in (root / "assignment").glob("*.py")} == before, "--check wrote files"

    assert cli(capsys, "course", "build-assignment", "--root", root)[0] == 0
    code, out, _ = cli(capsys, "course", "build-assignment", "--check", "--root", root)
    assert code == 1 and out.splitlines() == ["stale: assignment/extra.py: no solutions/extra.py generates it"]


def test_build_assignment_bad_input_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "broken.py").write_text("def f():\n    # BEGIN SOLUTION: TODO 1: x\n    return 1\n")
    code, out, err = cli(capsys, "course", "build-assignment", "--root", tmp_path)
    assert code == 2 and err.strip() == "error: broken.py:2: BEGIN SOLUTION without END SOLUTION"
    assert not (tmp_path / "assignment" / "broken.py").exists()
    code, _, err = cli(capsys, "course", "build-assignment", "--check", "--root", tmp_path / "nowhere")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "solutions: not found" in err


# ------------------------------------------------------------------ leaks
def test_release_refuses_solution_code_anywhere(tmp_path, capsys):
    root = prepare(copy_repo(tmp_path / "repo", ["nst", "assignment", "solutions", "tests", "pyproject.toml"]))
    body = BLOCK.search((root / "solutions" / "style_transfer.py").read_text()).group(1)
    (root / "nst" / "helpers.py").write_text("def content_loss(F, P):\n" + body)
    code, _, err = cli(capsys, "course", "release", "student", "--root", root, "-o", tmp_path / "dist")
    assert code == 2 and "nst/helpers.py:2 holds the code of solutions/style_transfer.py" in err
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir()), "a refused release wrote files"

    (root / "nst" / "helpers.py").unlink()
    cell = {"cell_type": "code", "metadata": {}, "source": body.splitlines(keepends=True), "outputs": [],
            "execution_count": None}
    (root / "notebooks").mkdir()
    (root / "notebooks" / "leaky.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                                                "nbformat_minor": 5}, indent=1))
    code, _, err = cli(capsys, "course", "release", "student", "--root", root, "-o", tmp_path / "dist")
    assert code == 2 and "notebooks/leaky.ipynb" in err


def test_leak_scan_ignores_idioms_and_finds_quoted_code(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "m.py").write_text(
        "def loss(x):\n"
        "    # BEGIN SOLUTION: TODO 1: the loss\n"
        "    return tf.reduce_sum(tf.square(x - 1.0)) / (4.0 * tf.cast(tf.size(x), tf.float32))\n"
        "    # END SOLUTION\n\n\n"
        "def step(x):\n"
        "    # BEGIN SOLUTION: TODO 2: one step\n"
        "    with tf.GradientTape() as tape:\n"
        "        value = loss(x)\n"
        "    gradient = tape.gradient(value, x)\n"
        "    optimizer.apply_gradients([(gradient, x)])\n"
        "    # END SOLUTION\n")
    files = {
        "idiom.py": "with tf.GradientTape() as tape:\n    y = model(x)\n",           # 1 of 4 lines: an idiom
        "bug.yaml": 'find: "tf.reduce_sum(tf.square(x - 1.0)) / (4.0 * tf.cast(tf.size(x), tf.float32))"\n',
        "copy.py": "def g(x, optimizer):\n    with tf.GradientTape() as tape:\n        value = loss(x)\n"
                   "    gradient = tape.gradient(value, x)\n    optimizer.apply_gradients([(gradient, x)])\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert release.find_leaks(tmp_path, sorted(files), tmp_path / "solutions") == [
        "bug.yaml:1 holds the code of solutions/m.py:2 (TODO 1: the loss)",
        "copy.py:2 holds the code of solutions/m.py:8 (TODO 2: one step)",
    ]


def test_release_refuses_a_stale_assignment(tmp_path, capsys):
    root = prepare(copy_repo(tmp_path, ["nst", "assignment", "solutions", "tests", "pyproject.toml"]))
    (root / "assignment" / "load_vgg.py").write_text("# edited by hand\n")
    code, _, err = cli(capsys, "course", "release", "gradescope", "--root", root, "-o", tmp_path / "dist")
    assert code == 2 and "assignment/load_vgg.py: differs" in err and "build-assignment" in err
    stubs.build_assignment(root / "solutions", root / "assignment")
    code, _, err = cli(capsys, "course", "release", "gradescope", "--part", "9", "--root", root, "-o", tmp_path / "d")
    assert code == 2 and "--part 9: no module of solutions/ belongs to part 9" in err
    assert not (tmp_path / "d").exists()
    if (root / "tests" / "manifest.sha256").is_file():
        graded = root / "tests" / "test_part1_graded.py"
        graded.write_text(graded.read_text() + "\n# edited\n")
        code, _, err = cli(capsys, "course", "release", "student", "--root", root, "-o", tmp_path / "d")
        assert code == 2 and "tests/test_part1_graded.py does not match" in err and "--update-manifest" in err


# ------------------------------------------------------------------ student release
def _solution_bodies(solutions: Path) -> list[str]:
    """The code of every solution block, dedented, found independently of nst.course.release."""
    bodies = []
    for path in solutions.glob("*.py"):
        for body in BLOCK.findall(path.read_text()):
            code = [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]
            if code:
                bodies.append("\n".join(code))
    return bodies


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=root,
                          env=python_env(root), capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_student_release_fails_on_stubs_and_passes_with_the_solutions(project, tmp_path, capsys):
    code, _, err = cli(capsys, "course", "release", "student", "--root", project, "-o", tmp_path / "dist")
    assert code == 0, err
    zip_path = tmp_path / "dist" / "nst-student.zip"
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        texts = {n: zf.read(n).decode("utf-8", "replace") for n in names if not n.endswith((".jpg", ".png", ".npz"))}
    assert all(n.startswith("nst-student/") for n in names)
    rel = {n.removeprefix("nst-student/") for n in names}
    for needed in ["assignment/load_vgg.py", "assignment/style_transfer.py", "nst/__init__.py", "nst/cli/course.py",
                   "tests/manifest.sha256", "tests/reference/part1.npz", "tests/test_part1_graded.py",
                   "tests/conftest.py", "pyproject.toml", "notebooks/part1_gatys.ipynb"]:
        assert needed in rel, f"{needed} is not in the student release"
    assert (project / HIDDEN_TEST).is_file()
    for name in rel:
        assert not name.startswith(("solutions/", "tests/hidden/", "tests/planted/", "docs/")), f"{name} is released"
        assert "__pycache__" not in name and name != "tests/test_course.py"
    stripped = {n: "\n".join(line.strip() for line in t.splitlines() if line.strip()) for n, t in texts.items()}
    leaked = [(n, body) for body in _solution_bodies(project / "solutions") for n, t in stripped.items() if body in t]
    assert not leaked, f"solution code in the student release: {leaked[0]}"
    assert not any(n.startswith("tests/planted/") for n in rel), "planted bugs are solution code"
    again = tmp_path / "again"
    assert cli(capsys, "course", "release", "student", "--root", project, "-o", again)[0] == 0
    assert (again / "nst-student.zip").read_bytes() == zip_path.read_bytes(), "the release is not deterministic"

    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path / "unpacked")
    student = tmp_path / "unpacked" / "nst-student"
    probe = subprocess.run([sys.executable, "-c", "import solutions"], cwd=student, env=python_env(student),
                           capture_output=True, text=True)
    assert probe.returncode != 0, "the reference code is importable from the student release"
    cli_help = subprocess.run([sys.executable, "-m", "nst", "course", "--help"], cwd=student, env=python_env(student),
                              capture_output=True, text=True)
    assert cli_help.returncode == 0, f"the released package's CLI does not start: {cli_help.stderr[-1500:]}"

    subset = ["tests/test_part1_graded.py", "-k", "gram_matrix or content_loss"]
    stubs_run = _pytest(student, *subset)
    assert stubs_run.returncode == 1, stubs_run.stdout[-2000:]
    assert "NotImplementedError: TODO 4: the Gram matrix (style_transfer.py:_gram_matrix)" in stubs_run.stdout

    submission = tmp_path / "submission"
    submission.mkdir()
    for name in PART1:
        shutil.copy(project / "solutions" / name, submission / name)
    assert cli(capsys, "course", "install-submission", submission, "--into", student / "assignment")[0] == 0
    solved = _pytest(student, *subset)
    assert solved.returncode == 0, solved.stdout[-3000:]
    assert "2 passed" in solved.stdout


# ------------------------------------------------------------------ gradescope release
@pytest.mark.slow
def test_gradescope_release_gives_the_solutions_100(project, tmp_path, capsys):
    code, _, err = cli(capsys, "course", "release", "gradescope", "--part", "1", "--root", project, "-o", tmp_path)
    assert code == 0, err
    with zipfile.ZipFile(tmp_path / "nst-gradescope-part1.zip") as zf:
        modes = {info.filename: info.external_attr >> 16 for info in zf.infolist()}
        zf.extractall(tmp_path / "autograder" / "source")
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111, "entry points must be executable"
    assert not any(n.startswith(("solutions/", "tests/planted/", "notebooks/")) for n in modes)
    hidden = sorted(p.relative_to(project).as_posix() for p in (project / "tests" / "hidden").rglob("*.py"))
    assert hidden == [HIDDEN_TEST]
    assert set(hidden) <= set(modes), "the hidden tests belong in the autograder"
    source = tmp_path / "autograder" / "source"
    assert subprocess.run(["bash", "-n", str(source / "setup.sh")]).returncode == 0

    submission = tmp_path / "autograder" / "submission"
    submission.mkdir()
    for name in PART1:
        shutil.copy(project / "solutions" / name, submission / name)
    (submission / "notes.txt").write_text("not code\n")
    env = {**python_env(source), "AUTOGRADER_ROOT": str(tmp_path / "autograder"), "PYTHON": sys.executable}
    ran = subprocess.run(["bash", str(source / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=600)
    for name in PART1:  # installed over the stubs, whatever the grader does next
        assert (source / "assignment" / name).read_text() == (project / "solutions" / name).read_text()
    assert "installed: load_vgg.py, style_transfer.py" in ran.stdout
    results = json.loads((tmp_path / "autograder" / "results" / "results.json").read_text())
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(100)
    assert results["score"] == pytest.approx(100), json.dumps(results, indent=1)[:3000]


# ------------------------------------------------------------------ submit
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """outputs/<run>/ as `nst stylize` leaves it: final.png, settings.json, logs/ with loss scalars."""
    import tensorflow as tf

    from nst.images import save_image

    run = tmp_path_factory.mktemp("runs") / "chelsea-swirls-0123"
    save_image(np.full((12, 16, 3), 128, np.uint8), run / "final.png")
    (run / "settings.json").write_text(json.dumps({"content": "content/chelsea.jpg", "iterations": 3}))
    writer = tf.summary.create_file_writer(str(run / "logs"))
    with writer.as_default():
        for step in range(1, 4):
            tf.summary.scalar("loss/total", 10.0 / step, step=step)
            tf.summary.scalar("loss/style", 8.0 / step, step=step)
    writer.close()
    return run


def student_project(tmp_path: Path, run: Path | None, solved: bool) -> Path:
    for name in ["__init__.py", *PART1]:
        text = (REPO / "solutions" / name).read_text()
        if name != "__init__.py" and not solved:
            text = stubs.make_stub(text, name)
        (tmp_path / "assignment").mkdir(exist_ok=True)
        (tmp_path / "assignment" / name).write_text(text)
    if run is not None:
        shutil.copytree(run, tmp_path / "outputs" / run.name)
    return tmp_path


def test_submit_packs_code_images_curves_and_settings(tmp_path, finished_run, capsys):
    root = student_project(tmp_path, finished_run, solved=True)
    code, out, err = cli(capsys, "course", "submit", "--root", root, "-o", root / "submission.zip")
    assert code == 0, err
    run = finished_run.name
    with zipfile.ZipFile(root / "submission.zip") as zf:
        names = set(zf.namelist())
        assert names == {"assignment/load_vgg.py", "assignment/style_transfer.py", "manifest.json",
                         f"runs/{run}/final.png", f"runs/{run}/loss_curves.png", f"runs/{run}/settings.json"}
        assert zf.read(f"runs/{run}/loss_curves.png")[:8] == b"\x89PNG\r\n\x1a\n"
        assert zf.read(f"runs/{run}/final.png") == (finished_run / "final.png").read_bytes()
        manifest = json.loads(zf.read("manifest.json"))
        import hashlib

        for name, digest in manifest["files"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest
        assert manifest["todos_left"] == []


def test_submit_refuses_unfinished_todos_unless_allowed(tmp_path, finished_run, capsys):
    root = student_project(tmp_path, finished_run, solved=False)
    code, _, err = cli(capsys, "course", "submit", "--root", root, "-o", root / "submission.zip")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(r"not implemented yet: load_vgg\.py:\d+: TODO 1: .* and 7 more; .*--allow-incomplete", err), err
    assert not (root / "submission.zip").exists()
    code, _, err = cli(capsys, "course", "submit", "--root", root, "-o", root / "submission.zip", "--allow-incomplete")
    assert code == 0 and err.count("warning: still a TODO") == 8
    assert "TODO 5: one layer's style loss (style_transfer.py:_single_style_loss)" in err
    with zipfile.ZipFile(root / "submission.zip") as zf:
        assert len(json.loads(zf.read("manifest.json"))["todos_left"]) == 8


def test_submit_one_part_leaves_later_stubs_out(tmp_path, finished_run, capsys):
    root = student_project(tmp_path, finished_run, solved=True)
    (root / "assignment" / "later.py").write_text(
        '"""Part 2, step 1: a later part."""\n\n\ndef f():\n    raise NotImplementedError("TODO 9: later (later.py:f)")\n')
    code, _, err = cli(capsys, "course", "submit", "--root", root, "-o", root / "all.zip")
    assert code == 2 and "later.py:5: TODO 9: later" in err and "--part 1" in err
    code, _, err = cli(capsys, "course", "submit", "--root", root, "-o", root / "part1.zip", "--part", "1")
    assert code == 0, err
    with zipfile.ZipFile(root / "part1.zip") as zf:
        assert "assignment/later.py" not in zf.namelist() and "assignment/style_transfer.py" in zf.namelist()
        assert json.loads(zf.read("manifest.json"))["part"] == 1


def test_submit_names_what_is_missing(tmp_path, finished_run, capsys):
    root = student_project(tmp_path, None, solved=True)
    code, _, err = cli(capsys, "course", "submit", "--root", root)
    assert code == 2 and "no finished run" in err and "nst stylize" in err

    partial = root / "outputs" / "half-done"
    partial.mkdir(parents=True)
    (partial / "settings.json").write_text("{}")
    code, _, err = cli(capsys, "course", "submit", "--root", root, "--runs", partial, "-o", root / "s.zip")
    assert code == 2 and "half-done: missing final.png, logs/ with TensorBoard events" in err
    assert not (root / "s.zip").exists()

    (root / "assignment" / "style_transfer.py").write_text("def broken(:\n")
    code, _, err = cli(capsys, "course", "submit", "--root", root, "--runs", finished_run, "-o", root / "s.zip")
    assert code == 2 and "style_transfer.py:1: syntax error" in err


# ------------------------------------------------------------------ install-submission (the autograder's side)
def _assignment(tmp_path: Path) -> Path:
    into = tmp_path / "assignment"
    into.mkdir()
    for name in ["__init__.py", *PART1]:
        (into / name).write_text(f"# stub {name}\n")
    return into


def test_install_submission_accepts_flat_folder_and_zip_layouts(tmp_path, monkeypatch):
    import tempfile

    temp = tmp_path / "t" / "u" / "v"      # any temp folder: "../../evil.py" from it stays under tmp_path
    temp.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    into = _assignment(tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "style_transfer.py").write_text("# flat\n")
    (flat / "__init__.py").write_text("raise SystemExit\n")
    (flat / "other.py").write_text("# not a module of the assignment\n")
    assert install_submission(flat, into) == (["style_transfer.py"], ["load_vgg.py"])
    assert (into / "style_transfer.py").read_text() == "# flat\n"
    assert (into / "__init__.py").read_text() == "# stub __init__.py\n"
    assert not (into / "other.py").exists()

    nested = tmp_path / "nested"
    (nested / "project" / "assignment").mkdir(parents=True)
    (nested / "load_vgg.py").write_text("# loose copy\n")
    (nested / "project" / "assignment" / "load_vgg.py").write_text("# from assignment/\n")
    assert install_submission(nested, into)[0] == ["load_vgg.py"]
    assert (into / "load_vgg.py").read_text() == "# from assignment/\n"

    uploaded = tmp_path / "uploaded"
    uploaded.mkdir()
    with zipfile.ZipFile(uploaded / "submission.zip", "w") as zf:
        zf.writestr("assignment/load_vgg.py", "# zipped vgg\n")
        zf.writestr("assignment/style_transfer.py", "# zipped st\n")
        zf.writestr("../../evil.py", "# never extracted\n")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if into not in (p, p.parent)}
    assert install_submission(uploaded, into) == (PART1, [])
    assert (into / "style_transfer.py").read_text() == "# zipped st\n"
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if into not in (p, p.parent)}
    assert after == before, "a zip is read, never extracted: nothing is written outside the assignment folder"
    assert not list(tmp_path.rglob("evil.py"))


def test_install_submission_bad_input_exit_2(tmp_path, capsys):
    into = _assignment(tmp_path)
    code, _, err = cli(capsys, "course", "install-submission", tmp_path / "missing", "--into", into)
    assert code == 2 and err.strip().endswith("missing: no such submission")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, _ = cli(capsys, "course", "install-submission", empty, "--into", into)
    assert code == 0 and "installed: nothing" in out and "load_vgg.py, style_transfer.py" in out
