"""Run the graded tests on one submission and score them.

One pytest child process runs all the selected tests in a fresh work tree
(``workspace``). The grader's plugin appends a JSON line when each test starts and
ends; this process watches those lines and kills the child (its whole process group)
when one test runs past ``timeout`` seconds. A test that hangs or kills the process
costs that test only: a new child then runs the tests still left. The points come from
the catalog, which is collected once from the trusted tests with no student code.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from nst.errors import NstError
from nst.grading import integrity, pool, probe, sandbox, workspace
from nst.grading.blame import GRADING_ERROR
from nst.grading.remote import CONTROL_ENV

EXIT_GRACE_S = 10.0


@dataclass(frozen=True)
class GradedTest:
    nodeid: str
    points: float
    part: int

    @property
    def hidden(self) -> bool:
        return self.nodeid.startswith("tests/hidden/")


@dataclass(frozen=True)
class TestResult:
    """One graded test's outcome. ``grading-error`` is the grader's failure (``blame``): its points are
    neither earned nor lost, and the Grade is incomplete; every other status but ``passed`` is the
    student's (failed, error, skipped, timeout, crashed, tampered, unreadable) and earns 0."""
    test: GradedTest
    status: str
    reason: str = ""
    output: str = ""

    @property
    def earned(self) -> float:
        return self.test.points if self.status == "passed" else 0.0

    @property
    def graded(self) -> bool:
        return self.status != GRADING_ERROR


@dataclass
class Grade:
    submission: str
    results: list[TestResult]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(r.earned for r in self.results)

    @property
    def max_total(self) -> float:
        return sum(r.test.points for r in self.results)

    @property
    def ungraded(self) -> list[TestResult]:
        """The tests the grader failed on; any of them makes the grade incomplete: no score."""
        return [r for r in self.results if not r.graded]

    @property
    def complete(self) -> bool:
        return not self.ungraded

    @property
    def status(self) -> str:
        """``graded``, ``grading-error`` (incomplete: no score) or ``unreadable`` (the submission's files)."""
        if not self.complete:
            return GRADING_ERROR
        return "unreadable" if self.results and all(r.status == "unreadable" for r in self.results) else "graded"


@dataclass(frozen=True)
class Course:
    """What every grading of this course reads, taken once: verified test files and the stubs."""
    root: Path
    files: dict[str, bytes]      # tests/... -> content, checked against tests/manifest.sha256
    stubs: dict[str, bytes]      # assignment module file -> untouched stub source

    @classmethod
    def load(cls, root: Path) -> "Course":
        return cls(root, integrity.verify(root), workspace.base_modules(root))

    @property
    def guard(self) -> str:
        """Modules snapshotted before any test code: numpy, and TensorFlow when the tests use it."""
        uses_tf = any(b"tensorflow" in data for rel, data in self.files.items() if rel.endswith(".py"))
        return "numpy,numpy.testing" + (",tensorflow" if uses_tf else "")


@dataclass(frozen=True)
class Settings:
    timeout: float = 60.0            # per test, setup and teardown included
    startup_timeout: float = 180.0   # imports and collection, before the first test
    threads: int | None = None       # TF/OpenMP threads per child (None: all cores)
    seed: int = 0
    guard: str | None = None         # modules to snapshot (None: Course.guard)
    limits: sandbox.Limits = sandbox.Limits()   # memory, CPU, file size, processes of a worker
    hide: tuple[str, ...] = ()       # more folders the workers must not see (the batch, the outputs)
    judge_memory_gb: float = 8.0     # address space of the judge (pytest): VmPeak 1.9 GB part 1, 2.1 GB part 3


