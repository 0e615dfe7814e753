"""Which model made an output: a sidecar file beside every image or video ``nst fast stylize`` writes.

``<output>.model.json`` (``chelsea_wave.png`` -> ``chelsea_wave.png.model.json``) holds::

    {"model": "/abs/path/outputs/models/mine.npz", "sha256": "<hex of that file>",
     "shipped": false, "name": "mine"}

``shipped`` is true for a model in the shipped collection (``models/``, :func:`nst.fast.zoo.models_dir`).
``nst course submit --part 2`` packs an image as the student's only when its sidecar names that
student model's file by its sha256 and says it is not shipped (:mod:`nst.course.runs`).
"""
from __future__ import annotations

import json
from pathlib import Path

SUFFIX = ".model.json"


def sidecar(output: str | Path) -> Path:
    """``<output>.model.json``."""
    output = Path(output)
    return output.with_name(output.name + SUFFIX)


def model_record(model: str | Path, shipped_dir: str | Path) -> dict:
    """The record for outputs of ``model``: absolute path, sha256, shipped (inside ``shipped_dir``), name."""
    from nst.download import file_digest

    model = Path(model).resolve()
    return {"model": str(model), "sha256": file_digest(model),
            "shipped": model.parent == Path(shipped_dir).resolve(), "name": model.stem}


def write_sidecar(output: str | Path, record: dict) -> Path:
    """Write ``record`` beside ``output`` (atomically)."""
    from nst.images import write_atomic

    return write_atomic(sidecar(output), json.dumps(record, indent=1) + "\n")


def read_sidecar(output: str | Path) -> dict | None:
    """The record beside ``output``, or None (no sidecar, or not one this module wrote)."""
    try:
        data = json.loads(sidecar(output).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "sha256" in data else None


def made_by(output: str | Path, model: str | Path) -> bool:
    """True when ``output``'s sidecar says it was made by this very file (same sha256), not a shipped model."""
    from nst.download import file_digest

    record = read_sidecar(output)
    model = Path(model)
    return (record is not None and not record.get("shipped", True) and model.is_file()
            and record["sha256"] == file_digest(model))
