"""The side of the grader that runs student code: ``python -m nst.grading.worker SPEC.json``.

One *zygote* per judge process (started by ``sandbox.start``, inside its own PID and mount
namespaces when the kernel allows) moves into the allow-list root (``rootfs.build``), imports
numpy, TensorFlow, ``nst`` and the tests' helper modules (trusted code only; the scenario
functions are recorded here, before any student import), then, for every graded test the judge
runs, forks a *worker*:

    zygote (pid 1 of the submission's namespace, root)
      └ keeper (new PID, mount, network and IPC namespaces for this test)
          └ worker (pid 1 there: /proc remounted, private /tmp /var/tmp /dev/shm /run/lock, only its
                    own descriptors, rlimits, the submission's uid and gid, cwd = its scratch)

The worker imports ``assignment.<module>`` from the sandbox and answers the judge's requests
on its own socket (``nst.grading.server.Server``); when the test ends the judge asks the zygote to ``stop`` it,
which kills the worker, so the kernel kills everything in that namespace (setsid'd children
too), and reaps it before answering. Student code never runs in the zygote or the judge.
"""
from __future__ import annotations

import ctypes
import gc
import io
import json
import os
import shutil
import signal
import socket
import sys
import traceback
from pathlib import Path

from nst.grading import rootfs
from nst.grading.server import Server
from nst.grading.rootfs import MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_REC, mount
from nst.grading.sandbox import TF_PRELOAD

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWIPC = (0x20000, 0x20000000, 0x10000000,
                                                                      0x40000000, 0x08000000)
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def unshare(flags: int) -> None:
    rootfs._check(_libc.unshare(flags), "unshare")


def die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# ---------------------------------------------------------------------------- one test's worker
def _limits(spec: dict) -> None:
    import resource

    mem, cpu = int(spec["memory_bytes"]), int(spec["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(spec["file_bytes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if spec.get("uid") is not None:          # counts this submission's own user's processes and threads
        resource.setrlimit(resource.RLIMIT_NPROC, (int(spec["processes"]),) * 2)


def _keep_only(conn: socket.socket) -> socket.socket:
    """Close every descriptor but 0-2 and the judge's socket (moved to fd 3): none of the zygote's
    (its control socket, other tests' pipes) reaches student code."""
    if conn.fileno() != 3:
        os.dup2(conn.fileno(), 3, inheritable=False)
        conn.close()
        conn = socket.socket(fileno=3)
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 3:
            try:
                os.close(int(name))
            except OSError:
                pass                                  # the listing's own descriptor
    return conn


def _become_worker(spec: dict, conn: socket.socket, out_fd: int, scratch: str, namespaced: bool) -> None:
    """In the forked worker, as (namespace) root: lock it in, then serve the judge."""
    import tempfile

    die_with_parent()
    if namespaced:
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
        if spec.get("root"):
            rootfs.private_tmp([(p, rw) for p, rw in spec["keep_paths"]])
    else:
        os.setpgid(0, 0)
    uid, gid = spec.get("uid"), spec.get("gid")
    os.makedirs(scratch, mode=0o700)
    if uid is not None:
        os.chown(scratch, uid, gid)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    conn = _keep_only(conn)
    os.chdir(scratch)
    os.environ.update(HOME=scratch, TMPDIR=scratch, NST_HOME=spec["nst_home"])
    tempfile.tempdir = scratch                   # tempfile caches its choice; the zygote's may be shared
    _limits(spec)
    if uid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    elif namespaced and os.getuid() == 0 and spec.get("userns"):
        unshare(CLONE_NEWUSER)                   # no capabilities over the grader's mounts any more
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), write_through=True)
    sys.stderr = sys.stdout
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(0)
    Server(conn, spec["package"], spec["submission_root"], _SCENARIOS).serve()


def _spawn(spec: dict, conn: socket.socket, out_fd: int, n: int) -> tuple[int, int]:
    """Fork this test's worker; (keeper pid, worker pid), equal when there is no keeper."""
    scratch = os.path.join(spec["scratch"], str(n))
    namespaced = bool(spec.get("namespaces"))
    report_r, report_w = os.pipe()
    keeper = os.fork()
    if keeper == 0:
        os.close(report_r)
        code = 70
        try:
            die_with_parent()
            if namespaced:                           # own PIDs, mounts, network (loopback, down), IPC
                unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)
                pid = os.fork()
                if pid == 0:
                    os.close(report_w)
                    _become_worker(spec, conn, out_fd, scratch, True)
                    os._exit(0)
                os.write(report_w, str(pid).encode())
                os.close(report_w)
                conn.close()
                os.close(out_fd)
                _, status = os.waitpid(pid, 0)
                code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status) & 0x7F
            else:
                os.write(report_w, str(os.getpid()).encode())
                os.close(report_w)
                _become_worker(spec, conn, out_fd, scratch, False)
                code = 0
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
        os._exit(code)
    os.close(report_w)
    with os.fdopen(report_r) as f:
        worker = int(f.read() or keeper)
    conn.close()
    os.close(out_fd)
    return keeper, worker


