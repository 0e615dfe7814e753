"""Multi-style models: the 26 published styles, trained style rows, and blends of them.

A *style* is one row of every CIN's gamma and beta in a network with given convolutions:

``published:K``          row K (0..25) of the published network (:mod:`nst.fast.published`).
a norm-trained file      ``.npz`` (``nst fast train`` with ``train: norm``): its own row(s)
                         ``<layer>/gamma``, ``<layer>/beta`` (1, C), 990 numbers; the
                         convolutions are the published ones (``meta["base"] == "published"``).
a fully trained file     ``train: all``: ``<layer>/kernel`` as well, its own convolutions.

Files carry ``meta["network"] == "multistyle"``; a Johnson network file has no such key.
Several styles blend when they share their convolutions (the paper's convex combination):
``gamma = sum_i w_i gamma_i``, ``beta = sum_i w_i beta_i`` with ``w_i >= 0`` normalised to sum 1.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst.blend import normalised
from nst.errors import NstError
from nst.fast.published import LAYERS, NUM_STYLES

PUBLISHED = re.compile(r"^published:(\d+)$")
NETWORK = "multistyle"


@dataclass
class Style:
    """One style row and where its convolutions come from (``base``: "published" or a file path)."""
    name: str
    base: str
    rows: dict[str, np.ndarray]          # <layer>/gamma, <layer>/beta: (C,)
    kernels: dict[str, np.ndarray] | None = None   # <layer>/kernel, when base is a file
    meta: dict | None = None


def is_published(spec: str | Path) -> bool:
    return bool(PUBLISHED.match(str(spec)))


def published_style(spec: str, arrays: dict[str, np.ndarray] | None = None) -> Style:
    """``published:K`` -> its row of the published network."""
    from nst.fast.published import load_arrays

    k = int(PUBLISHED.match(spec).group(1))
    if not 0 <= k < NUM_STYLES:
        raise NstError(f"{spec}: the published network has styles published:0 .. published:{NUM_STYLES - 1}")
    arrays = arrays if arrays is not None else load_arrays()
    rows = {f"{l}/{p}": arrays[f"{l}/{p}"][k] for l in LAYERS for p in ("gamma", "beta")}
    return Style(spec, "published", rows, meta={"network": NETWORK, "base": "published", "row": k})


def file_style(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> Style:
    """A multi-style model file -> its (first) style row, with its kernels if it has its own."""
    try:
        rows = {f"{l}/{p}": arrays[f"{l}/{p}"].astype(np.float32)[0] for l in LAYERS for p in ("gamma", "beta")}
        kernels = ({f"{l}/kernel": arrays[f"{l}/kernel"].astype(np.float32) for l in LAYERS}
                   if meta.get("base") != "published" else None)
    except KeyError as e:
        raise NstError(f"{path}: a multi-style model without {e}") from None
    if kernels is None and meta.get("base") != "published":
        raise NstError(f"{path}: a multi-style model without its convolutions")
    return Style(Path(path).stem, "published" if kernels is None else str(path), rows, kernels, meta)


def blend_weights(weights: list[float] | None, n: int) -> np.ndarray:
    """Normalised non-negative blend weights (equal if None); one clear error otherwise."""
    return np.asarray(normalised(weights, n, "--model style(s)"), np.float32)


def build(styles: list[Style], impl: str | None = None, compute_dtype=tf.float32):
    """A :class:`MultiStyleNet` with one row per style (their shared convolutions set)."""
    from nst.fast.multistyle import MultiStyleNet
    from nst.impl import load as load_impl

    bases = {s.base for s in styles}
    if len(bases) > 1:
        raise NstError("cannot blend styles of different networks: " + ", ".join(
            f"{s.name} ({'published convolutions' if s.base == 'published' else 'its own'})" for s in styles))
    if styles[0].kernels is None:
        from nst.fast.published import load_arrays

        kernels = {k: v for k, v in load_arrays().items() if k.endswith("/kernel")}
    else:
        kernels = styles[0].kernels
    net = MultiStyleNet(load_impl("transformer_net", impl), len(styles), compute_dtype)
    for name, layer, norm in zip(LAYERS, net.layers, net.norms):
        getattr(layer, "conv", layer).kernel.assign(kernels[f"{name}/kernel"])
        norm.gamma.assign(np.stack([s.rows[f"{name}/gamma"] for s in styles]))
        norm.beta.assign(np.stack([s.rows[f"{name}/beta"] for s in styles]))
    return net


class FixedStyle(tf.Module):
    """``net(images)`` of a multi-style network with fixed style weights (the Johnson call)."""

    def __init__(self, net, weights: np.ndarray):
        super().__init__(name="fixed_style")
        self.net = net
        self.weights = tf.constant(np.asarray(weights, np.float32))

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        return self.net(images, self.weights)


def save_style(net, path: str | Path, meta: dict, train: str) -> Path:
    """Write the network's style row(s) (``train: norm``: gamma/beta only, float32; a few KB) or
    the whole network (``train: all``, float16) with ``meta`` (network, base and train added)."""
    import json

    from nst.fast.model import META_KEY
    from nst.fast.multistyle import net_arrays
    from nst.files import write_npz

    arrays = net_arrays(net)
    if train == "norm":
        arrays = {k: v for k, v in arrays.items() if not k.endswith("/kernel")}
    else:
        arrays = {k: v.astype(np.float16) for k, v in arrays.items()}
    meta = {**meta, "network": NETWORK, "base": "published" if train == "norm" else "own", "train": train}
    arrays[META_KEY] = np.array(json.dumps(meta, sort_keys=True))
    return write_npz(path, arrays, compressed=True)


def tag(spec: str | Path) -> str:
    """A file-name-safe name of a model spec: ``published:7`` -> ``published7``, a file -> its stem."""
    return f"published{PUBLISHED.match(str(spec)).group(1)}" if is_published(spec) else Path(spec).stem


def load(specs, impl: str | None = None, compute_dtype=tf.float32, weights: list[float] | None = None):
    """(``net(images)``, meta) for one model spec or a blend of several.

    A spec is ``published:K``, a shipped style's name or a model file. One Johnson network
    loads as it is; multi-style styles load into one :class:`MultiStyleNet` with their rows
    blended by ``weights`` (see :func:`blend_weights`).
    """
    from nst.fast.model import assign_weights, read_model
    from nst.fast.zoo import resolve
    from nst.impl import load as load_impl

    specs = [specs] if isinstance(specs, (str, Path)) else list(specs)
    styles, johnson, published = [], [], None
    for spec in specs:
        if is_published(spec):
            if published is None:
                from nst.fast.published import load_arrays

                published = load_arrays()
            styles.append(published_style(str(spec), published))
            continue
        path = resolve(spec)
        arrays, meta = read_model(path)
        if meta.get("network") == NETWORK:
            styles.append(file_style(path, arrays, meta))
        else:
            johnson.append((path, arrays, meta))
    if johnson:
        if len(specs) > 1 or weights is not None:
            raise NstError(f"{johnson[0][0]} is a Johnson network (one style per network): --style-weights "
                           "blends multi-style models only (published:K and styles trained with `init: published`)")
        path, arrays, meta = johnson[0]
        net = load_impl("transformer_net", impl).TransformerNet(compute_dtype=compute_dtype)
        assign_weights(net, arrays, path)
        return net, meta
    w = blend_weights(weights, len(styles))
    net = build(styles, impl, compute_dtype)
    meta = dict(styles[0].meta or {}) if len(styles) == 1 else {"network": NETWORK}
    meta["blend"] = {s.name: float(x) for s, x in zip(styles, w)}
    return FixedStyle(net, w), meta
