"""Deterministic inputs shared by the part 2 tests and tests/reference/make_fast.py.

``TinyVGG`` stands in for the VGG loss network in the loss tests: four seeded 3x3 conv+ReLU
layers with the VGG16 style-layer names and 2x2 average pools between them. It has
``features(x, layers)`` like ``nst.vgg.VGGFeatures``, is fast and does not depend on the
pretrained weights, so the reference numbers test only the student's formulas.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

TINY_LAYERS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3")
TINY_CHANNELS = (3, 4, 6, 8, 8)


class TinyVGG:
    def __init__(self, seed: int = 7):
        rng = np.random.default_rng(seed)
        self.kernels = [tf.constant(rng.normal(0, 0.3, (3, 3, cin, cout)).astype(np.float32))
                        for cin, cout in zip(TINY_CHANNELS[:-1], TINY_CHANNELS[1:])]
        self.biases = [tf.constant(rng.normal(0, 0.1, (cout,)).astype(np.float32)) for cout in TINY_CHANNELS[1:]]

    def features(self, x, layers):
        out, h = {}, tf.cast(x, tf.float32) / 64.0
        for i, name in enumerate(TINY_LAYERS):
            if i:
                h = tf.nn.avg_pool2d(h, 2, 2, "SAME")
            h = tf.nn.relu(tf.nn.conv2d(h, self.kernels[i], 1, "SAME") + self.biases[i])
            if name in layers:
                out[name] = h
        return out


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20)
    f = lambda *shape: rng.normal(0, 1, shape).astype(np.float32)  # noqa: E731
    u = lambda *shape: rng.uniform(0, 255, shape).astype(np.float32)  # noqa: E731
    return {
        "conv_in": f(2, 9, 11, 5),          # ConvLayer(5, 4, 9, 1) and ConvLayer(5, 4, 3, 2)
        "norm_in": f(2, 6, 7, 4) * 3 + 1,
        "norm_scale": f(4), "norm_offset": f(4),
        "res_in": f(1, 6, 5, 4),
        "up_in": f(2, 5, 6, 4),
        "net_in": u(1, 21, 27, 3),          # odd sizes: the network must crop back
        "gram_in": f(2, 5, 6, 7),
        "style_img": u(24, 20, 3),
        "content_batch": u(2, 16, 16, 3),
        "stylized_batch": u(2, 16, 16, 3),
        "step_in": u(2, 8, 8, 3),
        "step_kernel": f(3, 3, 3, 3) * 0.1,
    }


def make_layers(tn):
    """The seeded layers whose outputs the reference stores, from module ``tn`` (transformer_net)."""
    norm = tn.InstanceNorm(4)
    return {
        "conv9": tn.ConvLayer(5, 4, 9, 1, seed=1),
        "conv3s2": tn.ConvLayer(5, 4, 3, 2, seed=2),
        "norm": norm,
        "res": tn.ResidualBlock(4, seed=3),
        "up": tn.UpsampleConvLayer(4, 3, 3, 1, upsample=2, seed=4),
    }


def set_norm(norm, x) -> None:
    norm.scale.assign(x["norm_scale"])
    norm.offset.assign(x["norm_offset"])


def loss_settings() -> dict:
    """Weights that give the three terms totals of the same size (0.04, 0.03, 0.04 on the test
    batches), so that a wrong term changes the total and its gradient, not only its own entry."""
    return dict(content_layers=["conv3_3"], style_layers=list(TINY_LAYERS), content_weight=2.0,
                style_weight=100.0, tv_weight=2e-6, style_layer_weights=[0.25, 1.0, 2.0, 4.0])


class TinyNet(tf.Module):
    """A one-layer 'network' for the train-step test: y = 255 sigmoid(conv(x / 255, K))."""

    def __init__(self, kernel: np.ndarray):
        super().__init__()
        self.kernel = tf.Variable(kernel)
        self.bias = tf.Variable(tf.zeros([kernel.shape[-1]]))

    def __call__(self, x):
        return 255.0 * tf.sigmoid(tf.nn.conv2d(x / 255.0, self.kernel, 1, "SAME") + self.bias)


def tiny_loss(content, stylized) -> dict:
    """A stand-in perceptual loss: mean squared distance to a fixed colour, plus a content term."""
    target = tf.constant([200.0, 60.0, 90.0])
    style = tf.reduce_mean(tf.square(stylized / 255.0 - target / 255.0))
    content_loss = tf.reduce_mean(tf.square(stylized / 255.0 - content / 255.0))
    return {"content": content_loss, "style": style, "total": content_loss + 3.0 * style}
