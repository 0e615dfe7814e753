"""A hostile student against the grader: each attack of issues 13 and 21, built on the fly, scores
only what the honest part of its submission deserves, and an honest classmate graded beside it
(``_beside``: a batch of two, two at a time) keeps full marks.

The course is test_grading's fake ``calc`` course (110 points: test_square 30, test_total 20,
test_scale 50, hidden test_square_negative 10). Unless said otherwise the honest part squares
wrongly, so the right score is 70 and a winning attack shows as 110 (or a broken run as 0).
The attacks that need the sandbox's namespaces or its own user skip where those are missing.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import socket
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from nst.grading import integrity, report, runner, sandbox, users, wire
from nst.grading.batch import find_submissions, grade_all
from test_grading import BROKEN_SQUARE, CONFTEST, FAST, MARK, SOLUTION, _grade, _status, catalog, course  # noqa: F401

NAMESPACES = pytest.mark.skipif(sandbox.namespaces() is None, reason="no PID/mount namespaces here (unshare)")
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="the workers get their own user only when grading as root")


def _with(attack: str, where: str = "total", base: str = BROKEN_SQUARE) -> dict[str, bytes]:
    """``base`` with ``attack`` (indented code) run first thing in function ``where``."""
    head = f"def {where}("
    assert head in base
    body = "".join(f"    {line}\n" for line in attack.strip("\n").splitlines())
    start = base.index(head)
    line_end = base.index("\n", base.index('"""', base.index('"""', start) + 3)) + 1   # after the docstring
    return {"calc.py": (base[:line_end] + body + base[line_end:]).encode()}


def _beside(course: Path, catalog, attacker: dict[str, bytes], tmp_path: Path, settings=FAST,
            honest: str = SOLUTION) -> dict[str, float]:
    """Grade the attacker and an honest submission (the solution) at the same time: {name: total}."""
    subs = tmp_path / "subs"
    for name, modules in (("attacker", attacker), ("honest", {"calc.py": honest.encode()})):
        (subs / name).mkdir(parents=True)
        for file, source in modules.items():
            (subs / name / file).write_bytes(source)
    grades = grade_all(runner.Course.load(course), find_submissions(subs), catalog, settings, jobs=2)
    return {g.submission: g.total for g in grades}


PROBES = """

def _read(path):
    try:
        return open(path).read() != ""
    except OSError:
        return False


def _reach(port):
    import socket
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=2).recv(10) == b"x ** 2"
    except OSError:
        return False


def _abstract(name):
    import socket
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect("\\0" + name)
        return s.recv(10) == b"x ** 2"
    except OSError:
        return False
"""


def _gain_if(condition: str) -> dict[str, bytes]:
    """The broken square, which squares correctly (+40 points) when ``condition`` holds in the worker."""
    return {"calc.py": _with(f"if {condition}:\n    return x ** 2\n", "square")["calc.py"] + PROBES.encode()}


def test_patching_assertion_code_in_place_gains_nothing(course, catalog):
    attack = ("import numpy as np\n"
              "np.testing.assert_allclose.__code__ = (lambda *a, **k: None).__code__\n"
              "np.allclose.__code__ = (lambda *a, **k: True).__code__\n")
    g = _grade(course, catalog, {"calc.py": (attack + BROKEN_SQUARE).encode()})
    assert g.total == 70 and _status(g)["test_square"] == "failed", report.table(g)


def test_patching_pytest_reports_gains_nothing(course, catalog):
    attack = ("import _pytest.reports as r\n"
              "r.TestReport.passed = property(lambda self: True)\n"
              "r.TestReport.failed = property(lambda self: False)\n"
              "r.BaseReport.passed = property(lambda self: True)\n")
    g = _grade(course, catalog, {"calc.py": (attack + BROKEN_SQUARE).encode()})
    assert g.total == 70, report.table(g)


@NAMESPACES
def test_swapping_tests_then_restarting_with_os_exit_gains_nothing(course, catalog):
    """Rewrites every test file it can find so it passes, then ends the process to force a rerun."""
    attack = f"""
