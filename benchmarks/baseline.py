"""The baseline: Gatys style transfer as a TensorFlow 2 tutorial writes it.

Keras ``applications.VGG19`` architecture (built with ``weights=None``, then given the
project's ImageNet weights from :func:`nst.weights.load_weights`, so nothing is
downloaded), a multi-output ``keras.Model`` up to the layers used, ``GradientTape`` and
Adam, all eager: no ``tf.function``, no XLA, float32. The loss is the project's CS20si loss
(content ``sum((F-P)^2)/(4s)`` at conv4_2, style ``sum_l w_l sum((G-A)^2)/(2NM)^2`` at
conv1_1..conv5_1) so both paths do the same arithmetic. Keras' VGG19 uses max pooling;
the project's default is average pooling; pooling is < 0.1% of the work.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from nst.weights import MEAN_RGB, load_weights

CONTENT_LAYERS = ("conv4_2",)
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
STYLE_LAYER_WEIGHTS = (0.5, 1.0, 1.5, 3.0, 4.0)


def keras_name(layer: str) -> str:
    """conv4_2 -> block4_conv2 (Keras' VGG19 layer names)."""
    return f"block{layer[4]}_conv{layer[6]}"


def vgg_extractor(layers) -> tf.keras.Model:
    """A frozen Keras VGG19 with ImageNet weights that returns ``layers``' activations."""
    vgg = tf.keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    for name, (W, b) in load_weights("vgg19").items():
        vgg.get_layer(keras_name(name)).set_weights([W, b])
    vgg.trainable = False
    return tf.keras.Model(vgg.input, [vgg.get_layer(keras_name(l)).output for l in layers])


def gram_matrix(x: tf.Tensor) -> tf.Tensor:
    """(1, H, W, C) -> (C, C) = F^T F, F the (HW, C) reshape."""
    f = tf.reshape(x, (-1, x.shape[-1]))
    return tf.matmul(f, f, transpose_a=True)


class EagerGatys:
    """``step()`` = one eager Adam step on the image; returns the losses as floats (host sync)."""

    def __init__(self, content: np.ndarray, style: np.ndarray, init: np.ndarray, content_weight: float = 0.05,
                 style_weight: float = 1.0, learning_rate: float = 2.0):
        self.layers = CONTENT_LAYERS + STYLE_LAYERS
        self.extractor = vgg_extractor(self.layers)
        self.content_weight, self.style_weight = content_weight, style_weight
        outputs = self.extractor(self._pre(content))
        self.P = outputs[0]
        self.A = [gram_matrix(a) for a in self.extractor(self._pre(style))[1:]]
        self.shapes = [tuple(a.shape) for a in self.extractor(self._pre(style))[1:]]
        self.image = tf.Variable(self._pre(init))
        self.opt = tf.keras.optimizers.Adam(learning_rate)

    @staticmethod
    def _pre(img: np.ndarray) -> tf.Tensor:
        return tf.constant((np.asarray(img, np.float32) - MEAN_RGB)[None])

    def losses(self) -> dict[str, tf.Tensor]:
        outputs = self.extractor(self.image)
        F, G = outputs[0], outputs[1:]
        content = tf.reduce_sum(tf.square(F - self.P)) / (4.0 * float(np.prod(self.P.shape)))
        style = 0.0
        for w, g, A, shape in zip(STYLE_LAYER_WEIGHTS, G, self.A, self.shapes):
            n, m = shape[3], shape[1] * shape[2]
            style += w * tf.reduce_sum(tf.square(gram_matrix(g) - A)) / float((2 * n * m) ** 2)
        total = self.content_weight * content + self.style_weight * style
        return {"content": content, "style": style, "total": total}

    def step(self) -> dict[str, float]:
        with tf.GradientTape() as tape:
            losses = self.losses()
        grad = tape.gradient(losses["total"], self.image)
        self.opt.apply_gradients([(grad, self.image)])
        return {k: float(v) for k, v in losses.items()}
