"""The judge's view of student code: proxies whose every use is a request to the test's worker.

Under the grader (``$NST_GRADE_CONTROL_FD`` set, see ``sandbox``), ``impl_module("fast_style")``
returns a ``RemoteModule``. Getting an attribute, calling, indexing, ``len``, iterating or
setting an attribute is sent to the worker process of the current test, and what comes back
is plain data (``wire.decode``): numbers, strings, numpy arrays, ``tf.Tensor`` rebuilt here
from arrays, lists/tuples/dicts of them; anything else (the student's objects, Keras layers,
``tf.Variable``) stays in the worker and comes back as a ``Remote`` handle. The same worker
object always comes back as the same handle or tensor, so ``obj.attr is out`` still works.

``scenario(fn, "style_transfer")`` runs a trusted function from the tests' helper modules in
the worker with the student's modules as arguments (for what needs a whole object: a gradient
tape over student code, a training step) and returns its plain-data result.

Outside the grader both return the student's real module and call ``fn`` in-process, so a
plain ``pytest`` imports the student code directly, exactly as before.
"""
from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import socket
import threading
from typing import Any, Callable

from nst.grading import blame, wire

CONTROL_ENV = "NST_GRADE_CONTROL_FD"
FORWARDED_DUNDERS = {"__new__", "__init__", "__name__", "__qualname__", "__doc__", "__module__", "__dict__",
                     "__self__", "__func__", "__wrapped__"}
OUTPUT_KEEP = 4000


class WorkerCrashed(Exception):
    """The submission's process died (or sent garbage) during this test; ``nst_grader_fault``: before
    any student code was asked for (the sandbox failed, not the submission: ``Session._alive``)."""

    def __init__(self, message: str, grader_fault: bool = False):
        super().__init__(message)
        self.nst_grader_fault = grader_fault


class GradingFault(Exception):
    """The grader failed, not the submission (``blame``): the test is a grading error, never scored."""

    nst_grader_fault = True


class SubmissionError(Exception):
    """An exception of a non-builtin type raised by the student code (its type is in the message)."""


# ---------------------------------------------------------------------------- one test's worker
class _Output(threading.Thread):
    def __init__(self, fd: int):
        super().__init__(daemon=True)
        self.fd, self.data = fd, b""

    def run(self) -> None:
        with os.fdopen(self.fd, "rb", 0) as f:
            for chunk in iter(lambda: f.read(65536), b""):
                self.data = (self.data + chunk)[-OUTPUT_KEEP:]