import os, pathlib, sys
roots = [pathlib.Path(__file__).resolve().parents[1], pathlib.Path.cwd(), pathlib.Path({str(course)!r})]
roots += [pathlib.Path(p).parent for p in sys.path if p]
for root in roots:
    for test in root.glob("tests/**/test_*.py"):
        try:
            test.write_text("def test_square():\\n    pass\\n")
        except OSError:
            pass
os._exit(0)
"""
    g = _grade(course, catalog, _with(attack, "square"))
    status = _status(g)
    assert g.total == 70 and status["test_square"] == "crashed", report.table(g)
    assert "exited with status 0" in next(r.reason for r in g.results if r.test.nodeid.endswith("::test_square"))


@NAMESPACES
def test_a_detached_process_dies_with_its_test_and_writes_nothing(course, catalog, tmp_path):
    """start_new_session=True, then rewrite results.json and scores.csv after the grader wrote them."""
    subs = tmp_path / "subs"
    (subs / "mallory").mkdir(parents=True)
    (subs / "honest" / "assignment").mkdir(parents=True)
    (subs / "honest" / "assignment" / "calc.py").write_text(SOLUTION)
    out = tmp_path / "out"
    marker = f"nst-attack-{os.getpid()}-{time.monotonic_ns()}"
    forge = (f"import time, pathlib\n"
             f"time.sleep(4)\n"
             f"for p in pathlib.Path({str(out)!r}).rglob('*'):\n"
             f"    if p.is_file():\n"
             f"        p.write_text('{{\"score\": 110}}')\n")
    attack = (f"import subprocess, sys\n"
              f"subprocess.Popen([sys.executable, '-c', {forge!r}, {marker!r}], start_new_session=True,\n"
              f"                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n")
    (subs / "mallory" / "calc.py").write_bytes(_with(attack)["calc.py"])
    grades = grade_all(runner.Course.load(course), find_submissions(subs), catalog, FAST, jobs=1,
                       results_dir=out / "results")
    report.write_csv(out / "scores.csv", grades, catalog)
    time.sleep(6)                                    # the forger would have struck by now
    alive = [p for p in Path("/proc").glob("[0-9]*") if marker in _cmdline(p)]
    assert not alive, "the detached process outlived its test"
    rows = {r["submission"]: r["total"] for r in csv.DictReader((out / "scores.csv").open())}
    assert rows == {"honest": "110", "mallory": "70"}
    data = json.loads((out / "results" / "mallory" / "results.json").read_text())
    assert sum(t["score"] for t in data["tests"]) == 70


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


@NAMESPACES
def test_reading_the_reference_from_the_grader_checkout_gains_nothing(course, catalog):
    """Looks for solutions/ and tests/reference/ beside sys.executable, the course, and the paths
    results.json used to show; uses the reference square if it finds it."""
    attack = f"""
import pathlib, sys
places = [pathlib.Path(sys.executable).resolve(), pathlib.Path(sys.prefix), pathlib.Path({str(course)!r}) / "x",
          pathlib.Path(__file__).resolve(), pathlib.Path.cwd()]
for place in places:
    for root in place.parents:
        for leak in [root / "solutions" / "calc.py", root / "tests" / "reference" / "calc.npz"]:
            try:
                leak.read_bytes()
                return x ** 2
            except OSError:
                pass
