"""onnxruntime on the published int8 graphs: the reference the part 3 parity tests compare with.

Test-only (onnxruntime is a test extra, never a run-time dependency of ``nst``).
``float_graph`` removes every activation QuantizeLinear/DequantizeLinear pair, leaving the
de-quantized weights: the same network in float32, which our TF networks must match closely.
The int8 graph itself is chaotic (its activations are quantized), so it is compared with
statistics only, run with graph optimisations disabled.
"""
from __future__ import annotations

import numpy as np


def float_graph(data: bytes) -> bytes:
    """The graph with every activation QuantizeLinear/DequantizeLinear made an identity.

    The de-quantized weights stay; ops between a Q and its DQ (transposes, reshapes) run on
    float tensors instead of int8 ones.
    """
    import onnx

    model = onnx.load_from_string(data)
    g = model.graph
    consts = {i.name for i in g.initializer}
    alias: dict[str, str] = {}
    resolve = lambda name: resolve(alias[name]) if name in alias else name
    keep = []
    for n in g.node:
        src = resolve(n.input[0]) if n.input else None
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") and src not in consts and not (
                n.op_type == "DequantizeLinear" and all(i in consts for i in n.input)):
            alias[n.output[0]] = src
            continue
        for i, name in enumerate(n.input):
            n.input[i] = resolve(name)
        if n.op_type == "DequantizeLinear" or all(i in consts for i in n.input):
            consts.update(n.output)   # a constant-folded weight
        keep.append(n)
    for o in g.output:   # a graph output that became an alias: rename its producer's tensor
        src = resolve(o.name)
        if src != o.name:
            for n in keep:
                n.output[:] = [o.name if x == src else x for x in n.output]
                n.input[:] = [o.name if x == src else x for x in n.input]
    del g.node[:]
    g.node.extend(keep)
    return free_sizes(model.SerializeToString())


def free_sizes(data: bytes) -> bytes:
    """The int8 graph with free input/output heights and widths."""
    import onnx

    model = onnx.load_from_string(data)
    for vi in list(model.graph.input) + list(model.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].dim_value > 1:
            dims[1].dim_param, dims[2].dim_param = "H", "W"
    return model.SerializeToString()


def session(data: bytes, optimise: bool = False, threads: int = 0):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    if not optimise:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def run_published(predict, transform, content01: np.ndarray, style01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(embedding (1, 100), image (1, H, W, 3) in 0..1) from two onnxruntime sessions."""
    z = predict.run(None, {predict.get_inputs()[0].name: style01[None].astype(np.float32)})[0]
    names = [i.name for i in transform.get_inputs()]
    out = transform.run(None, {names[0]: content01[None].astype(np.float32), names[1]: z})[0]
    return z.reshape(1, -1), out
