"""Part 3 graded tests: conditional instance norm, the style prediction head, the loss (100 points).

Numerical references come from solutions/arbitrary.py on fixed inputs
(tests/arbitrary_cases.py, checked against NumPy formulas in test_arbitrary_references.py);
tolerance rtol=atol=1e-4. The last test runs your code inside Magenta's published model
(fetched once with `nst weights fetch magenta-arbitrary`) and asks for the reference image
before rounding: mean |difference| under 0.003 of 255, per pixel under 0.025 (set from the
measured round-off, see the test).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import arbitrary_cases as cases
import scenarios

REPO = Path(__file__).resolve().parents[1]
REF = Path(__file__).parent / "reference"
TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def ref():
    with np.load(REF / "arbitrary.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def arb(impl_module):
    return impl_module("arbitrary")


def _instance_norm(x, eps=1e-5):
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


@pytest.mark.graded(points=10, part=3)
def test_cin_identity_params_is_instance_norm(arb, ref):
    x = ref["cin_x"]
    b, c = x.shape[0], x.shape[-1]
    out = arb.conditional_instance_norm(tf.constant(x), tf.ones((b, c)), tf.zeros((b, c)))
    np.testing.assert_allclose(np.asarray(out), _instance_norm(x.astype(np.float64)), **TOL)


@pytest.mark.graded(points=15, part=3)
def test_cin_matches_reference(arb, ref):
    out = arb.conditional_instance_norm(tf.constant(ref["cin_x"]), tf.constant(ref["cin_gamma"]),
                                        tf.constant(ref["cin_beta"]))
    assert tuple(out.shape) == ref["cin_x"].shape
    np.testing.assert_allclose(np.asarray(out), ref["cin_out"], **TOL)
    # each image uses its own gamma/beta row: per channel, the output has mean beta and std ~|gamma|
    np.testing.assert_allclose(np.asarray(out).mean(axis=(1, 2)), ref["cin_beta"], atol=1e-4)
    # almost constant channels (variance ~1e-6): the epsilon under the square root matters here
    flat = arb.conditional_instance_norm(tf.constant(ref["cin_x_flat"]), tf.constant(ref["cin_gamma"]),
                                         tf.constant(ref["cin_beta"]))
    np.testing.assert_allclose(np.asarray(flat), ref["cin_flat_out"], rtol=1e-3, atol=1e-3,
                               err_msg="TODO 1: CIN on near-constant channels: is epsilon inside sqrt(var + eps)?")


@pytest.mark.graded(points=15, part=3)
def test_head_embedding_matches_reference(arb, ref):
    head = cases.build_head(arb, ref)
    z = head.embed([tf.constant(ref["feat0"]), tf.constant(ref["feat1"])])
    assert tuple(z.shape) == (2, cases.EMBEDDING_DIM)
    np.testing.assert_allclose(np.asarray(z), ref["embed_out"], **TOL)


@pytest.mark.graded(points=10, part=3)
def test_head_norm_params_match_reference(arb, ref):
    head = cases.build_head(arb, ref)
    params = head.norm_params(tf.constant(ref["embedding"]))
    assert list(params) == list(cases.NORM_CHANNELS)
    for name, channels in cases.NORM_CHANNELS.items():
        gamma, beta = params[name]
        assert tuple(gamma.shape) == tuple(beta.shape) == (2, channels)
        np.testing.assert_allclose(np.asarray(gamma), ref[f"params_{name}_gamma"], **TOL)
        np.testing.assert_allclose(np.asarray(beta), ref[f"params_{name}_beta"], **TOL)


@pytest.mark.graded(points=15, part=3)
def test_transfer_loss_matches_reference(arb, ref):
    args = [{k: tf.constant(v) for k, v in a.items()} for a in cases.loss_args(ref)[:3]]
    for tv in (0.0, 0.5):
        losses = arb.transfer_loss(*args, tf.constant(ref["image"]), content_weight=2.0, style_weight=30.0,
                                   tv_weight=tv, style_layer_weights={"s1": 0.25, "s2": 4.0})
        for k in ("content", "style", "tv", "total"):
            np.testing.assert_allclose(float(losses[k]), ref[f"loss_tv{tv}_{k}"], rtol=1e-4, err_msg=f"{k}, tv={tv}")


def _norm_channels() -> dict[str, int]:
    """The CIN layers of the library's transfer network and their channels, computed here (the judge)."""
    from nst.arbitrary.networks import ModelConfig, TransferNet

    return dict(TransferNet(None, ModelConfig().width).norm_channels)