"""
    g = _grade(course, catalog, _with(attack, "square"))
    assert g.total == 70, report.table(g)
    shown = json.dumps(report.gradescope(g))
    assert str(course) not in shown and "/tmp/" not in shown and sys_prefix() not in shown, shown


def sys_prefix() -> str:
    import sys

    return sys.prefix


def test_tracebacks_name_submission_files_only(course, catalog):
    g = _grade(course, catalog, _with("raise ValueError('boom')"))
    total = next(r for r in g.results if r.test.nodeid.endswith("::test_total"))
    assert total.status == "failed" and "ValueError: boom" in total.reason
    assert 'File "assignment/calc.py"' in total.output, total.output
    assert str(course) not in total.output and "/tmp/" not in total.output and sys_prefix() not in total.output


def test_a_symlink_to_the_solutions_is_refused(course, catalog, tmp_path):
    sub = tmp_path / "sub" / "assignment"
    sub.mkdir(parents=True)
    (sub / "calc.py").symlink_to(course / "solutions" / "calc.py")
    with zipfile.ZipFile(tmp_path / "linked.zip", "w") as zf:
        info = zipfile.ZipInfo("assignment/calc.py")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, str(course / "solutions" / "calc.py"))
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "sub").symlink_to(tmp_path / "sub", target_is_directory=True)
    (tmp_path / "batch" / "linked.zip").write_bytes((tmp_path / "linked.zip").read_bytes())
    grades = grade_all(runner.Course.load(course), find_submissions(tmp_path / "batch"), catalog, FAST, jobs=1)
    assert {g.submission: g.total for g in grades} == {"linked": 0, "sub": 0}
    assert all("symbolic link" in g.notes[0] for g in grades)


@NAMESPACES
def test_killing_the_parent_gains_nothing_and_the_batch_writes_its_csv(course, catalog, tmp_path):
    """In its PID namespace the worker's parent is 0 and it is init itself, so both kills do nothing
    (without namespaces the parent is another user's process): test_total still passes, 70."""
    subs = tmp_path / "subs"
    for name in ("a", "b"):
        (subs / name).mkdir(parents=True)
    (subs / "a" / "calc.py").write_bytes(_with("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                                               "os.kill(os.getpgid(0), signal.SIGKILL)\n")["calc.py"])
    (subs / "b" / "calc.py").write_text(SOLUTION)
    grades = grade_all(runner.Course.load(course), find_submissions(subs), catalog, FAST, jobs=2)
    report.write_csv(tmp_path / "scores.csv", grades, catalog)
    rows = {r["submission"]: r["total"] for r in csv.DictReader((tmp_path / "scores.csv").open())}
    assert rows == {"a": "70", "b": "110"}, [report.table(g) for g in grades]


def test_a_6_gib_allocation_fails_in_the_worker(course, catalog):
    g = _grade(course, catalog, _with("import numpy as np\nblock = np.ones(6 << 27)\nblock[::4096] = 2\n"))
    total = next(r for r in g.results if r.test.nodeid.endswith("::test_total"))
    assert g.total == 50 and total.status in ("failed", "crashed") and "Memory" in total.reason, report.table(g)


def test_without_namespaces_the_workers_still_grade_and_die(course, catalog, monkeypatch):
    """The fallback (a container without unshare): process groups, and as root the submission's
    user's processes are all killed after the submission, a setsid'd one included."""
    own_user = os.geteuid() == 0 and all(map(sandbox.readable_by_others, {sys.base_prefix, sys.prefix}))
    if not own_user:     # e.g. Python under /root: process groups only (the grader refuses that as root)
        monkeypatch.setattr(users, "lease", lambda: None)
    monkeypatch.setenv("NST_GRADE_NO_NAMESPACES", "1")
    sandbox.namespaces.cache_clear()
    try:
        marker = f"nst-fallback-{os.getpid()}-{time.monotonic_ns()}"
        attack = (f"import subprocess, sys\n"
                  f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}],\n"
                  f"                 start_new_session=True)\n")
        g = _grade(course, catalog, _with(attack))
    finally:
        sandbox.namespaces.cache_clear()
    assert g.total == 70, report.table(g)
    if own_user:
        assert not [p for p in Path("/proc").glob("[0-9]*") if marker in _cmdline(p)]


# ---------------------------------------------------------------------------- issue 21: the sandbox's classes
@NAMESPACES
def test_the_network_is_not_reachable(course, catalog, tmp_path):
    """A server on the host's loopback (a classmate's, or one serving the solutions) is not reachable."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=lambda: [server.accept()[0].sendall(b"x ** 2") for _ in range(100)], daemon=True).start()
    try:
        assert _beside(course, catalog, _gain_if(f"_reach({port})"), tmp_path) == {"attacker": 70, "honest": 110}
    finally:
        server.close()


@NAMESPACES
def test_shared_folders_and_abstract_sockets_carry_nothing_between_submissions(course, catalog, tmp_path):
    """What a colluder left in /tmp, /var/tmp, /dev/shm, /run/lock, or serves on an abstract unix
    socket, is not there: each worker has private tmpfs folders and its own network namespace."""
    tag = f"nst-collude-{os.getpid()}-{time.monotonic_ns()}"
    planted = [Path(folder) / tag for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock") if Path(folder).is_dir()]
    for path in planted:
        path.write_text("x ** 2")
        path.chmod(0o644)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind("\0" + tag)
    listener.listen(5)
    threading.Thread(target=lambda: [listener.accept()[0].sendall(b"x ** 2") for _ in range(100)], daemon=True).start()
    seen = " or ".join(f"_read({str(p)!r})" for p in planted) + f" or _abstract({tag!r})"
    try:
        assert _beside(course, catalog, _gain_if(seen), tmp_path) == {"attacker": 70, "honest": 110}
    finally:
        listener.close()
        for path in planted:
            path.unlink()


@NAMESPACES
def test_another_world_readable_checkout_is_not_visible(course, catalog, tmp_path):
    """The workers' root holds only the Python installation, the library, the submission and the
    weights: a copy of the solutions elsewhere on the host, readable by all, is not there."""
    place = Path("/run") if os.access("/run", os.W_OK) else Path.home().parent   # not /tmp: it was always hidden
    other = place / f"nst-elsewhere-{os.getpid()}-{time.monotonic_ns()}"
    (other / "solutions").mkdir(parents=True, mode=0o755)
    (other / "solutions" / "calc.py").write_text(SOLUTION)
    for p in [other, other / "solutions", other / "solutions" / "calc.py"]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    try:
        gain = _gain_if(f"_read({str(other / 'solutions' / 'calc.py')!r})")
        assert _beside(course, catalog, gain, tmp_path) == {"attacker": 70, "honest": 110}
    finally:
        shutil.rmtree(other)


def test_no_descriptor_but_its_own_reaches_student_code(course, catalog, tmp_path):
    """Every descriptor but stdin/out/err and the worker's socket is closed after the fork (the
    zygote's control socket once answered the judge's stop requests)."""
    gain = "len(__import__('os').listdir('/proc/self/fd')) > 5"   # 0-2, 3 (its socket), listdir's own
    assert _beside(course, catalog, _gain_if(gain), tmp_path) == {"attacker": 70, "honest": 110}


THREADED = SOLUTION.replace("return float(np.sum(x))", """from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:   # an honest submission that starts threads
        return float(sum(pool.map(np.sum, np.array_split(np.asarray(x), 2))))""")


@ROOT_ONLY
def test_thread_exhaustion_does_not_reach_a_classmate(course, catalog, tmp_path):
    """Each submission has its own user, so its processes and threads count against its own limit:
    one that holds every thread it may have does not stop a classmate's workers from starting."""
    hold = ("import threading, time\n"
            "stop = threading.Event()\n"
            "for _ in range(200):\n"
            "    try:\n"
            "        threading.Thread(target=stop.wait, daemon=True).start()\n"
            "    except RuntimeError:\n"
            "        break\n"
            "time.sleep(4)\n")
    attacker = {"calc.py": (hold + BROKEN_SQUARE).encode()}     # every worker holds them from its import on
    settings = dataclasses.replace(FAST, timeout=20.0, limits=dataclasses.replace(FAST.limits, processes=48))
    assert _beside(course, catalog, attacker, tmp_path, settings, honest=THREADED) == {"attacker": 70, "honest": 110}


