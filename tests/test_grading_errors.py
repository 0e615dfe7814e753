"""Grading errors (nst.grading.blame): a failure of the grader is never scored as the student's,
and a failure of the student's code is never excused as the grader's; unreadable submissions
and formula-like names in ``--batch``.

The fake course here (``calc``, 60 points) needs only numpy. Faults are planted for real (a
weights file missing from the sandbox's data folder, a reference file deleted from the judge's
work tree, an exception raised by the trusted package ``__init__`` before any student code, a
zygote that cannot start, a conftest that stops pytest); mocks only wrap the function that
builds the tree or the sandbox, to plant the fault in it.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nst.cli import main
from nst.grading import batch, blame, integrity, report, runner, sandbox, workspace
from nst.grading.blame import GRADING_ERROR
from test_grading import CONFTEST, FAST, MARK, SOLUTION

WEIGHTS = "calc-grading-test"      # $NST_HOME/weights/<this>.npz in the sandbox's data folder

CASES = f'''import numpy as np


def weighted(calc, x):
    """calc.square(x) times the weight k that trusted code reads from the weights folder."""
    from nst.weights import cache_path

    with np.load(cache_path("{WEIGHTS}")) as z:
        k = float(z["k"])
    return np.asarray(calc.square(x)) * k
'''

GRADED = f'''from pathlib import Path

import numpy as np
import pytest

import calc_cases

X = np.linspace(-2, 2, 5)


{MARK}(points=10, part=1)
def test_square(impl_module):
    ref = np.load(Path(__file__).parent / "reference" / "calc.npz")
    np.testing.assert_allclose(impl_module("calc").square(ref["x"]), ref["square"])


{MARK}(points=20, part=1)
def test_weighted(scenario):
    np.testing.assert_allclose(scenario(calc_cases.weighted, "calc", x=X), 2.0 * X ** 2)


{MARK}(points=30, part=1)
def test_scale(impl_module):
    np.testing.assert_allclose(impl_module("calc").scale(X, 3.0), 3.0 * X)
'''

FAST_CONFTEST = CONFTEST + '''

@pytest.fixture(scope="session")
def scenario():
    from nst.grading.remote import scenario_runner

    return scenario_runner(os.environ.get("NST_IMPL", "assignment"))
'''


@pytest.fixture(scope="module")
def fcourse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    (root / "solutions").mkdir()
    (root / "solutions" / "__init__.py").write_text("")
    (root / "solutions" / "calc.py").write_text(SOLUTION)
    (root / "tests" / "reference").mkdir(parents=True)
    (root / "tests" / "conftest.py").write_text(FAST_CONFTEST)
    (root / "tests" / "calc_cases.py").write_text(CASES)
    (root / "tests" / "test_calc_graded.py").write_text(GRADED)
    x = np.linspace(-2, 2, 7)
    np.savez(root / "tests" / "reference" / "calc.npz", x=x, square=x ** 2)
    integrity.write_manifest(root)
    return root


@pytest.fixture(scope="module")
def fcatalog(fcourse) -> list[runner.GradedTest]:
    return runner.collect(runner.Course.load(fcourse), FAST)


@pytest.fixture
def weights_file():
    """The weights file the course reads, world-readable in the sandbox's data folder; removed after."""
    path = sandbox._data() / "weights" / f"{WEIGHTS}.npz"
    np.savez(path, k=np.float64(2.0))
    path.chmod(0o644)
    yield path
    path.unlink(missing_ok=True)


def _grade(course, catalog, modules=None, name="sub") -> runner.Grade:
    modules = {"calc.py": SOLUTION.encode()} if modules is None else modules
    return runner.grade(runner.Course.load(course), name, modules, catalog, FAST)


def _status(g: runner.Grade) -> dict[str, str]:
    return {r.test.nodeid.split("::")[-1]: r.status for r in g.results}


def _without_reference(monkeypatch) -> None:
    """Plant: the judge's work tree loses tests/reference/calc.npz after it is built."""
    build = workspace.build

    def build_without(dest, files, modules, root=None):
        work = build(dest, files, modules, root)
        (work / "tests" / "reference" / "calc.npz").unlink()
        return work
    monkeypatch.setattr(workspace, "build", build_without)


def _in_sandbox(monkeypatch, rel: str, text: str) -> None:
    """Plant: ``rel`` of every new sandbox folder (trusted files only) is replaced by ``text``."""
    prepare = sandbox.prepare

    def planted(files, modules):
        box = prepare(files, modules)
        (box / rel).write_text(text)
        return box
    monkeypatch.setattr(sandbox, "prepare", planted)


