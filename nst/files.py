"""The project's own file formats: YAML training configs and ``.npz`` weight files.

Both readers turn every way a file can be wrong (missing, unreadable, not the format,
not the kind of file expected) into one ``NstError`` line that names the file.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import yaml

from nst.errors import NstError
from nst.atomic import write_atomic


def read_yaml_mapping(path: str | Path) -> dict:
    """The top-level mapping of a YAML file (an empty file is ``{}``)."""
    path = Path(path)
    if not path.is_file():
        raise NstError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
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
