"""Zygotes kept between the submissions of one batch (``nst grade --batch``).

A zygote (``nst.grading.worker``) costs one TensorFlow import to start, about 3.5 s of CPU, as
much as the tests of a small submission. It never runs student code (its workers do, each in a
process and namespaces of its own), so one zygote can serve the submissions of a batch one after
the other. Between two submissions it is kept only when

- the sandbox has PID namespaces: every worker was pid 1 of its own, so stopping it left nothing
  of that submission running (without them, each submission gets a new zygote, as before);
- the judge ended cleanly: every test reported and the process exited by itself (a timeout, a
  crash or a stall stops the zygote, as before);
- the zygote answers that none of its workers is alive, with nothing else waiting on its socket.

Then its submission folder is rewritten with the next submission's modules (the workers import
them after the fork; the zygote never imports ``assignment``). Outside :func:`reuse`, every
judge gets a new zygote, stopped when it ends.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from nst.grading import sandbox

_lock = threading.Lock()
_idle: dict[tuple, list[sandbox.Zygote]] | None = None   # None: no reuse (outside ``reuse()``)


@contextlib.contextmanager
def reuse() -> Iterator[None]:
    """Within this block, :func:`release` keeps clean zygotes for the next :func:`acquire`; all are
    stopped when it ends."""
    global _idle
    with _lock:
        outer, _idle = _idle, {}
    try:
        yield
    finally:
        with _lock:
            mine, _idle = _idle, outer
        for zygote in (z for kept in mine.values() for z in kept):
            zygote.stop()


def acquire(root: Path, files: dict[str, bytes], modules: dict[str, bytes], env: dict[str, str],
            limits: sandbox.Limits, timeout: float, hide: tuple[str, ...], preload: tuple[str, ...]) -> sandbox.Zygote:
    """A zygote serving ``modules``: a kept one started with the same settings, or a new one (``sandbox.start``)."""
    # files: the course's verified tests, one dict for a whole batch; PYTHONPATH is the judge's tree (the
    # zygote's own is set by sandbox._launch)
    key = (id(files), tuple(sorted((k, v) for k, v in env.items() if k != "PYTHONPATH")), limits, timeout, hide,
           preload)
    with _lock:
        kept = _idle.get(key) if _idle is not None else None
        zygote = kept.pop() if kept else None
    if zygote is not None:
        try:
            sandbox.write_submission(zygote.box, modules)
            return zygote
        except OSError:
            zygote.stop()
    zygote = sandbox.start(root, files, modules, env, limits, timeout, hide, preload)
    zygote.key = key
    return zygote


def release(zygote: sandbox.Zygote, clean: bool) -> None:
    """After a judge: keep ``zygote`` for the next submission when it is safe (module doc), else stop it."""
    if clean and _idle is not None and sandbox.namespaces() is not None and zygote.idle():
        with _lock:
            if _idle is not None:
                _idle.setdefault(zygote.key, []).append(zygote)
                return
    zygote.stop()
