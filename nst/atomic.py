"""The one way nst writes a file: into a temp file beside it, then a rename.

A reader never sees a half-written file, a failure leaves no trace (the temp file is
removed and whatever was at ``path`` stays), and the file gets the mode a plain
``open()`` would give it (0666 minus the umask), not ``mkstemp``'s 0600, so weights
cached by one user stay readable by the grader's sandboxed workers and by other users.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _publish(tmp: str, path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: write(tmp)``: ``p`` appears, complete, only when the block succeeds.

    The temp file is created (empty) beside ``p`` with ``p``'s suffix (or ``suffix``), so writers that
    pick the format from the extension (Pillow, ffmpeg, ``np.savez``) see the right one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix if suffix is None else suffix,
                               dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write bytes or text (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)