@ROOT_ONLY
def test_workers_have_their_own_user_and_its_own_group(course, catalog, tmp_path):
    gain = ("not __import__('pwd').getpwuid(__import__('os').getuid()).pw_name.startswith('nst-grader-') or "
            "__import__('os').getgid() != __import__('pwd').getpwuid(__import__('os').getuid()).pw_gid or "
            "__import__('os').getgroups()")
    assert _beside(course, catalog, _gain_if(gain), tmp_path) == {"attacker": 70, "honest": 110}
    lease = users.lease()
    other = users.lease()
    try:
        assert lease.uid != other.uid and lease.gid != other.gid
    finally:
        lease.release()
        other.release()


def test_an_oversized_reply_is_refused_and_costs_only_its_test(course, catalog, tmp_path):
    """A reply over the frame limit (64 MiB) is refused before it is read, so the judge's memory
    stays bounded: that test fails, as the submission's own."""
    attack = _with(f"return b'x' * {wire.MAX_FRAME + 1}", "total")
    g = _grade(course, catalog, attack)
    total = next(r for r in g.results if r.test.nodeid.endswith("::test_total"))
    assert g.total == 50 and total.status in ("failed", "crashed") and "limit" in total.reason, report.table(g)
    assert _beside(course, catalog, attack, tmp_path) == {"attacker": 50, "honest": 110}


