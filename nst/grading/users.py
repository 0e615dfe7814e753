"""One unprivileged user per submission being graded, from a pool: ``nst-grader-0``, ``-1``, ...

When the grader runs as root, each sandbox (one submission's zygote) leases a user of the pool
for its lifetime: its workers run as that uid and its own group, so the per-user limits
(``RLIMIT_NPROC``: processes and threads) and file ownership are not shared with a classmate
graded at the same time. A lease is an exclusive ``flock`` on ``/run/nst-grader-leases/<name>``
(mode 0700, root's; ``<tmp>/`` where /run is not writable), so two grader processes on one
machine never hand out the same user either; it is released when the sandbox stops, after every process of that submission is gone.
Users are created on first need with ``useradd --system --user-group`` (no home, no shell).
"""
from __future__ import annotations

import fcntl
import os
import pwd
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

PREFIX = "nst-grader-"
POOL_SIZE = 256
_create = threading.Lock()


@dataclass
class Lease:
    name: str
    uid: int
    gid: int
    fd: int

    def release(self) -> None:
        try:
            os.close(self.fd)           # closing the descriptor drops the flock
        except OSError:
            pass


def _lease_dir() -> Path:
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    folder = base / "nst-grader-leases"
    folder.mkdir(mode=0o700, exist_ok=True)
    st = folder.stat()
    if st.st_uid != 0 or st.st_mode & 0o077 or folder.is_symlink():
        raise OSError(f"{folder} must be root's and mode 0700")
    return folder


def _user(name: str) -> pwd.struct_passwd:
    with _create:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", "--user-group", name], check=True, capture_output=True)
            return pwd.getpwnam(name)


def lease() -> Lease | None:
    """A user of the pool no other sandbox holds now (created if missing); None unless root."""
    if os.geteuid() != 0:
        return None
    folder = _lease_dir()
    for k in range(POOL_SIZE):
        name = f"{PREFIX}{k}"
        fd = os.open(folder / name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            entry = _user(name)
        except BaseException:
            os.close(fd)
            raise
        return Lease(name, entry.pw_uid, entry.pw_gid, fd)
    raise RuntimeError(f"all {POOL_SIZE} grader users are in use")


def is_pool_user(uid: int) -> bool:
    try:
        return pwd.getpwuid(uid).pw_name.startswith(PREFIX)
    except KeyError:
        return False