# ---------------------------------------------------------------------------- one child
class _Tail(threading.Thread):
    """Drain the child's stdout+stderr, keeping only the last bytes (junk output is harmless)."""

    def __init__(self, stream, keep: int = 8192):
        super().__init__(daemon=True)
        self.stream, self.keep, self.data = stream, keep, b""

    def run(self) -> None:
        for chunk in iter(lambda: self.stream.read1(65536), b""):
            self.data = (self.data + chunk)[-self.keep:]

    def last_line(self) -> str:
        lines = [x for x in self.data.decode(errors="replace").splitlines() if x.strip()]
        return lines[-1].strip()[:200] if lines else "no output"


class _Events:
    """New, well-formed, correctly tagged lines of the report file."""

    def __init__(self, path: Path, token: str):
        self.path, self.token, self.offset, self.partial = path, token, 0, b""

    def read(self) -> list[dict]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("token") == self.token:
                events.append(event)
        return events


def _describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exited with status {rc}"


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _bound_memory(pid: int, gib: float) -> None:
    """RLIMIT_AS of the judge, set from here once it exists (``preexec_fn`` is unsafe with threads): what
    the workers send it is bounded too, so a huge reply fails that test instead of taking the machine."""
    import resource

    limit = int(gib * (1 << 30))
    try:
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):    # already gone, or a hard limit set lower by the caller: keep that one
        pass


def child_env(root: Path, work: Path, settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "NST_IMPL", "NST_GRADE", "PYTHON"))}
    env.update(NST_IMPL="assignment", PYTHONPATH=str(work), PYTHONDONTWRITEBYTECODE="1",
               PYTHONHASHSEED=str(settings.seed), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", TF_CPP_MIN_LOG_LEVEL="2")
    # Eigen's kernels unless the grader's environment says otherwise: graded tests are small and each runs in a
    # new worker, where oneDNN's per-process kernel creation costs more than it saves (batch of 10 on a 2-core
    # Xeon with AMX, grading.md of the docs: 113.8 s without, 123.5 s with); the tolerances hold either way
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if settings.threads:
        n = str(settings.threads)
        env.update(OMP_NUM_THREADS=n, TF_NUM_INTRAOP_THREADS=n, TF_NUM_INTEROP_THREADS="1")
    shared = root.parent / "shared" / "images"
    if "NST_SHARED_IMAGES" not in env and shared.is_dir():
        env["NST_SHARED_IMAGES"] = str(shared)
    return env


def scrub(text: str, work: Path, root: Path) -> str:
    """``text`` with the grader's own paths taken out: test files relative, the rest named only."""
    for path, name in ((f"{work}/", ""), (f"{root}/", "<course>/"), (f"{sys.prefix}/", "<python>/"),
                       (f"{sys.base_prefix}/", "<python>/"), (f"{Path(tempfile.gettempdir())}/", "<tmp>/"),
                       (str(work), "."), (str(root), "<course>")):
        text = text.replace(path, name)
    return text


def _run_child(root: Path, work: Path, private: Path, args: list[str], settings: Settings,
               outcomes: dict[str, tuple[str, str, str]], state: dict, submission: tuple | None = None) -> None:
    """One pytest process; fills ``outcomes`` {nodeid: (status, reason, output)} and ``state``.

    ``submission`` = (trusted files, modules): the student code runs in a sandboxed zygote's
    workers started for this process (``sandbox``), which are all gone when this returns."""
    token = secrets.token_hex(16)
    report = private / f"report-{token[:8]}.jsonl"
    report.touch()
    Path(f"{report}.token").write_text(token)   # read and deleted by the plugin before any test code
    guard = settings.guard or "numpy,numpy.testing,tensorflow"
    cmd = [sys.executable, "-m", "pytest", "-p", "nst.grading.plugin", "-p", "no:cacheprovider",
           f"--nst-report={report}", f"--nst-guard={guard}", "--rootdir", str(work), "-c", str(work / "pytest.ini"),
           "-q", "--tb=short", "--continue-on-collection-errors", *args]
    env = child_env(root, work, settings)
    zygote = None
    if submission is not None:
        zygote = pool.acquire(root, submission[0], submission[1], env, settings.limits, settings.timeout,
                              settings.hide, tuple(m for m in (settings.guard or "numpy").split(",") if m))
        env[CONTROL_ENV] = str(zygote.judge_fd)
    try:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                pass_fds=(zygote.judge_fd,) if zygote else ())
    except BaseException:
        if zygote is not None:
            zygote.stop()
        raise
    _bound_memory(proc.pid, settings.judge_memory_gb)
    tail = _Tail(proc.stdout)
    tail.start()
    events = _Events(report, token)
    current, since, done_at = None, time.monotonic(), None
    clean = False         # every test reported and the judge exited by itself: its zygote may serve the next
    try:
        while True:
            exited = proc.poll() is not None
            for event in events.read():
                kind, now = event.get("event"), time.monotonic()
                if kind == "start":
                    current, since = event.get("nodeid"), now
                elif kind == "result" and event.get("nodeid") == current:
                    outcomes[current] = (str(event.get("status")), scrub(str(event.get("reason", "")), work, root),
                                         scrub(str(event.get("output", "")), work, root))
                    current, since = None, now
                elif kind == "item":
                    state["items"].append(event)
                elif kind == "collect_error":
                    state["collect_errors"][str(event.get("path"))] = str(event.get("reason", ""))
                elif kind == "tamper":
                    state["tamper"] += [str(w) for w in event.get("what", [])]
                elif kind == "done":
                    done_at = now
            now = time.monotonic()
            if exited:
                clean = done_at is not None and current is None
                break
            if current is not None and now - since > settings.timeout:
                outcomes[current] = ("timeout", f"timed out after {settings.timeout:g} s", "")
                current = None
                break
            if current is None and done_at is None and now - since > settings.startup_timeout:
                state["stalled"] = f"pytest did not start the next test within {settings.startup_timeout:g} s"
                break
            if done_at is not None and now - done_at > EXIT_GRACE_S:
                break
            time.sleep(0.05)
    finally:
        _kill(proc)
        if zygote is not None:
            pool.release(zygote, clean)  # stopped, or kept with none of this submission's workers alive
        tail.join(timeout=2)
    state["exit"] = _describe_exit(proc.returncode)
    state["last_line"] = tail.last_line()
    if current is not None:   # started, never finished, not timed out: the process died under it
        outcomes[current] = ("crashed", f"the test process {state['exit']} during this test", "")


