"""The fresh tree one grading runs in: trusted library and tests, the submission's modules.

    <tmp>/nst/           copy of the grader's own ``nst`` package
    <tmp>/tests/         the files listed in tests/manifest.sha256, copied from the trusted checkout
    <tmp>/assignment/    the untouched stubs, overwritten by the submission's ``*.py``
    <tmp>/styles, content    copied when present
    <tmp>/pytest.ini

``solutions/`` is never there. A submission is a folder or a zip holding
``assignment/*.py`` (at any depth) or bare ``*.py`` files; one holding a symbolic link is refused
(a link to ``solutions/`` would otherwise be read by the grader).
"""
from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

import nst
from nst.errors import NstError

MAX_MODULE_BYTES = 1 << 20
IGNORED_MODULES = {"__init__.py", "conftest.py"}   # the package init comes from the stubs
DATA_DIRS = ("styles", "content")
PYTEST_INI = """[pytest]
markers =
    graded(points, part): a graded test worth `points` in part `part`
    slow: runs the real network end to end
filterwarnings = ignore::DeprecationWarning
"""


def _pick(names: list[str]) -> list[str]:
    """The module paths of a submission: the shallowest ``assignment/`` folder, else top-level files."""
    paths = [PurePosixPath(n) for n in names if n.endswith(".py") and "__MACOSX" not in n]
    in_assignment = [p for p in paths if p.parent.name == "assignment"]
    if in_assignment:
        top = min(len(p.parts) for p in in_assignment)
        chosen = [p for p in in_assignment if len(p.parts) == top]
    else:
        chosen = [p for p in paths if len(p.parts) == 1]
    return [str(p) for p in chosen if p.stem.isidentifier() and p.name not in IGNORED_MODULES]


def submission_files(path: Path) -> dict[str, bytes]:
    """{module file name: source} of a submission folder or zip; raises NstError (only) if unreadable."""
    if path.is_symlink():
        raise NstError(f"{path.name}: a submission may not be a symbolic link")
    if path.is_dir():
        links = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_symlink()]
        if links:
            raise NstError(f"{path.name}: symbolic links are not accepted in a submission ({links[0]})")
        names = [p.relative_to(path).as_posix() for p in path.rglob("*.py") if p.is_file()]
        read = lambda name: (path / name).read_bytes()  # noqa: E731
        sizes = {n: (path / n).stat().st_size for n in names}
        return {PurePosixPath(n).name: read(n) for n in _pick(names) if sizes[n] <= MAX_MODULE_BYTES}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
            links = [n for n, i in infos.items() if stat.S_ISLNK(i.external_attr >> 16)]
            if links:
                raise NstError(f"{path.name}: symbolic links are not accepted in a submission ({links[0]})")
            return {PurePosixPath(n).name: zf.read(infos[n]) for n in _pick(list(infos))
                    if infos[n].file_size <= MAX_MODULE_BYTES}
    except NstError:
        raise
    except Exception as e:  # noqa: BLE001 - BadZipFile, OSError, encrypted (RuntimeError), compression method
        # 99 (NotImplementedError), a non-UTF-8 name flagged UTF-8 (UnicodeDecodeError), ...: all one refusal
        raise NstError(f"{path.name}: not a readable folder or zip ({type(e).__name__}: {str(e)[:200]})") from None


def base_modules(root: Path) -> dict[str, bytes]:
    """The untouched stubs: generated from ``solutions/`` when present, else ``assignment/`` as shipped."""
    if (root / "solutions").is_dir():
        from nst.course.stubs import expected_stubs

        return {name: text.encode() for name, text in expected_stubs(root / "solutions").items()}
    if (root / "assignment").is_dir():
        return {p.name: p.read_bytes() for p in sorted((root / "assignment").glob("*.py"))}
    return {}


def build(dest: Path, files: dict[str, bytes], modules: dict[str, bytes] | None, root: Path | None = None) -> Path:
    """Fill ``dest``: the trusted test ``files``, the library, ``assignment/`` with ``modules``
    (``None``: an empty package), and the data folders of ``root``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(Path(nst.__file__).parent, dest / "nst", ignore=ignore)
    for rel, data in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(data)
    for name in DATA_DIRS:
        if root is not None and (root / name).is_dir():
            shutil.copytree(root / name, dest / name, ignore=ignore)
    package = dest / "assignment"
    package.mkdir()
    (package / "__init__.py").write_bytes(b"")
    for name, source in (modules or {}).items():
        (package / name).write_bytes(source)
    (dest / "pytest.ini").write_text(PYTEST_INI)
    return dest
