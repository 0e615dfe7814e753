"""The student stubs are generated from solutions/ and every graded test fails on them with its TODO."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nst.course.stubs import stale_files

REPO = Path(__file__).resolve().parents[1]


def test_assignment_is_generated_from_solutions():
    assert stale_files(REPO / "solutions", REPO / "assignment") == [], \
        "run `nst course build-assignment` after editing solutions/"


def test_stubs_raise_todo_with_file_and_function():
    text = (REPO / "assignment" / "style_transfer.py").read_text()
    assert 'raise NotImplementedError("TODO 4: the Gram matrix (style_transfer.py:_gram_matrix)")' in text
    assert "tf.matmul(F, F, transpose_a=True)" not in text


def graded_test_names() -> list[str]:
    """The test functions under tests/ (hidden ones too) that carry the ``graded`` mark, read from their decorators."""
    import ast

    names = []
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            marks = [d.func for d in getattr(node, "decorator_list", []) if isinstance(d, ast.Call)]
            if any(ast.unparse(m).split(".")[-1] == "graded" for m in marks):
                names.append(node.name)
    return names


def test_the_graded_tests_are_found():
    names = graded_test_names()
    assert len(names) == len(set(names)) >= 27, names
    assert {"test_conv2d_relu", "test_perceptual_loss_values"} <= set(names)


@pytest.mark.slow
def test_every_graded_test_fails_on_the_untouched_stubs(tmp_path):
    report = tmp_path / "report.xml"
    env = {**os.environ, "NST_IMPL": "assignment"}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "graded", "--impl", "assignment",
                    "-p", "no:cacheprovider", f"--junitxml={report}", "tests"],
                   cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    cases = ET.parse(report).getroot().iter("testcase")
    results = {f"{c.get('classname')}.{c.get('name')}": [child for child in c if child.tag in ("failure", "error")]
               for c in cases}
    collected = {name.rsplit(".", 1)[-1].split("[")[0] for name in results}
    assert collected == set(graded_test_names()), "every graded test is collected, and only those"
    passed = [name for name, failures in results.items() if not failures]
    assert passed == [], f"graded tests that pass on the untouched stubs: {passed}"
    without_todo = [name for name, failures in results.items()
                    if not any("TODO" in (f.get("message") or "") + (f.text or "") for f in failures)]
    assert without_todo == [], f"graded tests whose failure does not name the TODO: {without_todo}"