def run_tests(root: Path, work: Path, nodeids: list[str], settings: Settings,
              submission: tuple | None = None) -> tuple[dict, list[str], list[str]]:
    """Outcomes {nodeid: (status, reason, output)}, tamper findings, notes; re-runs what a crash left."""
    outcomes: dict[str, tuple[str, str, str]] = {}
    tamper: list[str] = []
    notes: list[str] = []
    remaining = list(nodeids)
    with tempfile.TemporaryDirectory(prefix="nst-grade-report-") as private:
        while remaining:
            state = {"items": [], "collect_errors": {}, "tamper": [], "stalled": None}
            _run_child(root, work, Path(private), remaining, settings, outcomes, state, submission)
            tamper += [t for t in state["tamper"] if t not in tamper]
            for nodeid in remaining:
                error = state["collect_errors"].get(nodeid.split("::")[0])
                if nodeid not in outcomes and error is not None:    # trusted file, no student code: the grader's
                    outcomes[nodeid] = (GRADING_ERROR, f"the test file could not be imported: {error}", "")
            left = [n for n in remaining if n not in outcomes]
            if len(left) == len(remaining):   # no progress: pytest itself could not run these
                reason = state["stalled"] or f"pytest {state['exit']} before this test: {state['last_line']}"
                notes.append(reason)
                outcomes.update({n: (GRADING_ERROR, reason, "") for n in left})
                break
            remaining = left
    return outcomes, tamper, notes


# ---------------------------------------------------------------------------- catalog and grading
def select(catalog: list[GradedTest], part: int | None) -> list[GradedTest]:
    return [t for t in catalog if part is None or t.part == part]


