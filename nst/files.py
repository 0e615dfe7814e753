"""The project's own file formats: YAML training configs and ``.npz`` weight files.

Both readers turn every way a file can be wrong (missing, unreadable, not the format,
not the kind of file expected) into one ``NstError`` line that names the file.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import yaml

from nst.errors import NstError
from nst.atomic import write_atomic


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (YAML 1.1) that also reads YAML 1.2 floats: ``1.0e4`` and ``1e4`` are numbers,
    not strings (YAML 1.1 wants a dot and a signed exponent: ``1.0e+4``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*|[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)$"
               r"|^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$"),
    list("-+0123456789."))


def read_yaml_mapping(path: str | Path) -> dict:
    """The top-level mapping of a YAML file (an empty file is ``{}``); numbers in YAML 1.2 form
    (``1.0e4``, ``1e-3``) are floats (:class:`_Loader`)."""
    path = Path(path)
    if not path.is_file():
        raise NstError(f"{path}: no such config file")
    try:
        data = yaml.load(path.read_text(), Loader=_Loader) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise NstError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise NstError(f"{path}: expected a mapping of keys to values")
    return data


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], compressed: bool = False) -> Path:
    """Save ``arrays`` as one ``.npz`` through a temp file and a rename (never half-written)."""
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return write_atomic(Path(path), buf.getvalue())


def read_npz(path: str | Path, kind: str, required_key: str, hint: str = "") -> dict[str, np.ndarray]:
    """Every array of a ``.npz`` that must hold ``required_key`` (``kind`` names it in errors)."""
    path = Path(path)
    if not path.is_file():
        raise NstError(f"{path}: no such model file{hint}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise NstError(f"{path}: not a model file ({e})") from None
    if required_key not in arrays:
        raise NstError(f"{path}: not {kind} (no {required_key} entry)")
    return arrays