# ---------------------------------------------------------------------------- the grader's faults
def test_solution_full_marks_when_nothing_is_missing(fcourse, fcatalog, weights_file):
    g = _grade(fcourse, fcatalog)
    assert (g.total, g.max_total, g.complete, g.status) == (60, 60, True, "graded"), report.table(g)


def test_missing_weights_and_reference_are_grading_errors_not_zeros(fcourse, fcatalog, monkeypatch, tmp_path,
                                                                     capsys):
    """No weights file in the data folder (read in the worker after the student's import) and no
    reference file in the judge's tree: those two tests are not scored, and there is no score."""
    _without_reference(monkeypatch)
    target = tmp_path / "results.json"
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "calc.py").write_text(SOLUTION)
    assert main(["grade", "--root", str(fcourse), "--impl", str(sub), "--json", str(target),
                 "--timeout", "5"]) == 3
    out = capsys.readouterr().out
    assert "grading error: 2 test(s) could not be graded (" in out and "; no score" in out, out
    assert "Total:" not in out and "-/10" in out and "-/20" in out and "30/30" in out, out
    rows = {line.split()[0]: line.split()[2] for line in out.splitlines() if line.startswith("test_")}
    assert rows == {"test_square": GRADING_ERROR, "test_weighted": GRADING_ERROR, "test_scale": "passed"}, out
    assert "FileNotFoundError" in out and "calc.npz" in out and f"{WEIGHTS}.npz" in out, out
    data = json.loads(target.read_text())
    assert "score" not in data and not any("score" in t for t in data["tests"]), "no score anywhere: a failed run"
    assert data["output"].startswith("The autograder failed on this submission: grading error: 2 test(s)")
    assert sum(t["max_score"] for t in data["tests"]) == 60


def test_library_fault_before_student_code_is_a_grading_error(fcourse, fcatalog, weights_file, monkeypatch):
    """The trusted package __init__ (imported before any student module) raises: the grader's."""
    _in_sandbox(monkeypatch, "submission/assignment/__init__.py", "raise RuntimeError('planted grader bug')\n")
    g = _grade(fcourse, fcatalog)
    assert set(_status(g).values()) == {GRADING_ERROR} and not g.complete, report.table(g)
    assert all("planted grader bug" in r.reason for r in g.results), report.table(g)


def test_sandbox_that_cannot_start_is_a_grading_error(fcourse, fcatalog, weights_file, monkeypatch):
    _in_sandbox(monkeypatch, "lib/nst/grading/worker.py", "raise SystemExit(70)\n")
    g = _grade(fcourse, fcatalog)
    assert set(_status(g).values()) == {GRADING_ERROR}, report.table(g)
    assert "sandbox" in g.results[0].reason, report.table(g)


def test_worker_that_dies_before_student_code_is_a_grading_error(fcourse, fcatalog, weights_file, monkeypatch):
    """Each test's worker dies before it answers its first request (its setup failed): the grader's."""
    wire = (Path(sandbox.__file__).parent / "wire.py").read_text()
    _in_sandbox(monkeypatch, "lib/nst/grading/wire.py",
                wire + "\n\ndef recv(sock):   # planted: the worker dies before answering anything\n"
                       "    import os\n    os._exit(3)\n")
    g = _grade(fcourse, fcatalog)
    assert set(_status(g).values()) == {GRADING_ERROR}, report.table(g)
    assert "before any student code ran" in g.results[0].reason, report.table(g)


def test_pytest_that_cannot_start_is_a_grading_error(fcourse, fcatalog, monkeypatch):
    build = workspace.build

    def broken(dest, files, modules, root=None):
        work = build(dest, files, modules, root)
        (work / "pytest.ini").write_text("[pytest\nplanted: pytest cannot start\n")
        return work
    monkeypatch.setattr(workspace, "build", broken)
    g = _grade(fcourse, fcatalog)
    assert set(_status(g).values()) == {GRADING_ERROR} and g.status == GRADING_ERROR, report.table(g)
    assert report.table(g).splitlines()[-2].startswith("grading error: 3 test(s) could not be graded (pytest ")


