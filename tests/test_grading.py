"""The autograder (nst.grading, ``nst grade``).

Most tests grade tiny fake courses in tmp dirs: a ``calc`` module with three exercises
and a graded test file worth 100 points that needs only numpy, so each pytest child
starts in ~1 s. One test grades the real part 1 solutions.
"""
from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nst.cli import main
from nst.errors import NstError
from nst.grading import integrity, planted, probe, report, runner, sandbox, workspace
from nst.grading.batch import find_submissions, grade_all
from nst.grading.plugin import one_line

REPO = Path(__file__).resolve().parents[1]
MARK = "@pytest.mark." + "graded"   # spelled apart so this file is not itself a graded test file

SOLUTION = '''import numpy as np


def square(x):
    """x ** 2, elementwise."""
    # BEGIN SOLUTION: TODO 1: square
    return x ** 2
    # END SOLUTION


def total(x):
    """The sum of all elements, a float."""
    # BEGIN SOLUTION: TODO 2: total
    return float(np.sum(x))
    # END SOLUTION


def scale(x, k):
    """x times k."""
    # BEGIN SOLUTION: TODO 3: scale
    return x * k
    # END SOLUTION
'''

CONFTEST = '''import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture(scope="session")
def impl_module():
    from nst.grading.remote import module_loader

    return module_loader(os.environ.get("NST_IMPL", "assignment"))
'''

GRADED = f'''from pathlib import Path

import numpy as np
import pytest

REF = np.load(Path(__file__).parent / "reference" / "calc.npz")


@pytest.fixture
def calc(impl_module):
    return impl_module("calc")


{MARK}(points=30, part=1)
def test_square(calc):
    np.testing.assert_allclose(calc.square(REF["x"]), REF["square"])


{MARK}(points=20, part=1)
def test_total(calc):
    assert np.allclose(calc.total(REF["x"]), REF["total"]), "the sum is wrong"


{MARK}(points=50, part=1)
def test_scale(calc):
    np.testing.assert_allclose(calc.scale(REF["x"], 3.0), 3.0 * REF["x"])
'''

HIDDEN = f'''import numpy as np
import pytest


{MARK}(points=10, part=1)
def test_square_negative(impl_module):
    np.testing.assert_allclose(impl_module("calc").square(np.array([-2.0])), [4.0])
'''

PLANTED = '''- name: square-is-double
  description: doubles instead of squaring
  file: calc.py
  find: "return x ** 2"
  replace: "return x * 2"
  catches: [test_square]
- name: total-off-by-one
  description: "adds one (test_scale cannot see it, so this expectation must fail)"
  file: calc.py
  find: "return float(np.sum(x))"
  replace: "return float(np.sum(x)) + 1"
  catches: [test_scale]
'''

BROKEN_SQUARE = SOLUTION.replace("return x ** 2", "return x")     # honest score: 110 - 30 - 10 = 70
FAST = runner.Settings(timeout=5.0, startup_timeout=60.0, threads=1)