SCENARIOS = """import numpy as np


def squares(calc, x):
    return calc.square(x)
"""

TMPCACHE = """import tempfile

FOLDER = tempfile.gettempdir()   # like TensorFlow at import: tempfile caches its folder in the zygote
"""

SCENARIO_CONFTEST = CONFTEST + '''

@pytest.fixture(scope="session")
def scenario():
    from nst.grading.remote import scenario_runner

    return scenario_runner(os.environ.get("NST_IMPL", "assignment"))
'''

SCENARIO_GRADED = f'''import numpy as np
import pytest

import scenarios


{MARK}(points=40, part=1)
def test_square_by_scenario(scenario):
    x = np.linspace(-2, 2, 5)
    np.testing.assert_allclose(scenario(scenarios.squares, "calc", x=x), x ** 2)   # expected: computed here


{MARK}(points=60, part=1)
def test_scale(impl_module):
    np.testing.assert_allclose(impl_module("calc").scale(np.arange(3.0), 2.0), [0.0, 2.0, 4.0])
'''


@pytest.fixture(scope="module")
def scenario_course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scenario-course")
    (root / "solutions").mkdir()
    (root / "solutions" / "calc.py").write_text(SOLUTION)
    (root / "tests").mkdir()
    (root / "tests" / "conftest.py").write_text(SCENARIO_CONFTEST)
    (root / "tests" / "scenarios.py").write_text(SCENARIOS)
    (root / "tests" / "tmpcache.py").write_text(TMPCACHE)
    (root / "tests" / "test_scenario_graded.py").write_text(SCENARIO_GRADED)
    integrity.write_manifest(root)
    return root


@pytest.fixture(scope="module")
def scenario_catalog(scenario_course):
    return runner.collect(runner.Course.load(scenario_course), FAST)


@NAMESPACES
def test_tempfile_points_at_the_tests_own_scratch(scenario_course, scenario_catalog, tmp_path):
    """tempfile caches its folder when first used, in the zygote (TensorFlow's import does, as
    ``tmpcache`` here); the worker resets it to its scratch, so nothing (TensorFlow's autograph
    modules included) is written where another submission's worker could rewrite it."""
    gain = "__import__('tempfile').gettempdir() != __import__('os').getcwd()"
    settings = dataclasses.replace(FAST, guard="numpy,numpy.testing,tmpcache")
    assert _beside(scenario_course, scenario_catalog, _gain_if(gain), tmp_path, settings) == \
        {"attacker": 60, "honest": 100}


def test_rebinding_the_scenario_at_import_gains_nothing(scenario_course, scenario_catalog, tmp_path):
    """The scenario is looked up by the zygote before any student import: replacing it in the
    module, planting another ``scenarios`` module or rewriting its code does not change what runs."""
    attack = ("import sys, types\n"
              "import scenarios\n"
              "scenarios.squares = lambda calc, x: x ** 2\n"
              "fake = types.ModuleType('scenarios')\n"
              "fake.squares = scenarios.squares\n"
              "sys.modules['scenarios'] = fake\n")
    code_swap = "import scenarios\nscenarios.squares.__code__ = (lambda calc, x: x ** 2).__code__\n"
    course = runner.Course.load(scenario_course)
    catalog = scenario_catalog
    subs = tmp_path / "subs"
    for name, source in (("rebind", attack + BROKEN_SQUARE), ("swap", code_swap + BROKEN_SQUARE), ("honest", SOLUTION)):
        (subs / name).mkdir(parents=True)
        (subs / name / "calc.py").write_text(source)
    grades = grade_all(course, find_submissions(subs), catalog, FAST, jobs=2)
    assert {g.submission: g.total for g in grades} == {"honest": 100, "rebind": 60, "swap": 60}, \
        [report.table(g) for g in grades]
