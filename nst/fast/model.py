"""A trained transformation network on disk: one ``.npz`` of named weights plus its metadata.

Keys are the variables' paths in the module tree (``conv1/kernel``, ``res/0/in1/scale``...);
``__meta__`` holds a JSON string (style image, loss weights, steps, seed, ...). Weights may be
stored as float16 to halve the file (the shipped demo model); they load as float32.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst.errors import NstError
from nst.files import read_npz, write_npz
from nst.impl import load as load_impl

META_KEY = "__meta__"


def named_variables(module: tf.Module) -> dict[str, tf.Variable]:
    """{"conv1/kernel": variable, ...} for every variable of a tf.Module tree."""
    flat = module._flatten(predicate=lambda v: isinstance(v, tf.Variable), with_path=True)
    return {"/".join(str(p) for p in path): v for path, v in flat}


def save_model(net: tf.Module, path: str | Path, meta: dict | None = None, dtype: str = "float32") -> Path:
    """Write the network's weights (as ``dtype``) and ``meta`` to ``path`` (.npz), atomically."""
    arrays = {name: v.numpy().astype(dtype) for name, v in named_variables(net).items()}
    arrays[META_KEY] = np.array(json.dumps(meta or {}, sort_keys=True))
    return write_npz(path, arrays, compressed=True)


def read_model(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """(weights, meta) from a model file, with one-line errors for a missing or foreign file."""
    arrays = read_npz(path, "a fast style model", META_KEY, hint=" (train one with `nst fast train`)")
    meta = json.loads(str(arrays.pop(META_KEY)))
    return arrays, meta


def load_model(path: str | Path, impl: str | None = None, compute_dtype=tf.float32) -> tuple[tf.Module, dict]:
    """A ``TransformerNet`` (from ``<impl>.transformer_net``) with the weights of ``path``, and its meta."""
    arrays, meta = read_model(path)
    net = load_impl("transformer_net", impl).TransformerNet(compute_dtype=compute_dtype)
    assign_weights(net, arrays, path)
    return net, meta


def assign_weights(net: tf.Module, arrays: dict[str, np.ndarray], source: str | Path) -> None:
    """Copy ``arrays`` (as float32) into the network's variables of the same names; every name and
    shape must match (checked before anything is assigned), else one NstError naming ``source``."""
    variables = named_variables(net)
    if set(arrays) != set(variables):
        missing = sorted(set(variables) - set(arrays))[:3]
        raise NstError(f"{source}: weights do not fit the network (missing e.g. {missing})")
    for name, v in variables.items():
        if tuple(arrays[name].shape) != tuple(v.shape):
            raise NstError(f"{source}: {name} has shape {arrays[name].shape}, the network expects {tuple(v.shape)}")
    for name, v in variables.items():
        v.assign(arrays[name].astype(np.float32))