def _variant(old: str, new: str) -> dict[str, bytes]:
    assert old in SOLUTION
    return {"calc.py": SOLUTION.replace(old, new).encode()}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A fake course repository: solutions/calc.py, graded tests, reference data, a manifest."""
    root = tmp_path_factory.mktemp("course")
    (root / "solutions").mkdir()
    (root / "solutions" / "__init__.py").write_text("")
    (root / "solutions" / "calc.py").write_text(SOLUTION)
    (root / "tests" / "reference").mkdir(parents=True)
    (root / "tests" / "hidden").mkdir()
    (root / "tests" / "planted").mkdir()
    (root / "tests" / "conftest.py").write_text(CONFTEST)
    (root / "tests" / "test_calc_graded.py").write_text(GRADED)
    (root / "tests" / "test_ungraded.py").write_text("def test_nothing():\n    assert True\n")
    (root / "tests" / "hidden" / "test_calc_hidden.py").write_text(HIDDEN)
    (root / "tests" / "planted" / "part1.yaml").write_text(PLANTED)
    x = np.linspace(-2, 2, 7)
    np.savez(root / "tests" / "reference" / "calc.npz", x=x, square=x ** 2, total=np.sum(x))
    integrity.write_manifest(root)
    return root


@pytest.fixture(scope="module")
def catalog(course) -> list[runner.GradedTest]:
    return runner.collect(runner.Course.load(course), FAST)


def _grade(course, catalog, modules, settings=FAST, name="sub") -> runner.Grade:
    return runner.grade(runner.Course.load(course), name, modules, catalog, settings)


def _status(g: runner.Grade) -> dict[str, str]:
    return {r.test.nodeid.split("::")[-1]: r.status for r in g.results}


# ---------------------------------------------------------------------------- catalog, manifest
def test_manifest_lists_what_grading_reads(course):
    files = integrity.graded_files(course)
    assert "tests/test_calc_graded.py" in files and "tests/reference/calc.npz" in files
    assert "tests/hidden/test_calc_hidden.py" in files and "tests/conftest.py" in files
    assert "tests/test_ungraded.py" not in files and not any("planted" in f for f in files)


def test_catalog_points_parts_and_hidden(catalog):
    points = {t.nodeid.split("::")[-1]: (t.points, t.part, t.hidden) for t in catalog}
    assert points == {"test_square": (30, 1, False), "test_total": (20, 1, False), "test_scale": (50, 1, False),
                      "test_square_negative": (10, 1, True)}


def test_changed_test_refuses_to_grade_with_one_line(course, tmp_path, capsys):
    copy = tmp_path / "course"
    shutil.copytree(course, copy)
    (copy / "tests" / "test_calc_graded.py").write_text(GRADED.replace("3.0 * REF", "REF"))
    with pytest.raises(NstError, match="test_calc_graded.py does not match"):
        integrity.verify(copy)
    assert main(["grade", "--root", str(copy), "--impl", str(copy / "solutions")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: refusing to grade")
    (copy / "tests" / "test_new_graded.py").write_text(GRADED)
    assert any("test_new_graded.py is not in" in p for p in integrity.problems(copy, integrity.read_manifest(copy)))
    shutil.rmtree(copy / "tests" / "hidden")               # the student release has no hidden tests
    assert not [p for p in integrity.problems(copy, integrity.read_manifest(course)) if "hidden" in p]


def test_real_manifest_is_current():
    assert integrity.problems(REPO, integrity.read_manifest(REPO)) == [], "run `nst grade --update-manifest`"


# ---------------------------------------------------------------------------- scoring
def test_solution_full_marks_stub_zero_and_gradescope_json(course, catalog, tmp_path):
    good = _grade(course, catalog, {"calc.py": SOLUTION.encode()})
    assert (good.total, good.max_total) == (110, 110)
    stub = _grade(course, catalog, {})
    assert stub.total == 0 and all("TODO" in r.reason for r in stub.results), report.table(stub)
    data = json.loads(report.write_json(tmp_path / "results.json", stub).read_text())
    assert "score" not in data, "with hidden tests Gradescope sums the tests, so no visible total includes them"
    assert sum(t["score"] for t in data["tests"]) == 0 and sum(t["max_score"] for t in data["tests"]) == 110
    assert data["output"].startswith("Score 0/100 ") and "hidden" in data["output"]
    assert {t["visibility"] for t in data["tests"] if "negative" in t["name"]} == {"after_due_date"}
    assert {"name", "score", "max_score", "output", "visibility"} <= set(data["tests"][0])
    assert "execution_time" in data
    good_json = report.gradescope(good)
    assert "Score 100/100" in good_json["output"] and sum(t["score"] for t in good_json["tests"]) == 110


def test_infinite_loop_costs_only_its_test(course, catalog):
    g = _grade(course, catalog, _variant("return x ** 2", "while True:\n        pass"),
               runner.Settings(timeout=3.0, threads=1))
    status = _status(g)
    assert status["test_square"] == "timeout" and status["test_square_negative"] == "timeout"
    assert status["test_total"] == status["test_scale"] == "passed" and g.total == 70


def test_segfault_and_os_exit_cost_only_their_tests(course, catalog):
    g = _grade(course, catalog, _variant("return float(np.sum(x))", "import ctypes; ctypes.string_at(0)"))
    crashed = next(r for r in g.results if r.test.nodeid.endswith("::test_total"))
    assert crashed.status == "crashed" and "SIGSEGV" in crashed.reason, report.table(g)
    assert g.total == 90
    g = _grade(course, catalog, _variant("return x * k", "import os; os._exit(0)"))
    assert _status(g)["test_scale"] == "crashed" and g.total == 60


def test_sys_exit_at_import_gains_nothing(course, catalog):
    g = _grade(course, catalog, {"calc.py": b"import sys\nsys.exit(0)\n" + SOLUTION.encode()})
    assert g.total == 0 and set(_status(g).values()) <= {"failed", "error"}


def test_junk_output_and_own_results_json_gain_nothing(course, catalog, tmp_path, capsys):
    target = tmp_path / "results.json"
    forged = json.dumps({"score": 100, "tests": []})
    junk = ('import json, os, pathlib, sys\n'
            f'print({forged!r}); print("PASSED " * 1000); sys.stderr.write("100/100 passed\\n")\n'
            f'for p in [pathlib.Path("results.json"), pathlib.Path({str(target)!r})]:\n'
            f'    try:\n'
            f'        p.write_text({forged!r})\n'
            f'    except OSError:\n'
            f'        pass\n')
    sub = tmp_path / "sub" / "assignment"
    sub.mkdir(parents=True)
    (sub / "calc.py").write_text(junk + SOLUTION.replace("return x * k", 'raise NotImplementedError("TODO 3")'))
    assert main(["grade", "--root", str(course), "--impl", str(sub.parent), "--json", str(target),
                 "--timeout", "5"]) == 0
    data = json.loads(target.read_text())
    assert sum(t["score"] for t in data["tests"]) == 60 and sum(t["max_score"] for t in data["tests"]) == 110
    assert "Total: 60/110" in capsys.readouterr().out


def test_forged_report_lines_are_ignored(course, catalog, tmp_path):
    ran = tmp_path / "forged"
    forge = ('import json, sys\n'
             'path = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--nst-report="))\n'
             'with open(path, "a") as f:\n'
             '    for name in ["test_square", "test_total", "test_scale"]:\n'
             '        node = "tests/test_calc_graded.py::" + name\n'
             '        f.write(json.dumps({"event": "start", "nodeid": node}) + "\\n")\n'
             '        f.write(json.dumps({"event": "result", "nodeid": node, "status": "passed"}) + "\\n")\n'
             f'open({str(ran)!r}, "w").close()\n')
    g = _grade(course, catalog, {"calc.py": forge.encode() + b"def square(x):\n    return x\n"})
    assert not ran.exists() and g.total == 0, report.table(g)   # it cannot even find the report


def test_monkeypatching_numpy_gains_nothing(course, catalog):
    """The patch lands in the worker; the judge compares with its own numpy: only the honest 70."""
    cheat = ("import numpy as np\nnp.allclose = lambda *a, **k: True\n"
             "np.testing.assert_allclose = lambda *a, **k: None\n")
    g = _grade(course, catalog, {"calc.py": (cheat + BROKEN_SQUARE).encode()})
    assert g.total == 70 and _status(g)["test_square"] == "failed", report.table(g)


def test_monkeypatching_tensorflow_gains_nothing(course, catalog):
    cheat = "import tensorflow as tf\ntf.reduce_sum = lambda *a, **k: 0.0\n"
    g = _grade(course, catalog, {"calc.py": (cheat + BROKEN_SQUARE).encode()},
               runner.Settings(timeout=60.0, threads=1, guard="numpy,tensorflow"))
    assert g.total == 70, report.table(g)


@pytest.mark.skipif(sandbox.namespaces() is None, reason="needs the sandbox's mount namespace (unshare)")
def test_editing_the_tests_gains_nothing(course, catalog):
    edit = ('import pathlib\n'
            'for p in [pathlib.Path(__file__).resolve().parents[1] / "tests" / "test_calc_graded.py",\n'
            f'          pathlib.Path({str(course)!r}) / "tests" / "test_calc_graded.py"]:\n'
            '    try:\n'
            '        p.write_text(p.read_text().replace("3.0 * REF", "REF"))\n'
            '    except OSError:\n'
            '        pass\n')
    before = (course / "tests" / "test_calc_graded.py").read_text()
    g = _grade(course, catalog, {"calc.py": (edit + BROKEN_SQUARE).encode()})
    assert g.total == 70 and (course / "tests" / "test_calc_graded.py").read_text() == before, report.table(g)


def test_solutions_cannot_be_imported_while_grading(course, catalog):
    g = _grade(course, catalog, {"calc.py": b"from solutions.calc import *\n"})
    assert g.total == 0 and "No module named 'solutions'" in g.results[0].reason


# ---------------------------------------------------------------------------- batch, self-check
def test_batch_grades_each_submission_in_isolation(course, catalog, tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice" / "assignment").mkdir(parents=True)
    (subs / "alice" / "assignment" / "calc.py").write_text(SOLUTION)
    (subs / "carol").mkdir()
    (subs / "carol" / "calc.py").write_bytes(_variant("return x * k", "while True:\n        pass")["calc.py"])
    with zipfile.ZipFile(subs / "bob.zip", "w") as zf:
        zf.writestr("submission/assignment/calc.py", _variant("return x ** 2", "return x * 2")["calc.py"])
        zf.writestr("submission/assignment/conftest.py", "raise SystemExit(1)\n")
    (subs / "dave.zip").write_bytes(b"not a zip")
    settings = runner.Settings(timeout=3.0, threads=1)
    grades = grade_all(runner.Course.load(course), find_submissions(subs), catalog, settings, jobs=2,
                       results_dir=tmp_path / "results")
    report.write_csv(tmp_path / "scores.csv", grades, catalog)
    rows = {r["submission"]: r for r in csv.DictReader((tmp_path / "scores.csv").open())}
    assert {k: rows[k]["total"] for k in rows} == {"alice": "110", "bob": "70", "carol": "60", "dave": "0"}
    assert {k: rows[k]["status"] for k in rows} == {"alice": "graded", "bob": "graded", "carol": "graded",
                                                    "dave": "unreadable"}
    assert rows["bob"]["test_square"] == "0" and rows["bob"]["test_scale"] == "50"
    for name in rows:
        data = json.loads((tmp_path / "results" / name / "results.json").read_text())
        assert sum(t["score"] for t in data["tests"]) == float(rows[name]["total"])


def test_batch_zygote_serves_the_next_submission_only_after_a_clean_end(course, catalog, tmp_path, monkeypatch):
    """One job: the zygote of a cleanly graded submission serves the next one (one TensorFlow start for the
    batch), each submission is graded by its own code, and one whose test timed out gets a new zygote."""
    subs = tmp_path / "subs"
    sources = {"a_right": SOLUTION.encode(), "b_square_doubles": _variant("return x ** 2", "return x * 2")["calc.py"],
               "c_right": SOLUTION.encode(), "d_scale_hangs": _variant("return x * k", "while True:\n        pass")["calc.py"],
               "e_right": SOLUTION.encode()}
    for name, source in sources.items():
        (subs / name).mkdir(parents=True)
        (subs / name / "calc.py").write_bytes(source)
    loaded, settings = runner.Course.load(course), runner.Settings(timeout=3.0, threads=1)
    probe.check(loaded.root, loaded.files, loaded.stubs, settings.limits, tuple(loaded.guard.split(",")))  # once
    launches = []
    launch = sandbox._launch
    monkeypatch.setattr(sandbox, "_launch", lambda *a, **k: launches.append(1) or launch(*a, **k))
    grades = grade_all(loaded, find_submissions(subs), catalog, settings, jobs=1)
    assert {g.submission: g.total for g in grades} == {"a_right": 110, "b_square_doubles": 70, "c_right": 110,
                                                       "d_scale_hangs": 60, "e_right": 110}
    # a..d's first judge share one zygote; d's timeout stops it; d's second judge (the tests left) starts one,
    # which e then reuses
    assert len(launches) == 2


def test_workers_run_eigen_unless_the_grader_was_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert runner.child_env(REPO, tmp_path, FAST)["TF_ENABLE_ONEDNN_OPTS"] == "0"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    assert runner.child_env(REPO, tmp_path, FAST)["TF_ENABLE_ONEDNN_OPTS"] == "1"


def test_self_check_reports_an_uncaught_planted_bug(course):
    checks, _ = planted.self_check(course, None, FAST, jobs=2)
    ok = {c.run: c.ok for c in checks}
    assert ok == {"solutions": True, "stubs": True, "coverage": False, "planted:square-is-double": True,
                  "planted:total-off-by-one": False}
    text = planted.table(checks, 1.0)
    assert "still passes: test_scale" in text, text
    assert "no planted bug catches: test_square_negative, test_total" in text, "the uncovered graded tests, named"


def test_planted_bug_that_no_longer_applies_is_an_error():
    bug = planted.Bug("x", "", "calc.py", "not in the file", "", ("test_square",))
    with pytest.raises(NstError, match="occurs 0 times"):
        planted.plant(bug, {"calc.py": SOLUTION.encode()})


def _graded_tests(part: int) -> list[str]:
    """The graded test functions of ``part`` in tests/, read from their decorators."""
    import ast

    names = []
    for path in sorted((REPO / "tests").glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            for dec in getattr(node, "decorator_list", []):
                if (isinstance(dec, ast.Call) and ast.unparse(dec.func).split(".")[-1] == "graded"
                        and any(k.arg == "part" and ast.literal_eval(k.value) == part for k in dec.keywords)):
                    names.append(node.name)
    return names


@pytest.mark.parametrize("part", [1, 2])
def test_every_real_graded_test_has_a_planted_bug(part):
    caught = {c for bug in planted.load_bugs(REPO) for c in bug.catches}
    tests = _graded_tests(part)
    assert len(tests) >= 9
    assert [t for t in tests if t not in caught] == [], "add a bug to tests/planted/ that each of these catches"


def test_real_planted_bugs_apply_to_the_solutions():
    solutions = {p.name: p.read_bytes() for p in (REPO / "solutions").glob("*.py")}
    for bug in planted.load_bugs(REPO):
        assert planted.plant(bug, solutions)[bug.file] != solutions[bug.file]


# ---------------------------------------------------------------------------- pieces
def test_submission_files_from_folders_and_zips(tmp_path):
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
        zf.writestr("deep/assignment/calc.py", "A")
        zf.writestr("deep/assignment/__init__.py", "B")
        zf.writestr("deep/assignment/conftest.py", "C")
        zf.writestr("__MACOSX/deep/assignment/calc.py", "D")
        zf.writestr("deep/notes.py", "E")
    assert workspace.submission_files(tmp_path / "s.zip") == {"calc.py": b"A"}
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "calc.py").write_text("F")
    assert workspace.submission_files(tmp_path / "flat") == {"calc.py": b"F"}
    (tmp_path / "bad.zip").write_bytes(b"nope")
    with pytest.raises(NstError, match="bad.zip"):
        workspace.submission_files(tmp_path / "bad.zip")


def test_one_line_reasons():
    assert one_line("NotImplementedError: TODO 3: x (a.py:f)\nmore") == "NotImplementedError: TODO 3: x (a.py:f)"
    assert one_line("AssertionError: \nNot equal to tolerance rtol=1e-05\n\nMismatched elements: 1 / 1\nx") == \
        "AssertionError: Not equal to tolerance rtol=1e-05 Mismatched elements: 1 / 1"


@pytest.mark.slow
def test_real_part1_solutions_score_100():
    settings = runner.Settings(threads=2)
    course = runner.Course.load(REPO)
    tests = runner.select(runner.collect(course, settings), 1)
    assert sum(t.points for t in tests) == 100
    g = runner.grade(course, "solutions", workspace.submission_files(REPO / "solutions"), tests, settings)
    assert g.total == 100, report.table(g)
