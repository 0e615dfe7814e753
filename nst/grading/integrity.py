"""The sha256 manifest of everything graded runs read under ``tests/``.

``tests/manifest.sha256`` has one ``<sha256>  <path>`` line per file (paths relative to
the repository root, so ``sha256sum -c tests/manifest.sha256`` works there too). It covers
every ``conftest.py``, every test file that declares ``pytest.mark.graded``, the helper
modules beside them, and all of ``tests/reference/`` and ``tests/hidden/``. Instructors
regenerate it with ``nst grade --update-manifest`` after changing a graded test.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from nst.errors import NstError

MANIFEST = "tests/manifest.sha256"
DATA_DIRS = ("reference", "hidden")          # under tests/: taken whole
SKIP_PARTS = {"__pycache__", ".pytest_cache", "planted"}
GRADED_MARK = "mark.graded"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _skipped(rel: Path) -> bool:
    return bool(SKIP_PARTS.intersection(rel.parts)) or rel.suffix == ".pyc" or rel.name.startswith(".")


def graded_files(root: Path) -> list[str]:
    """Paths (relative to ``root``, posix) of the test files graded runs use, sorted."""
    tests = root / "tests"
    if not tests.is_dir():
        raise NstError(f"{tests} not found: run the grader from the course repository (or pass --root)")
    found = set()
    for path in tests.rglob("*"):
        rel = path.relative_to(tests)
        if not path.is_file() or _skipped(rel):
            continue
        in_data = rel.parts[0] in DATA_DIRS
        if path.suffix == ".py" and not in_data and len(rel.parts) > 1:
            continue                                       # other sub-folders are not graded
        if path.name.startswith("test_") and path.suffix == ".py" and not in_data:
            if GRADED_MARK not in path.read_text(errors="replace"):
                continue                                   # an ungraded test file
        elif path.suffix != ".py" and not in_data:
            continue                                       # README, manifest, ...
        found.add(f"tests/{rel.as_posix()}")
    return sorted(found)


def compute(root: Path) -> dict[str, str]:
    return {rel: sha256(root / rel) for rel in graded_files(root)}


def write_manifest(root: Path) -> Path:
    """(Re)write ``tests/manifest.sha256`` for the current tests; return its path."""
    from nst.images import write_atomic

    lines = [f"{digest}  {rel}\n" for rel, digest in compute(root).items()]
    path = write_atomic(root / MANIFEST, "".join(lines))
    path.chmod(0o644)                      # a tracked file, not a private temp file
    return path


def read_manifest(root: Path) -> dict[str, str]:
    path = root / MANIFEST
    if not path.is_file():
        raise NstError(f"{MANIFEST} not found in {root}: run `nst grade --update-manifest` first")
    entries = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or rel.startswith("/") or ".." in Path(rel).parts:
            raise NstError(f"{MANIFEST}:{n}: expected '<sha256>  tests/<path>', got {line[:60]!r}")
        entries[rel] = digest
    return entries


def _check(root: Path, manifest: dict[str, str]) -> tuple[dict[str, bytes], list[str]]:
    files, found = {}, []
    for rel, digest in manifest.items():
        path = root / rel
        if not path.is_file():
            if not rel.startswith("tests/hidden/"):        # the student release has no hidden tests
                found.append(f"{rel} is missing")
            continue
        files[rel] = path.read_bytes()
        if hashlib.sha256(files[rel]).hexdigest() != digest:
            found.append(f"{rel} does not match {MANIFEST}")
    found += [f"{rel} is not in {MANIFEST}" for rel in graded_files(root) if rel not in manifest]
    return files, found


def problems(root: Path, manifest: dict[str, str]) -> list[str]:
    """What differs between the tests in ``root`` and ``manifest`` (hidden tests may be absent)."""
    return _check(root, manifest)[1]


def verify(root: Path) -> dict[str, bytes]:
    """The manifest's files as verified bytes {path: content}; one clear NstError if anything differs.

    Grading writes these bytes into each work tree, so edits to the checkout made while a
    batch runs never reach it.
    """
    files, found = _check(root, read_manifest(root))
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise NstError(f"refusing to grade: {found[0]}{more}; if the tests changed on purpose, "
                       f"run `nst grade --update-manifest`")
    return files


def tree_changes(work: Path, files: dict[str, bytes]) -> list[str]:
    """Files under ``work/tests`` that a run added or changed, compared with the trusted ``files``."""
    present = {f"tests/{p.relative_to(work / 'tests').as_posix()}" for p in (work / "tests").rglob("*")
               if p.is_file() and not _skipped(p.relative_to(work / "tests"))}
    changes = [f"{rel} was changed" for rel in sorted(present & files.keys())
               if (work / rel).read_bytes() != files[rel]]
    changes += [f"{rel} was added" for rel in sorted(present - files.keys())]
    return changes
