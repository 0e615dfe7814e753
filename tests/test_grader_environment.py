"""The environment never costs a student points (issue 20): a Python installation the workers'
user could not reach on the host still grades in full, and what the sandbox cannot read stops
grading with one ``error:`` line (the probe, nst/grading/probe.py), never a score.

Run as root (the workers then get users of their own) with namespaces; each grading here is the
fake ``calc`` course of test_grading (110 points), in a subprocess with ``HOME`` an empty folder.
"""
from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from nst.grading import probe, sandbox
from test_grading import REPO, course  # noqa: F401

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0 or sandbox.namespaces() is None,
                             reason="needs root and namespaces (a user the installation's folders shut out)")


@pytest.fixture(scope="module")
def locked_python(tmp_path_factory) -> Path:
    """A venv inside a 0700 folder (like pyenv under /root), its packages from this one's."""
    locked = tmp_path_factory.mktemp("locked")
    locked.chmod(0o700)
    venv = locked / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
                   check=True, capture_output=True, timeout=120)
    packages = next((venv / "lib").glob("python3*/site-packages"))
    (packages / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv / "bin" / "python"


def _grade(python: Path, course: Path, home: Path) -> subprocess.CompletedProcess:
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.run([str(python), "-m", "nst", "grade", "--root", str(course), "--impl",
                           str(course / "solutions"), "--timeout", "20"],
                          env=env, capture_output=True, text=True, timeout=600)


@AS_ROOT
def test_a_python_the_workers_cannot_reach_on_the_host_grades_in_full(locked_python, course, tmp_path):
    done = _grade(locked_python, course, tmp_path / "home")
    assert done.returncode == 0 and "Total: 110/110" in done.stdout, done.stdout + done.stderr


@AS_ROOT
def test_an_installation_file_the_workers_cannot_read_is_one_error_line(locked_python, course, tmp_path):
    packages = next((locked_python.parents[1] / "lib").glob("python3*/site-packages"))
    secret = packages / "private_module.py"
    secret.write_text("X = 1\n")
    secret.chmod(0o600)
    try:
        done = _grade(locked_python, course, tmp_path / "home")
    finally:
        secret.unlink()
    errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1, done.stdout + done.stderr
    assert str(secret) in errors[0] and "readable" in errors[0] and "Total" not in done.stdout


def test_the_missing_protections_are_one_warning_line(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "namespaces", lambda: None)
    monkeypatch.setattr(probe, "_warned", [])
    probe._warn_missing()
    probe._warn_missing()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: the grading sandbox lacks") and "namespaces" in lines[0]


@pytest.mark.slow
def test_real_part1_with_an_empty_home_scores_100(tmp_path):
    """The README's situation: root, pyenv Python under /root (0700 here), HOME elsewhere."""
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "nst", "grade", "--root", str(REPO), "--impl", "solutions",
                           "--part", "1"], env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0 and "Total: 100/100" in done.stdout, done.stdout + done.stderr