# ---------------------------------------------------------------------------- the student's faults
def test_student_failures_stay_the_students(fcourse, fcatalog, weights_file):
    """A ValueError in the student's function (also inside a scenario), a TODO, a module that cannot
    be imported, one that kills its process at import: failures, scored 0, the grade is complete."""
    source = SOLUTION.replace("return x ** 2", "raise ValueError('my own bug')") \
        .replace("return x * k", "raise NotImplementedError('TODO 3: scale')")
    g = _grade(fcourse, fcatalog, {"calc.py": source.encode()})
    assert _status(g) == {"test_square": "failed", "test_weighted": "failed", "test_scale": "failed"}, report.table(g)
    assert (g.total, g.complete) == (0, True) and "Total: 0/60" in report.table(g)
    assert "my own bug" in g.results[0].reason and "TODO 3" in g.results[2].reason
    g = _grade(fcourse, fcatalog, {"calc.py": b"import not_a_module_anywhere\n" + SOLUTION.encode()})
    assert set(_status(g).values()) == {"failed"} and g.complete, report.table(g)
    g = _grade(fcourse, fcatalog, {"calc.py": b"import os\nos._exit(0)\n" + SOLUTION.encode()})
    assert set(_status(g).values()) == {"crashed"} and g.complete, report.table(g)   # dies at its import


# ---------------------------------------------------------------------------- the rule itself
def _load(path: Path, name: str, monkeypatch):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, name, module)      # imported, as the worker's import would leave it
    return module


def _raised(fn) -> BaseException:
    try:
        fn()
    except BaseException as e:  # noqa: BLE001
        return e
    raise AssertionError("did not raise")


def test_blame_rule_on_real_tracebacks(tmp_path, monkeypatch):
    sub = tmp_path / "submission"
    (sub / "nstblame").mkdir(parents=True)
    (sub / "nstblame" / "mine.py").write_text(
        "import numpy as np\n"
        "def own():\n    raise ValueError('mine')\n"
        "def load(p):\n    return np.load(p)\n"
        "def reshape(x):\n    return np.reshape(x, (7, 7))\n")
    (sub / "nstblame" / "broken.py").write_text("def f(:\n")
    mine = _load(sub / "nstblame" / "mine.py", "nstblame.mine", monkeypatch)
    root = str(sub)

    def verdict(exc):
        return blame.grader_fault(blame.flags(exc, root, package="nstblame"))
    assert not verdict(_raised(mine.own))                                   # raised in the submission
    assert verdict(_raised(lambda: mine.load(tmp_path / "no.npz")))         # a file missing, in numpy
    assert not verdict(_raised(lambda: mine.reshape(np.zeros(3))))          # numpy on the student's values
    assert not verdict(_raised(lambda: _load(sub / "nstblame" / "broken.py", "nstblame.broken", monkeypatch)))
    assert verdict(_raised(lambda: "x".encode("cp437-missing")))            # an unknown codec (LookupError)
    monkeypatch.delitem(sys.modules, "nstblame.mine")                      # no student code ran yet:
    assert verdict(_raised(lambda: [][1]))                                  # any failure is the grader's
    assert not blame.grader_fault(None) and not blame.judge_fault(AssertionError("values"))
    assert blame.judge_fault(FileNotFoundError("tests/reference/x.npz"))


# ---------------------------------------------------------------------------- reports
def _incomplete(catalog) -> runner.Grade:
    a, b, c = catalog
    return runner.Grade("=1+299", [runner.TestResult(a, "passed"), runner.TestResult(b, GRADING_ERROR, "gone"),
                                   runner.TestResult(c, "failed", "AssertionError")], 1.0)


def test_csv_status_column_empty_cells_and_formula_escape(fcatalog, tmp_path):
    done = runner.Grade("@SUM(A1)", [runner.TestResult(t, "passed") for t in fcatalog], 1.0)
    path = report.write_csv(tmp_path / "scores.csv", [_incomplete(fcatalog), done], fcatalog)
    rows = list(csv.DictReader(path.open()))
    assert [r["submission"] for r in rows] == ["'=1+299", "'@SUM(A1)"]
    assert [r["status"] for r in rows] == [GRADING_ERROR, "graded"]
    assert (rows[0]["total"], rows[0]["max"], rows[0]["test_square"], rows[0]["test_weighted"],
            rows[0]["test_scale"]) == ("", "60", "10", "", "0")
    assert rows[1]["total"] == "60" and rows[0]["notes"].startswith("grading error: 1 test(s)")
    assert [report.cell(v) for v in ["-1", "+1", "\tx", "\rx", "ok", ""]] == ["'-1", "'+1", "'\tx", "'\rx", "ok", ""]


def test_table_and_gradescope_of_an_incomplete_grade(fcatalog):
    g = _incomplete(fcatalog)
    text = report.table(g)
    assert "Part 1: incomplete, 1 test(s) could not be graded" in text and "Total:" not in text, text
    assert "grading error: 1 test(s) could not be graded (gone); no score" in text, text
    data = report.gradescope(g)
    assert "score" not in data and all("score" not in t and "status" not in t for t in data["tests"])