# The inputs of the scenario tests are chosen here and every expected value is computed here from
# them: the worker only runs the student's code on them (its own claims, e.g. "these are my norm
# layers", are never what a result is compared with).
@pytest.mark.graded(points=10, part=3)
def test_gradients_reach_gamma_beta_and_the_head(scenario):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (1, 7, 6, 4)).astype(np.float32)
    content, style = (rng.uniform(0, 50, (1, 32, 32, 3)).astype(np.float32) for _ in range(2))
    res = scenario(scenarios.cin_and_head_gradients, "arbitrary", x=x, content=content, style=style)
    g_gamma, g_beta = res["g_gamma"], res["g_beta"]
    assert g_gamma is not None and g_beta is not None
    # L = sum(x * (gamma x_hat + beta)): dL/dgamma_c = sum_hw x x_hat, dL/dbeta_c = sum_hw x
    xn = x.astype(np.float64)
    np.testing.assert_allclose(g_gamma, (xn * _instance_norm(xn)).sum(axis=(1, 2)), rtol=1e-3)
    np.testing.assert_allclose(g_beta, xn.sum(axis=(1, 2)), rtol=1e-4)

    grads = res["head_grads"]
    layers = ["bottleneck", *[f"{n}_{p}" for n in _norm_channels() for p in ("gamma", "beta")]]
    assert len(grads) == 2 * len(layers), f"the head's given layers have {2 * len(layers)} variables"
    for layer in layers:
        mine = [k for k in grads if f"/{layer}/" in f"/{k}"]
        assert len(mine) == 2, f"the head has no kernel and bias for {layer}"
        for name in mine:
            assert grads[name] is not None and float(np.max(np.abs(grads[name]))) > 0, f"no gradient reaches {name}"


@pytest.mark.graded(points=10, part=3)
def test_model_shapes(scenario):
    rng = np.random.default_rng(1)
    style = (rng.uniform(0, 100, (2, 24, 30, 3)) - 50).astype(np.float32)
    sizes = [(33, 47), (40, 40)]   # odd sizes are padded inside the network and cropped back
    contents = [(rng.uniform(0, 100, (2, *size, 3)) - 50).astype(np.float32) for size in sizes]
    res = scenario(scenarios.model_shapes, "arbitrary", style=style, contents=contents)
    assert np.shape(res["z"]) == (2, 100), "z is (B, embedding_dim)"
    channels = _norm_channels()
    params = res["params"]
    assert list(params) == list(channels), "one (gamma, beta) per CIN layer, in the network's order"
    for name, c in channels.items():
        assert [np.shape(p) for p in params[name]] == [(2, c), (2, c)], f"gamma and beta of {name} are (B, {c})"
    assert len(res["outputs"]) == len(sizes)
    for size, y in zip(sizes, res["outputs"]):
        assert np.shape(y) == (2, *size, 3), "the output has the content's size"
        assert np.all(np.isfinite(y))


@pytest.mark.graded(points=15, part=3)
def test_published_model_renders_the_reference(scenario, ref):
    """Your CIN and head inside Magenta's published network: a real photo in a painting's style."""
    content, style = cases.published_inputs(REPO)
    res = scenario(scenarios.published, "arbitrary", content=content, style=style)
    z, image = res["z"], res["image"]
    np.testing.assert_allclose(z, ref["published_z"], rtol=1e-3, atol=1e-3,
                               err_msg="TODO 2: the style embedding of the painting differs")
    # Compared before rounding to uint8: the CINs below differ from the right one by less than
    # 1/255 on most pixels, so 8-bit images cannot tell them apart from round-off.
    # Noise floor (float output, 0..255; cin_noise_floor.py in the course repository's tools folder, 2-core AVX2 EPYC): the
    # solution against this reference over 1-2 intra-op threads and oneDNN on/off, mean 6.7e-5,
    # max 7.8e-4; against Magenta's graph in onnxruntime, mean 3.3e-4, max 1.2e-3; correct CINs
    # written otherwise (E[x^2] - mu^2, a division, tf.nn.batch_normalization, float64) up to mean
    # 5.3e-4, max 2.8e-3. Wrong CINs: unbiased variance mean 0.019, max 0.20; epsilon 1e-4 0.035 /
    # 0.56; epsilon 1e-3 0.38 / 5.7; bfloat16 0.50-0.66 / 5.4-6.7. The limits (3e-3, 2.5e-2) sit
    # 5.7x / 8.9x above the largest correct one and 6.3x / 7.8x below the closest wrong one.
    diff = np.abs(np.asarray(image, np.float64) - ref["published_out"].astype(np.float64))
    mean_limit, max_limit = cases.PUBLISHED_MEAN_LIMIT, cases.PUBLISHED_MAX_LIMIT
    assert diff.mean() < mean_limit and diff.max() < max_limit, (
        f"TODOs 1-3: the stylised image differs from the reference (mean {diff.mean():.4f}, max "
        f"{diff.max():.3f} of 255; allowed {mean_limit}, {max_limit}): check the variance (biased, "
        "over H and W), epsilon inside the square root, and float32 arithmetic")
