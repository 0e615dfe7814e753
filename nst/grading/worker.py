"""The side of the grader that runs student code: ``python -m nst.grading.worker SPEC.json``.

One *zygote* per judge process (started by ``sandbox.start``, inside its own PID and mount
namespaces when the kernel allows) imports numpy, TensorFlow and ``nst`` (trusted code only),
then, for every graded test the judge runs, forks a *worker*:

    zygote (pid 1 of the submission's namespace, root)
      └ keeper (a new PID + mount namespace for this test)
          └ worker (pid 1 there: /proc remounted, rlimits, the unprivileged uid, cwd = its scratch)

The worker imports ``assignment.<module>`` from the sandbox and answers the judge's requests
on its own socket (``Server``); when the test ends the judge asks the zygote to ``stop`` it,
which kills the worker, so the kernel kills everything in that namespace (setsid'd children
too), and reaps it before answering. Student code never runs in the zygote or the judge.
"""
from __future__ import annotations

import ctypes
import io
import json
import os
import pickle
import shutil
import signal
import socket
import sys
import traceback
from pathlib import Path

from nst.grading import blame, wire

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER = 0x20000, 0x20000000, 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1
TF_PRELOAD = ("tensorflow", "keras", "nst.gatys", "nst.vgg", "nst.losses", "nst.weights", "nst.runtime",
              "nst.fast.train", "nst.arbitrary.networks")
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# ---------------------------------------------------------------------------- the view of the filesystem
def hide(spec: dict) -> None:
    """Cover each ``spec['hide']`` folder with an empty read-only tmpfs, then bind back ``spec['keep']``.

    Run once by the zygote as (namespace) root, before any student code exists.
    """
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = [(k, os.open(k, os.O_PATH | os.O_DIRECTORY), rw) for k, rw in spec["keep"] if os.path.isdir(k)]
    hidden = []
    for path in sorted(spec["hide"], key=len):
        if os.path.isdir(path) and not any(path == h or path.startswith(h + "/") for h in hidden):
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
            hidden.append(path)
    for path, fd, rw in keep:
        if any(path.startswith(h + "/") or path == h for h in hidden):
            os.makedirs(path, mode=0o755, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            if not rw:
                mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)
    for path in hidden:
        mount(None, path, "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


# ---------------------------------------------------------------------------- serving the judge
def _where(filename: str, submission: str) -> str:
    if filename.startswith(submission + "/"):
        return filename[len(submission) + 1:]            # assignment/style_transfer.py
    for marker in ("/site-packages/", "/nst/"):
        if marker in filename:
            return "<library>/" + filename.rsplit(marker, 1)[1]
    return "<python>/" + os.path.basename(filename)


def student_traceback(exc: BaseException, submission: str) -> str:
    """The traceback with paths relative to the submission; library frames only named."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]   # drop Server.handle itself
    lines = ["Traceback (most recent call last), in the submission's process:"]
    for f in frames:
        lines.append(f'  File "{_where(f.filename, submission)}", line {f.lineno}, in {f.name}')
        if f.line and f.filename.startswith(submission + "/"):
            lines.append(f"    {f.line}")
    lines += [line.rstrip() for line in traceback.format_exception_only(type(exc), exc)]
    return "\n".join(lines)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, server: "Server"):
        super().__init__(io.BytesIO(data))
        self.server = server

    def persistent_load(self, pid):
        kind, value = pid
        if kind == "ref":
            return self.server.objects[value]
        import tensorflow as tf

        return tf.constant(value)


class Server:
    """Answers ``{"op": ...}`` requests on ``sock``; keeps every object it handed out alive."""

    def __init__(self, sock: socket.socket, package: str, submission: str):
        self.sock, self.package, self.submission = sock, package, submission
        self.objects: dict[int, object] = {}

    def _ref(self, obj) -> dict:
        tf = sys.modules.get("tensorflow")           # never imported here for a course without it
        self.objects[id(obj)] = obj
        kind = "variable" if tf is not None and isinstance(obj, tf.Variable) else "object"
        return {"$": "ref", "id": id(obj), "type": type(obj).__name__, "kind": kind}

    def _tensor(self, t) -> int:
        self.objects[id(t)] = t
        return id(t)

    def handle(self, req: dict):
        import importlib

        op, target = req["op"], self.objects.get(req.get("ref"))
        if op == "alive":                    # the judge's first request, before any student code
            return True
        if op == "module":
            return importlib.import_module(f"{self.package}.{req['name']}")
        if op == "scenario":
            module = importlib.import_module(req["module"])
            impl = [importlib.import_module(f"{self.package}.{m}") for m in req["modules"]]
            return getattr(module, req["name"])(*impl, *req["args"], **req["kwargs"])
        if op == "getattr":
            return getattr(target, req["name"])
        if op == "setattr":
            return setattr(target, req["name"], req["value"])
        if op == "delattr":
            return delattr(target, req["name"])
        if op == "call":
            return target(*req["args"], **req["kwargs"])
        if op == "getitem":
            return target[req["key"]]
        if op == "setitem":
            target[req["key"]] = req["value"]
            return None
        if op == "len":
            return len(target)
        if op == "iter":
            return list(target)
        if op == "contains":
            return req["value"] in target
        if op == "bool":
            return bool(target)
        if op == "value":
            import numpy as np

            return target.numpy() if hasattr(target, "numpy") else np.asarray(target)
        raise ValueError(f"unknown request {op!r}")

    def serve(self) -> None:
        while True:
            try:
                req = _Unpickler(wire.recv(self.sock), self).load()
            except EOFError:
                return
            try:
                reply = {"ok": wire.encode(self.handle(req), self._ref, self._tensor)}
            except BaseException as e:  # noqa: BLE001 - student code raises anything, SystemExit included
                reply = {"error": {"type": type(e).__name__, "builtin": type(e).__module__ == "builtins",
                                   "message": str(e)[:5000], "traceback": student_traceback(e, self.submission),
                                   "blame": blame.flags(e, self.submission, self.package)}}
            try:
                payload = wire.dumps(reply)
            except (TypeError, ValueError) as e:
                payload = wire.dumps({"error": {"type": "TypeError", "builtin": True, "message": str(e),
                                                "traceback": ""}})
            wire.send(self.sock, payload)


# ---------------------------------------------------------------------------- one test's worker
def _limits(spec: dict) -> None:
    import resource

    mem, cpu = int(spec["memory_bytes"]), int(spec["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(spec["file_bytes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if spec.get("uid") is not None:          # counts the grader user's processes and threads
        resource.setrlimit(resource.RLIMIT_NPROC, (int(spec["processes"]),) * 2)


def _become_worker(spec: dict, conn: socket.socket, out_fd: int, scratch: str, namespaced: bool) -> None:
    """In the forked worker, as (namespace) root: lock it in, then serve the judge."""
    die_with_parent()
    if namespaced:
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    else:
        os.setpgid(0, 0)
    uid = spec.get("uid")
    os.makedirs(scratch, mode=0o700)
    if uid is not None:
        os.chown(scratch, uid, uid)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    os.chdir(scratch)
    os.environ.update(HOME=scratch, TMPDIR=scratch, NST_HOME=spec["nst_home"])
    _limits(spec)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
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
    Server(conn, spec["package"], spec["submission_root"]).serve()


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
            if namespaced:
                unshare(CLONE_NEWPID | CLONE_NEWNS)
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


def zygote(spec: dict) -> None:
    """Serve ``spawn``/``stop`` requests from the judge on the control socket (fd ``spec['control_fd']``)."""
    if spec.get("hide_paths"):
        hide({"hide": spec["hide_paths"], "keep": spec["keep_paths"]})
    sys.path[:0] = [spec["lib"], spec["submission_root"]]
    os.environ["NST_HOME"] = spec["nst_home"]
    preload = list(spec.get("preload", ["numpy"]))
    for name in preload + (list(TF_PRELOAD) if "tensorflow" in preload else []):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - a course without that part
            pass
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
