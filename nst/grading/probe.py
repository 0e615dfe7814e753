"""Before grading: can the sandbox run what the tests need? (once per grader process)

A grading error must never be scored as the student's failure. The usual cause is the
environment: a Python installation or weights file the workers' user cannot read (a pyenv
Python under a 0700 /root, a 0600 file in a venv). ``check`` starts a real sandbox on the
untouched stubs, and one worker in it, as the user and with the file system the submissions
get, runs ``in_worker`` (trusted code; no student module is imported): it imports every
standard codec (``encodings.cp437`` is what ``np.load`` of a zip needs), the standard modules
the library uses lazily, numpy, TensorFlow and the tests' helper modules, reads every file of
the Python installation the grader's own modules came from, reads each cached weights file
whole with ``np.load``, runs a small TensorFlow gradient, and writes a temporary file. If
anything fails, grading stops with one ``error:`` line naming the path and the fix.

It also prints, once, the one ``warning:`` line naming the protections this machine lacks
(``sandbox.missing``).
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from nst.errors import NstError
from nst.grading import sandbox

WINDOWS_CODECS = {"mbcs", "oem"}
STDLIB = ("zipfile", "zlib", "bz2", "lzma", "json", "pickle", "hashlib", "tempfile", "ctypes", "decimal", "csv",
          "random", "importlib.metadata")
_lock = threading.Lock()
_done: dict[tuple, str | None] = {}


# ---------------------------------------------------------------------------- in the worker
def _attempt(problems: list[str], what: str, fn) -> None:
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - anything the sandbox breaks
        problems.append(f"{what}: {type(e).__name__}: {e}")


def _unreadable(top: str, limit: int = 3) -> list[str]:
    """Folders that cannot be listed and files that cannot be read under ``top``."""
    bad: list[str] = []
    unlisted = bad.append
    for folder, _, names in os.walk(top, onerror=lambda e: unlisted(f"{e.filename}: cannot list it")):
        bad += [os.path.join(folder, n) + ": cannot read it" for n in names
                if not os.access(os.path.join(folder, n), os.R_OK) and os.path.exists(os.path.join(folder, n))]
        if len(bad) >= limit:
            break
    return bad[:limit]


def in_worker(weights: str, modules: list[str], installations: list[str]) -> list[str]:
    """What the sandbox cannot do, one line each ("<what>: <error>"); empty when all is well."""
    import codecs
    import importlib
    import pkgutil

    problems: list[str] = []
    import encodings

    for info in pkgutil.iter_modules(encodings.__path__):
        if info.name in WINDOWS_CODECS:
            continue
        _attempt(problems, f"the codec encodings.{info.name}", lambda n=info.name: importlib.import_module(f"encodings.{n}"))
    _attempt(problems, "the cp437 codec", lambda: codecs.lookup("cp437"))
    for name in (*STDLIB, *modules):
        _attempt(problems, f"import {name}", lambda n=name: importlib.import_module(n))
    from nst.grading.rootfs import _outermost

    for top, _ in _outermost([(p, False) for p in installations]):
        problems += [f"the Python installation: {line}" for line in _unreadable(top)]
    for path in sorted(Path(weights, "weights").glob("*.npz")):
        _attempt(problems, f"the weights file {path.name}", lambda p=path: _read_npz(p))
    if "tensorflow" in sys.modules:
        _attempt(problems, "TensorFlow", _tf_gradient)
    import tempfile

    _attempt(problems, "a temporary file", lambda: tempfile.TemporaryFile().close())
    return problems


def _read_npz(path: Path) -> None:
    import numpy as np

    with np.load(path) as z:
        for key in z.files:
            z[key]


def _tf_gradient() -> None:
    import tensorflow as tf

    x = tf.Variable(tf.ones((1, 8, 8, 3)))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.nn.avg_pool2d(tf.nn.conv2d(x, tf.ones((3, 3, 3, 2)), 1, "SAME"), 2, 2, "SAME"))
    assert float(tf.reduce_sum(tape.gradient(y, x))) > 0


# ---------------------------------------------------------------------------- in the grader
def check(root: Path, files: dict[str, bytes], stubs: dict[str, bytes], limits: sandbox.Limits,
          preload: tuple[str, ...]) -> None:
    """Run the probe once per grader process and setup; raise NstError (one line) if it fails."""
    key = (str(root), preload, limits)
    with _lock:
        if key not in _done:
            _warn_missing()
            _done[key] = _run(root, files, stubs, limits, preload)
    if _done[key]:
        raise NstError(_done[key])


_warned: list[bool] = []


def _warn_missing() -> None:
    missing = sandbox.missing()
    if missing and not _warned:
        _warned.append(True)
        print(f"warning: the grading sandbox lacks {'; '.join(missing)} (see grading.md of the docs)",
              file=sys.stderr, flush=True)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NST_", "PYTEST_"))}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(root: Path, files: dict[str, bytes], stubs: dict[str, bytes], limits: sandbox.Limits,
         preload: tuple[str, ...]) -> str | None:
    """None, or the one-line error."""
    from nst.grading.remote import Session, WorkerCrashed
    modules = [*preload, *(sandbox.TF_PRELOAD if "tensorflow" in preload else ()),
               *sorted(name[:-3] for name in sandbox.helper_modules(files))]
    zygote = sandbox.start(root, files, stubs, _env(), limits, 120.0, (), preload)
    session = Session(zygote.judge_fd)
    try:
        problems = session.request("probe", kwargs={"weights": str(sandbox._data()), "modules": modules,
                                                    "installations": sandbox.python_paths()})
        session.end_test()
    except (WorkerCrashed, OSError, ValueError) as e:
        lines = [line for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
        problems = [f"a worker at all ({lines[0]}: {lines[-1].strip()})"]
    finally:
        session.control.detach()          # the descriptor is the zygote's to close
        zygote.stop()
    if not problems:
        return None
    if os.environ.get("NST_GRADE_DEBUG"):
        print("\n".join(problems), file=sys.stderr)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    user = "its own user" if os.geteuid() == 0 else "this user"
    return (f"the grading sandbox cannot use {problems[0]}{more}; its workers run as {user} with only the Python "
            f"installation, the library and the weights visible: make that file readable by other users "
            f"(chmod o+r, and o+x on its folders inside the installation) or install Python and the weights "
            f"where they are, then grade again")