def _stop(keeper: int, worker: int, namespaced: bool, scratch: str, exited: dict[int, int], dead: bool) -> str:
    """Kill the test's processes, reap them, remove the scratch folder; how the worker ended."""
    import time

    status = exited.pop(keeper, None)
    for _ in range(100 if status is None and dead else 0):   # a worker that died by itself: report how
        pid, status = os.waitpid(keeper, os.WNOHANG)
        if pid:
            break
        status = None
        time.sleep(0.01)
    if status is None:
        for pid in (worker, keeper):
            try:
                os.kill(pid if namespaced else -worker, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(keeper, 0)
        described = "was stopped"
    else:
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        described = _describe(code)
    if namespaced and worker != keeper:
        try:
            os.waitpid(worker, 0)          # reparented to us when the keeper died first
        except ChildProcessError:
            pass
    if not namespaced:
        try:
            os.killpg(worker, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    shutil.rmtree(scratch, ignore_errors=True)
    return described


def _describe(code: int) -> str:
    if code > 128:
        try:
            return f"was killed by {signal.Signals(code - 128).name}"
        except ValueError:
            return f"was killed by signal {code - 128}"
    return f"exited with status {code}"


_SCENARIOS: dict[tuple[str, str], tuple] = {}


def trusted_functions(modules: list[str]) -> dict[tuple[str, str], tuple]:
    """{(module, name): (function, its code)} of the tests' helper modules, imported by the zygote
    before any student code, so a submission that rebinds ``scenarios.model_shapes`` at import
    (or plants its own ``scenarios`` module) does not change what runs."""
    import importlib

    table = {}
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a helper for a part this course lacks (logged for the grader)
            traceback.print_exc()
            continue
        for attr, fn in vars(module).items():
            if callable(fn) and getattr(fn, "__module__", None) == name and hasattr(fn, "__code__"):
                table[name, attr] = (fn, fn.__code__)
    return table


def zygote(spec: dict) -> None:
    """Serve ``spawn``/``stop`` requests from the judge on the control socket (fd ``spec['control_fd']``)."""
    if spec.get("root"):
        rootfs.build(spec["root"], [(p, rw) for p, rw in spec["keep_paths"]])
        rootfs.private_tmp([(p, rw) for p, rw in spec["keep_paths"]])   # the zygote's own; each worker its own
        os.environ["HOME"] = "/tmp"             # the grader's home is not there
    sys.path[:0] = [spec["lib"], spec["submission_root"]]
    os.environ["NST_HOME"] = spec["nst_home"]
    preload = list(spec.get("preload", ["numpy"]))
    for name in preload + (list(TF_PRELOAD) if "tensorflow" in preload else []):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - a course without that part
            pass
    _SCENARIOS.update(trusted_functions(spec.get("helpers", [])))
    if any(m.split(".")[0] == spec["package"] for m in sys.modules):   # trusted code only, here and in ``pool``
        raise SystemExit(f"the zygote imported {spec['package']}: student code must be imported by workers only")
    gc.freeze()        # the workers' collector then never walks (and so copies) the zygote's objects
    control = socket.socket(fileno=int(spec["control_fd"]))
    workers: dict[int, tuple[int, int, str]] = {}
    exited: dict[int, int] = {}                      # keepers reaped before their stop request
    n = 0
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 4096, 2)
        except OSError:
            msg, fds = b"", []
        if not msg:
            return
        req = json.loads(msg)
        if req["op"] == "spawn" and len(fds) == 2:
            n += 1
            keeper, worker = _spawn(spec, socket.socket(fileno=fds[0]), fds[1], n)
            workers[n] = (keeper, worker, os.path.join(spec["scratch"], str(n)))
            control.sendall(json.dumps({"worker": n}).encode())
        elif req["op"] == "count" and not fds:       # the grader, between two submissions (``pool``)
            control.sendall(json.dumps({"workers": len(workers)}).encode())
        elif req["op"] == "stop" and req.get("worker") in workers:
            keeper, worker, scratch = workers.pop(req["worker"])
            control.sendall(json.dumps({"ended": _stop(keeper, worker, bool(spec.get("namespaces")),
                                                       scratch, exited, bool(req.get("dead")))}).encode())
        else:
            for fd in fds:
                os.close(fd)
            control.sendall(b'{"error": "bad request"}')
        while True:                                  # orphans of earlier tests
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if any(pid == w[0] for w in workers.values()):
                exited[pid] = status


if __name__ == "__main__":
    zygote(json.loads(Path(sys.argv[1]).read_text()))