class Session:
    """The judge's connection to the zygote; starts a worker on first use in a test, stops it at the end."""

    def __init__(self, control_fd: int):
        self.control = socket.socket(fileno=control_fd)
        self.sock: socket.socket | None = None
        self.worker: int | None = None
        self.output: _Output | None = None
        self.generation = 0
        self.refs: dict[int, Remote] = {}
        self.tensors: dict[int, Any] = {}
        self.last_printed = b""
        self.faults: list[str] = []    # grader faults seen during this test (even ones a test caught)

    def _control(self, request: dict, fds: list[int] = ()) -> dict:
        try:
            socket.send_fds(self.control, [json.dumps(request).encode()], list(fds))
            reply = self.control.recv(4096)
        except OSError as e:
            reply = b""
            stopped = f"the grader's sandbox stopped ({type(e).__name__}: {e})"
        else:
            stopped = "the grader's sandbox stopped"
        if not reply:                     # the zygote is trusted and never runs student code: the grader's
            self.faults.append(stopped)
            raise WorkerCrashed(stopped, grader_fault=True)
        return json.loads(reply)

    def _start(self) -> None:
        mine, theirs = socket.socketpair()
        read_end, write_end = os.pipe()
        try:
            reply = self._control({"op": "spawn"}, [theirs.fileno(), write_end])
        finally:
            theirs.close()
            os.close(write_end)
        self.sock, self.worker = mine, reply["worker"]
        self.output = _Output(read_end)
        self.output.start()
        self._alive()

    def _alive(self) -> None:
        """The new worker answers one trusted request before any student code is asked for: if it dies
        before that (its setup failed), the test is the grader's failure, not the student's."""
        buf = io.BytesIO()
        _Pickler(buf).dump({"op": "alive"})
        try:
            wire.send(self.sock, buf.getvalue())
            wire.recv(self.sock)              # any well-framed answer: it is serving
        except (EOFError, OSError, wire.WireError) as e:
            how = self.end_test(dead=True)
            reason = f"the sandbox's worker {how or 'stopped answering'} before any student code ran ({e})"
            self.faults.append(reason)
            raise WorkerCrashed(reason, grader_fault=True) from None

    def end_test(self, dead: bool = False) -> str | None:
        """Stop this test's worker (its whole process tree) and forget its objects; how it ended."""
        ended = None
        if self.worker is not None:
            ended = self._control({"op": "stop", "worker": self.worker, "dead": dead}).get("ended")
            self.sock.close()
            if self.output is not None:
                self.output.join(timeout=2)
                self.last_printed = self.output.data
        self.sock = self.worker = self.output = None
        self.generation += 1
        self.refs.clear()
        self.tensors.clear()
        return ended

    def printed(self) -> str:
        data = self.output.data if self.output is not None else self.last_printed
        return data.decode(errors="replace")

    def request(self, op: str, **fields) -> Any:
        if self.sock is None:
            self._start()
        buf = io.BytesIO()
        _Pickler(buf).dump({"op": op, **fields})
        error = value = None
        try:
            wire.send(self.sock, buf.getvalue())
            reply = wire.loads(wire.recv(self.sock))
            if not isinstance(reply, dict):
                raise wire.WireError("a reply must be an object")
            if "error" in reply:
                error = _error(reply["error"])
            else:
                value = wire.decode(reply.get("ok"), self._ref, self._tensor)
        except (EOFError, OSError, wire.WireError, ValueError, TypeError, KeyError, RecursionError) as e:
            how = self.end_test(dead=True) if self.worker is not None else None
            tail = self.printed()
            reason = f"the submission's process {how or 'stopped answering'} during this test"
            if not isinstance(e, (EOFError, OSError)):
                reason = f"the submission's process sent malformed data ({type(e).__name__}: {str(e)[:200]})"
            raise WorkerCrashed(reason + (f"\n--- its last output ---\n{tail}" if tail.strip() else "")) from None
        if error is not None:
            if isinstance(error, GradingFault):
                self.faults.append(str(error).splitlines()[0][:200])
            raise error
        return value

    def _ref(self, info: dict) -> "Remote":
        ident = info["id"]
        if ident not in self.refs:
            self.refs[ident] = Remote(self, ident, info["type"], info["kind"])
        return self.refs[ident]

    def _tensor(self, array, ident: int):
        if ident not in self.tensors:
            import tensorflow as tf

            self.tensors[ident] = tf.constant(array)
        return self.tensors[ident]


def _error(info: Any) -> BaseException:
    if not isinstance(info, dict):
        return wire.WireError("malformed error")
    name, message = str(info.get("type", "Exception"))[:100], str(info.get("message", ""))[:5000]
    trace = str(info.get("traceback", ""))[:20000]
    import builtins

    cls = getattr(builtins, name, None) if info.get("builtin") else None
    text = f"{message}\n\n{trace}" if trace else message
    if blame.grader_fault(info.get("blame")):
        return GradingFault(f"the grader failed, not the submission: {name}: {text}")
    if isinstance(cls, type) and issubclass(cls, Exception) and cls not in (StopIteration, StopAsyncIteration):
        try:
            exc = cls(text)
        except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError needs five arguments
            exc = SubmissionError(f"{name}: {text}")
    else:
        exc = SubmissionError(f"{name}: {text}")
    exc.nst_grader_fault = False          # the submission's own failure (blame.judge_fault)
    return exc


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Remote):
            return ("ref", object.__getattribute__(obj, "_nst_ident")())
        tf = wire._tf()
        if tf is not None and isinstance(obj, (tf.Tensor, tf.Variable)):
            return ("tensor", obj.numpy())
        return None


