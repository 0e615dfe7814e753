"""Part 1 graded tests (100 points): the student's load_vgg.py and style_transfer.py.

Each test compares the chosen implementation (``pytest --impl assignment|solutions``)
with reference values computed from solutions/ on fixed inputs
(tests/reference/part1.npz, made by tests/reference/make_part1.py).
Tolerances are relative to the size of each compared term, per term (``close``): rtol 1e-5 for
single operations, 1e-4 for whole-network values (float32 sums over ~10^5 terms in a different
order differ in the 6th digit), 1e-3 for whole-network gradients. The reference values themselves
are checked against NumPy formulas in the course repository's test_references.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import scenarios
from part1_cases import build_tiny, conv_weights, tiny_images

REF = np.load(Path(__file__).parent / "reference" / "part1.npz")
OP, NET = 1e-5, 1e-4


def close(actual, expected, rtol: float, err_msg: str = "") -> None:
    """Equal to ``rtol`` relative to this term's own size: atol = rtol * max |expected|."""
    expected = np.asarray(expected)
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol, atol=rtol * float(np.abs(expected).max()),
                               err_msg=err_msg)


@pytest.fixture(scope="module")
def load_vgg(impl_module):
    return impl_module("load_vgg")


@pytest.fixture(scope="module")
def style_transfer(impl_module):
    return impl_module("style_transfer")


@pytest.fixture
def bare(style_transfer):
    """A StyleTransfer without __init__, to call the loss methods on plain tensors."""
    st = style_transfer.StyleTransfer.__new__(style_transfer.StyleTransfer)
    st.style_layer_w = list(REF["layer_w"])
    return st


@pytest.mark.graded(points=12, part=1)
def test_conv2d_relu(load_vgg):
    vgg = load_vgg.VGG(conv_weights())
    out = vgg.conv2d_relu(tf.constant(REF["conv_in"]), "conv1_1")
    assert tuple(out.shape) == (1, 6, 7, 4), "SAME padding and stride 1 keep H and W"
    assert out.dtype == tf.float32
    assert np.all(out.numpy() >= 0), "conv2d_relu must end with a ReLU"
    close(out.numpy(), REF["conv_out"], OP)
    assert getattr(vgg, "conv1_1", None) is out, "store the output as self.conv1_1"


@pytest.mark.graded(points=8, part=1)
def test_avgpool(load_vgg):
    vgg = load_vgg.VGG(conv_weights())
    out = vgg.avgpool(tf.constant(REF["pool_in"]), "avgpool1")
    assert tuple(out.shape) == (1, 4, 5, 5), "2x2 windows with stride 2 and SAME padding: 7x9 -> 4x5"
    close(out.numpy(), REF["pool_out"], OP)


@pytest.mark.graded(points=10, part=1)
def test_content_loss(bare):
    loss = bare._content_loss(tf.constant(REF["P"]), tf.constant(REF["F"]))
    assert np.ndim(loss) == 0, "the content loss is a scalar"
    close(loss.numpy(), REF["content_loss"], OP)
    zero = bare._content_loss(tf.constant(REF["P"]), tf.constant(REF["P"]))
    assert float(zero) == 0.0


@pytest.mark.graded(points=10, part=1)
def test_gram_matrix(bare):
    G = bare._gram_matrix(tf.constant(REF["feat"]), 6, 20)
    assert tuple(G.shape) == (6, 6), "G is N x N (channels x channels)"
    close(G.numpy(), G.numpy().T, OP, "G is symmetric")
    close(G.numpy(), REF["gram"], OP)


@pytest.mark.graded(points=12, part=1)
def test_single_style_loss(bare):
    loss = bare._single_style_loss(tf.constant(REF["a"]), tf.constant(REF["g"]))
    assert np.ndim(loss) == 0
    close(loss.numpy(), REF["single_style"], OP)
    assert float(bare._single_style_loss(tf.constant(REF["a"]), tf.constant(REF["a"]))) == 0.0


@pytest.mark.graded(points=10, part=1)
def test_style_loss_weights_layers(bare):
    A = [tf.constant(a) for a in REF["A_list"]]
    G = [tf.constant(g) for g in REF["G_list"]]
    close(bare._style_loss(A, G).numpy(), REF["style_loss"], OP)
    bare.style_layer_w = [0.0, 0.0, 1.0]
    only_last = bare._style_loss(A, G).numpy()
    close(only_last, bare._single_style_loss(A[2], G[2]).numpy(), OP)


@pytest.mark.graded(points=14, part=1)
def test_losses_use_the_shared_input_variable(style_transfer):
    from nst import gatys

    from nst.images import preprocess
    from nst.vgg import VGGFeatures

    content, style = tiny_images()
    config = gatys.Config(max_size=40, seed=0)
    st = style_transfer.StyleTransfer(content, [style], config)
    st.create_input()
    shared = st.input_img
    st.load_vgg()
    st.losses()
    assert st.input_img is shared, "assign images to the one input variable; do not create a new one"
    # Every expected value is computed here, by the library's own VGG on the images this test chose,
    # never by the submission's code (nor its st.vgg): the library and the solution run the same ops.
    np.testing.assert_allclose(st.input_img.numpy(), preprocess(gatys.initial_image(content, [style], config)),
                               rtol=0, atol=1e-4, err_msg="after losses() the input variable must hold the initial image")
    vgg = VGGFeatures(config.network, pooling=config.pooling)
    expected_P = vgg(tf.constant(preprocess(content)), ["conv4_2"])["conv4_2"].numpy()
    close(np.asarray(st.P["conv4_2"]), expected_P, NET, "P = the content image's conv4_2")
    layers = list(config.style_layers)
    expected_A = vgg(tf.constant(preprocess(style)), layers)
    A = [np.asarray(a) for a in st.A[0]]
    assert len(A) == len(layers), f"A holds one activation per style layer ({len(layers)})"
    for layer, a in zip(layers, A):
        close(a, expected_A[layer].numpy(), NET, f"A = the style image's {layer}")


@pytest.mark.graded(points=12, part=1)
def test_total_loss_and_gradient(scenario):
    out = scenario(scenarios.total_loss_and_gradients, "style_transfer")   # the tape runs beside the code
    losses, grads = out["losses"], out["grads"]
    grad = grads["total"]
    assert grad is not None, "the total loss must depend on the input variable"
    assert float(np.max(np.abs(grad))) > 0
    for k in ("content", "style", "tv", "total"):
        close(losses[k], REF[f"loss_{k}"], NET, f"{k} loss")
        term = grads[k]
        assert term is not None, f"the {k} loss must depend on the input variable"
        close(term, REF[f"grad_{k}"], 1e-3, f"gradient of the {k} loss")


@pytest.mark.graded(points=12, part=1)
def test_one_adam_step(style_transfer):
    st = build_tiny(style_transfer)
    before = st.input_img.numpy().copy()
    st.train_step()
    after = st.input_img.numpy()
    assert not np.array_equal(before, after), "a training step must change the input image"
    assert int(st.gstep.numpy()) == 1, "count the step in self.gstep"
    # Adam's first step is lr * g / (|g| + eps'): about +-lr per pixel. Compare the step, per pixel,
    # where the gradient is clearly non-zero (elsewhere its sign is float noise).
    sure = np.abs(REF["grad_total"]) > 1e-4 * np.abs(REF["grad_total"]).max()
    assert sure.mean() > 0.95
    close((after - before)[sure], (REF["after_step"] - REF["initial"])[sure], 1e-3,
          "one Adam step on the gradient of the total loss")
