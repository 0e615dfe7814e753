"""Checkpoints (weights + optimizer + step, for resuming) and exported models (weights only).

Both are single ``.npz`` files written atomically; checkpoints in the format the three methods
share (:mod:`nst.checkpoint`). Weights are keyed by their Keras path without the model's own
name (``transfer/conv1/conv/kernel``); ``__config__`` holds the JSON of :class:`ModelConfig`
(the predictor choice included) and, in checkpoints, the training settings.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np

from nst import checkpoint
from nst.errors import NstError
from nst.files import read_npz, write_npz

from .config import ModelConfig
from .networks import ArbitraryStyleModel, build_model
from .published import load_published


def _key(variable) -> str:
    return variable.path.split("/", 1)[1]


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    return read_npz(path, "an arbitrary-style model", "__config__")


def _assign(model: ArbitraryStyleModel, arrays: dict[str, np.ndarray], path: Path) -> None:
    for v in model.weights:
        key = _key(v)
        if key not in arrays:
            raise NstError(f"{path}: missing weight {key}")
        if tuple(arrays[key].shape) != tuple(v.shape):
            raise NstError(f"{path}: {key} has shape {arrays[key].shape}, expected {tuple(v.shape)}")
        v.assign(arrays[key].astype(np.float32))


def assign_weights(model: ArbitraryStyleModel, path: Path) -> None:
    """The weights of a model or checkpoint file into a built model of the same config."""
    _assign(model, _read_npz(Path(path)), Path(path))


def save_checkpoint(path: Path, model: ArbitraryStyleModel, optimizer, step: int, train_config: dict) -> None:
    """Weights, optimizer state and step in the shared format (:mod:`nst.checkpoint`)."""
    checkpoint.save(path, "arbitrary", step, {_key(v): np.asarray(v.numpy()) for v in model.weights},
                    optimizer.variables, model=model.config.to_dict(), train=train_config)


def restore_checkpoint(path: Path, model: ArbitraryStyleModel, optimizer) -> int:
    """Load weights and optimizer state into built objects; return the step to resume from."""
    saved = checkpoint.load(path, "arbitrary")
    _assign(model, saved.arrays, path)
    saved.assign_optimizer(optimizer.variables)
    return saved.step


def checkpoint_config(path: Path) -> dict:
    """The JSON part of a model or checkpoint file (``model``: its :class:`ModelConfig`)."""
    return json.loads(str(_read_npz(path)["__config__"]))


def export_model(path: Path, model: ArbitraryStyleModel, dtype: str = "float16", notes: dict | None = None) -> Path:
    """Weights only, stored as ``dtype`` (float16 halves the size; inference casts back)."""
    arrays = {_key(v): np.asarray(v.numpy()).astype(dtype) for v in model.weights}
    arrays["__config__"] = np.array(json.dumps({"model": model.config.to_dict(), "notes": notes or {}}))
    write_npz(Path(path), arrays)
    return Path(path)


def load_model(path: str | Path, impl: ModuleType, precision: str = "float32") -> ArbitraryStyleModel:
    """Rebuild the model an export or checkpoint describes and load its weights.

    ``path="published"`` is Magenta's published model (fetched and converted on first use).
    """
    if str(path) == "published":
        return load_published(impl, precision)
    path = Path(path)
    arrays = _read_npz(path)
    meta = json.loads(str(arrays["__config__"]))
    try:
        config = ModelConfig.from_dict(meta["model"])
    except (TypeError, KeyError) as e:
        raise NstError(f"{path}: a model of an older format ({e}); retrain or use the published model") from None
    model = build_model(config, impl, precision)
    _assign(model, arrays, path)
    return model