def test_parts_are_listed_in_order_and_the_judge_memory_is_bounded(tmp_path):
    """pytest collects test_a (part 3) before test_b (part 2) before test_c (part 1): the catalog, and
    so the table, the CSV columns and results.json, go 1, 2, 3. Each test is worth the judge's
    RLIMIT_AS in GiB, read in the judge itself."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(CONFTEST)
    for name, part in (("a", 3), ("b", 2), ("c", 1)):      # points: the judge's address-space limit in GiB
        (tmp_path / "tests" / f"test_{name}_graded.py").write_text(
            "import resource\n\nimport pytest\n\nGIB = resource.getrlimit(resource.RLIMIT_AS)[0] / (1 << 30)\n\n\n"
            f"{MARK}(points=GIB, part={part})\ndef test_{name}():\n    pass\n")
    integrity.write_manifest(tmp_path)
    catalog = runner.collect(runner.Course.load(tmp_path), FAST)
    assert [(t.nodeid.split("::")[-1], t.part) for t in catalog] == [("test_c", 1), ("test_b", 2), ("test_a", 3)]
    assert {t.points for t in catalog} == {FAST.judge_memory_gb}, "the judge (pytest) runs with RLIMIT_AS set"
    g = runner.Grade("s", [runner.TestResult(t, "passed") for t in catalog])
    assert [line.split(":")[0] for line in report.part_lines(g)] == ["Part 1", "Part 2", "Part 3"]
    assert [row.split()[0] for row in report.table(g).splitlines()[2:5]] == ["test_c", "test_b", "test_a"]


# ---------------------------------------------------------------------------- unreadable submissions
def crafted_zip(kind: str) -> bytes:
    """A zip of assignment/calc.py with one header edited: the encrypted flag, compression method 99,
    or a non-UTF-8 byte in the name with the UTF-8 flag set."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("assignment/calc.py", SOLUTION)
    data = bytearray(buf.getvalue())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    if kind == "encrypted":
        for off in (local + 6, central + 8):          # general purpose flag, bit 0
            data[off] |= 0x01
    elif kind == "method99":
        for off in (local + 8, central + 10):         # compression method
            struct.pack_into("<H", data, off, 99)
    else:
        data = bytearray(bytes(data).replace(b"calc.py", b"c\xffal.py"))
        for off in (local + 7, central + 9):          # flag bit 11: the name is UTF-8
            data[off] |= 0x08
    return bytes(data)


@pytest.mark.parametrize("kind, error", [("encrypted", "RuntimeError"), ("method99", "NotImplementedError"),
                                         ("utf8", "UnicodeDecodeError")])
def test_crafted_zips_are_one_clean_refusal(tmp_path, kind, error):
    path = tmp_path / f"{kind}.zip"
    path.write_bytes(crafted_zip(kind))
    with pytest.raises(Exception) as raised:         # what zipfile itself raises on it
        with zipfile.ZipFile(path) as zf:
            [zf.read(i) for i in zf.infolist()]
    assert type(raised.value).__name__ == error
    with pytest.raises(workspace.NstError, match=f"{kind}.zip: not a readable folder or zip \\({error}"):
        workspace.submission_files(path)


def test_batch_records_unreadable_submissions_and_goes_on(fcourse, fcatalog, tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    subs.mkdir()
    for kind in ("encrypted", "method99", "utf8"):
        (subs / f"{kind}.zip").write_bytes(crafted_zip(kind))
    (subs / "=1+299.zip").write_bytes(b"not a zip")
    (subs / "odd").mkdir()
    read = workspace.submission_files

    def failing(path):                                # plant: any other exception while reading one
        if path.name == "odd":
            raise KeyError("planted: reading this submission failed")
        return read(path)
    monkeypatch.setattr(workspace, "submission_files", failing)
    grades = batch.grade_all(runner.Course.load(fcourse), batch.find_submissions(subs), fcatalog, FAST, jobs=2,
                             results_dir=tmp_path / "results")
    report.write_csv(tmp_path / "scores.csv", grades, fcatalog)
    rows = {r["submission"]: r for r in csv.DictReader((tmp_path / "scores.csv").open())}
    assert set(rows) == {"encrypted", "method99", "utf8", "'=1+299", "odd"}
    assert {r["status"] for r in rows.values()} == {"unreadable"} and {r["total"] for r in rows.values()} == {"0"}
    assert "RuntimeError" in rows["encrypted"]["notes"] and "KeyError" in rows["odd"]["notes"]
    assert "NotImplementedError" in rows["method99"]["notes"] and "UnicodeDecodeError" in rows["utf8"]["notes"]
    data = json.loads((tmp_path / "results" / "=1+299" / "results.json").read_text())
    assert data["score"] == 0 and "not a readable folder or zip" in data["output"]