# ---------------------------------------------------------------------------- proxies
class Remote:
    """A handle on an object that lives in the worker."""

    __slots__ = ("_nst_session", "_nst_id", "_nst_type", "_nst_kind", "_nst_generation")

    def __init__(self, session: Session, ident: int | None, type_name: str, kind: str):
        for k, v in (("_nst_session", session), ("_nst_id", ident), ("_nst_type", type_name), ("_nst_kind", kind),
                     ("_nst_generation", session.generation)):
            object.__setattr__(self, k, v)

    def _nst_ident(self) -> int:
        s = object.__getattribute__(self, "_nst_session")
        if object.__getattribute__(self, "_nst_generation") != s.generation:
            raise RuntimeError("this object belongs to an earlier test's process")
        return object.__getattribute__(self, "_nst_id")

    def _nst_do(self, op: str, **fields):
        ident = object.__getattribute__(self, "_nst_ident")()
        return object.__getattribute__(self, "_nst_session").request(op, ref=ident, **fields)

    def __getattribute__(self, name: str):
        if name.startswith("_nst_") or name == "__class__" or (name in _LOCAL and name not in FORWARDED_DUNDERS):
            return object.__getattribute__(self, name)
        if name.startswith("__") and name.endswith("__") and name not in FORWARDED_DUNDERS:
            raise AttributeError(name)
        return object.__getattribute__(self, "_nst_do")("getattr", name=name)

    def __setattr__(self, name: str, value) -> None:
        self._nst_do("setattr", name=name, value=value)

    def __delattr__(self, name: str) -> None:
        self._nst_do("delattr", name=name)

    def __call__(self, *args, **kwargs):
        return self._nst_do("call", args=args, kwargs=kwargs)

    def __getitem__(self, key):
        return self._nst_do("getitem", key=key)

    def __setitem__(self, key, value) -> None:
        self._nst_do("setitem", key=key, value=value)

    def __len__(self) -> int:
        return self._nst_do("len")

    def __iter__(self):
        return iter(self._nst_do("iter"))

    def __contains__(self, value) -> bool:
        return self._nst_do("contains", value=value)

    def __bool__(self) -> bool:
        return bool(self._nst_do("bool"))

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        return np.asarray(self._nst_do("value"), dtype=dtype)

    def __float__(self) -> float:
        return float(self.__array__())

    def __int__(self) -> int:
        return int(self.__array__())

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_nst_type')} in the submission's process>"


_LOCAL = {k for k in vars(Remote)} - {"__slots__"}


class RemoteModule(Remote):
    """``assignment.<name>`` in whichever worker the current test has (imported there on first use)."""

    __slots__ = ("_nst_name",)

    def __init__(self, session: Session, name: str):
        super().__init__(session, None, name, "module")
        object.__setattr__(self, "_nst_name", name)

    def _nst_ident(self) -> int:
        s = object.__getattribute__(self, "_nst_session")
        if object.__getattribute__(self, "_nst_generation") != s.generation or object.__getattribute__(self, "_nst_id") is None:
            handle = s.request("module", name=object.__getattribute__(self, "_nst_name"))
            object.__setattr__(self, "_nst_id", object.__getattribute__(handle, "_nst_id"))
            object.__setattr__(self, "_nst_generation", s.generation)
        return object.__getattribute__(self, "_nst_id")

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<module assignment.{object.__getattribute__(self, '_nst_name')} in the submission's process>"


# ---------------------------------------------------------------------------- what conftest.py uses
_session: Session | None = None


def session() -> Session | None:
    """The grader's session in this process, or None under a plain pytest."""
    global _session
    if _session is None and os.environ.get(CONTROL_ENV):
        _session = Session(int(os.environ[CONTROL_ENV]))
        try:
            import tensorflow as tf

            tf.register_tensor_conversion_function(
                Remote, lambda v, dtype=None, name=None, as_ref=False: tf.constant(v.__array__(), dtype=dtype))
        except ImportError:
            pass
    return _session


def module_loader(impl: str) -> Callable[[str], Any]:
    """``impl_module``: the student module ``impl.<name>``, through the worker under the grader."""
    s = session()
    if s is None:
        return lambda name: importlib.import_module(f"{impl}.{name}")
    modules: dict[str, RemoteModule] = {}
    return lambda name: modules.setdefault(name, RemoteModule(s, name))


def scenario_runner(impl: str) -> Callable[..., Any]:
    """``scenario(fn, "module", ..., **kwargs)``: ``fn(<modules>, **kwargs)``, in the worker under the grader.

    ``fn`` must live in a helper module beside the tests (e.g. tests/scenarios.py), which the
    worker imports from its own trusted copy; its result should be plain data.
    """
    def run(fn: Callable, *modules: str, **kwargs):
        s = session()
        if s is None:
            return fn(*[importlib.import_module(f"{impl}.{m}") for m in modules], **kwargs)
        return s.request("scenario", module=fn.__module__, name=fn.__qualname__, modules=list(modules),
                         args=(), kwargs=kwargs)
    return run