def collect(course: Course, settings: Settings) -> list[GradedTest]:
    """The graded tests (node id, points, part) of the trusted tests, collected with no student code."""
    files = [rel for rel in course.files if PurePath(rel).name.startswith("test_")]
    if not files:
        raise NstError("no graded test files in tests/manifest.sha256")
    settings = replace(settings, guard=settings.guard or course.guard)
    with tempfile.TemporaryDirectory(prefix="nst-grade-") as tmp:
        work = workspace.build(Path(tmp), course.files, None, course.root)
        with tempfile.TemporaryDirectory(prefix="nst-grade-report-") as private:
            state = {"items": [], "collect_errors": {}, "tamper": [], "stalled": None}
            args = ["--collect-only", "--nst-collect", *files]
            _run_child(course.root, work, Path(private), args, settings, {}, state)
    if state["collect_errors"]:
        path, reason = next(iter(state["collect_errors"].items()))
        raise NstError(f"cannot collect {path} without student code ({reason}); graded tests must import "
                       f"the student modules inside tests or fixtures (impl_module), not at module level")
    if not state["items"]:
        raise NstError(f"collecting the graded tests failed: pytest {state['exit']}: {state['last_line']}")
    tests = []
    for item in state["items"]:
        points, p = item.get("points"), item.get("part")
        if not isinstance(points, (int, float)) or points <= 0 or p not in (1, 2, 3):
            raise NstError(f"{item['nodeid']}: use @pytest.mark.graded(points=<positive number>, part=1|2|3)")
        tests.append(GradedTest(item["nodeid"], float(points), int(p)))
    return sorted(tests, key=lambda t: t.part)     # part 1, 2, 3; pytest's order within a part


def collect_and_probe(course: Course, settings: Settings) -> list[GradedTest]:
    """:func:`collect`, with the sandbox's probe (``probe.check``, once per process) run beside it: each
    starts TensorFlow in a process of its own, so on two cores both take the time of one."""
    from concurrent.futures import ThreadPoolExecutor

    guard = tuple(m for m in (settings.guard or course.guard).split(",") if m)
    with ThreadPoolExecutor(1) as beside:
        probed = beside.submit(probe.check, course.root, course.files, course.stubs, settings.limits, guard)
        catalog = collect(course, settings)
        probed.result()
    return catalog


def grade(course: Course, name: str, modules: dict[str, bytes], catalog: list[GradedTest],
          settings: Settings) -> Grade:
    """Grade one submission given as {file name: source}, laid over the stubs."""
    start = time.monotonic()
    settings = replace(settings, guard=settings.guard or course.guard)
    probe.check(course.root, course.files, course.stubs, settings.limits,   # once per process: the sandbox works
                tuple(m for m in settings.guard.split(",") if m))
    try:
        with tempfile.TemporaryDirectory(prefix="nst-grade-") as tmp:
            work = workspace.build(Path(tmp), course.files, None, course.root)   # the judge gets no student code
            outcomes, tamper, notes = run_tests(course.root, work, [t.nodeid for t in catalog], settings,
                                                (course.files, {**course.stubs, **modules}))
            tamper += integrity.tree_changes(work, course.files)
    except Exception as e:  # noqa: BLE001 - the sandbox or the work tree failed: the grader's, not a score
        reason = f"the grader failed: {type(e).__name__}: {e}"
        return Grade(name, [TestResult(t, GRADING_ERROR, reason) for t in catalog], time.monotonic() - start,
                     [reason])
    results = [TestResult(t, *outcomes.get(t.nodeid, (GRADING_ERROR, "not run", ""))) for t in catalog]
    if tamper:
        reason = f"no points: the submission tampered with the grading ({tamper[0]})"
        notes.insert(0, reason if len(tamper) == 1 else f"{reason} and {len(tamper) - 1} more")
        results = [replace(r, status="tampered", reason=reason) for r in results]
    return Grade(name, results, time.monotonic() - start, notes)
