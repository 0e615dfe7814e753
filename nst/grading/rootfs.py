"""The file system a submission's code sees: an empty root holding only what grading needs.

Built once by the zygote (``build``: namespace root, in its own mount namespace, before any
student code exists), from an allow-list rather than by hiding folders:

    tmpfs /                       mode 0755, read-only once built; every parent folder below is
                                  created 0755 here, so the modes of its parents on the host
                                  (a Python under a 0700 /root, a 0750 home) no longer matter
      <each kept folder>          a read-only bind of the host folder at the same path: the Python
                                  installation(s) (``sys.prefix``, ``sys.base_prefix``, the
                                  executable's folder, site-packages), the system libraries
                                  (/usr, /lib*), the sandbox's library, submission and weights
      <scratch>                   the only writable bind (each test's working folder is inside)
      /etc/<a few files>          what the C library reads (ld.so.cache, passwd, group, ...)
      /dev/{null,zero,random,urandom}   binds of the host's devices; fd, stdin, ... link to /proc
      /proc                       the zygote's PID namespace (each worker mounts its own)
      /tmp /var/tmp /dev/shm /run/lock  empty mount points

then ``pivot_root`` into it, the old root detached. Each worker (``private_tmp``), in its own
mount namespace, mounts a fresh size-limited tmpfs on /tmp, /var/tmp, /dev/shm and /run/lock
(nothing there outlives the test or is shared with another one) and binds back the kept
folders that lie under them (the sandbox usually sits in the host's /tmp).
"""
from __future__ import annotations

import ctypes
import os
import platform

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = (
    1, 2, 4, 32, 4096, 8192, 16384, 1 << 18)
MNT_DETACH = 2
SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/sys/devices/system/cpu")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime", "hosts",
       "host.conf", "mime.types", "ssl/certs")
DEVICES = ("null", "zero", "random", "urandom")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}
PRIVATE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
PRIVATE_SIZE = "64m"                 # per folder and test; the worker's files are limited to 64 MiB too
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _bind(src: str, target: str, read_only: bool) -> None:
    mount(src, target, None, MS_BIND | MS_REC)
    if read_only:
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _outermost(keep: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Kept folders, parents first; one inside a kept folder with the same access is dropped."""
    out: list[tuple[str, bool]] = []
    for path, rw in sorted(set(keep), key=lambda k: (len(k[0]), k[0])):
        if not any(rw == r and (path == p or path.startswith(p.rstrip("/") + "/")) for p, r in out):
            out.append((path, rw))
    return out


def build(new_root: str, keep: list[tuple[str, bool]]) -> None:
    """Make ``new_root`` (an empty folder) the root of this mount namespace, holding only ``keep``
    ([(host folder, writable)]) plus the system parts above; see the module doc."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    inside = lambda p: new_root + p  # noqa: E731
    for top in SYSTEM:
        if os.path.islink(top):
            os.makedirs(os.path.dirname(inside(top)), mode=0o755, exist_ok=True)
            os.symlink(os.readlink(top), inside(top))
    system = [(p, False) for p in SYSTEM if os.path.isdir(p) and not os.path.islink(p)]
    etc = [(f"/etc/{name}", False) for name in ETC if os.path.exists(f"/etc/{name}")]
    for path, rw in _outermost([(os.path.realpath(p), rw) for p, rw in keep if os.path.isdir(p)] + system) + etc:
        target = inside(path)
        if os.path.isdir(path):
            os.makedirs(target, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            open(target, "a").close()
        _bind(path, target, not rw)
    os.makedirs(inside("/dev"), mode=0o755, exist_ok=True)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            open(inside(f"/dev/{name}"), "a").close()
            mount(f"/dev/{name}", inside(f"/dev/{name}"), None, MS_BIND)
    for name, target in DEV_LINKS.items():
        os.symlink(target, inside(f"/dev/{name}"))
    for path in (*PRIVATE, "/proc", "/dev/pts"):
        os.makedirs(inside(path), mode=0o755, exist_ok=True)
    mount("proc", inside("/proc"), "proc", MS_NOSUID | MS_NODEV)
    _pivot(new_root)
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _pivot(new_root: str) -> None:
    """``new_root`` becomes ``/`` and the old root is detached (``pivot_root(".", ".")``); where
    pivot_root is refused (e.g. a root on ramfs), move the mount over / and chroot."""
    os.chdir(new_root)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is not None and _libc.syscall(number, b".", b".") == 0:
        _check(_libc.umount2(b".", MNT_DETACH), "umount the old root")
    else:
        mount(new_root, "/", None, MS_MOVE)
        os.chroot(".")
    os.chdir("/")


def private_tmp(keep: list[tuple[str, bool]]) -> None:
    """In a worker's own mount namespace: a fresh tmpfs on each ``PRIVATE`` folder, with the kept
    folders that lie under it bound back (as they were: read-only or not)."""
    for top in PRIVATE:
        under = [(p, rw) for p, rw in _outermost(keep) if p.startswith(top + "/")]
        fds = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY), rw) for p, rw in under if os.path.isdir(p)]
        if not os.path.isdir(top):
            continue
        mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={PRIVATE_SIZE}")
        for path, fd, rw in fds:
            os.makedirs(path, mode=0o755, exist_ok=True)
            _bind(f"/proc/self/fd/{fd}", path, not rw)
            os.close(fd)
