# GENERATED from solutions/load_vgg.py by `nst course build-assignment`: fill in the TODOs.
"""Part 1, step 1: build VGG19 from pretrained weights (CS20si ``load_vgg.py``).

The network is a stack of 3x3 convolutions with ReLU and 2x2 pooling; we keep the
16 convolutions of VGG19 and drop the fully connected layers. Gatys et al. replace
max pooling with average pooling, which gives smoother images.
"""
from __future__ import annotations

import tensorflow as tf

from nst.weights import LAYERS, MEAN_RGB, load_weights


class VGG:
    """VGG19 whose ``load(input_img)`` returns every layer's activations by name.

    The input is an RGB image minus ``mean_pixels`` (shape (1, H, W, 3)). After
    ``load`` each layer is also an attribute: ``vgg.conv4_2``, ``vgg.avgpool1``...
    """

    def __init__(self, weights: str = "vgg19", pooling: str = "avg", dtype=tf.float32, last_layer: str | None = None):
        self.weights = load_weights(weights) if isinstance(weights, str) else weights
        self.pooling = pooling
        self.dtype = tf.as_dtype(dtype)
        self.last_layer = last_layer          # stop after this layer (saves time when deeper ones are unused)
        self.mean_pixels = MEAN_RGB.reshape((1, 1, 1, 3))
        self._constants: dict[str, tuple[tf.Tensor, tf.Tensor]] = {}

    def _weights(self, layer_name: str) -> tuple[tf.Tensor, tf.Tensor]:
        """The pretrained (W, b) of ``layer_name``: W is (3, 3, in, out), b is (out,)."""
        if layer_name not in self._constants:
            W, b = self.weights[layer_name]
            self._constants[layer_name] = (tf.constant(W, dtype=self.dtype), tf.constant(b, dtype=self.dtype))
        return self._constants[layer_name]

    def conv2d_relu(self, prev_layer: tf.Tensor, layer_name: str) -> tf.Tensor:
        """out = relu(conv2d(prev_layer, W) + b): stride 1, SAME padding; W, b from ``self._weights``.

        Also store the output as ``self.<layer_name>`` and return it.
        """
        # W, b = self._weights(layer_name); see tf.nn.conv2d and tf.nn.relu.
        raise NotImplementedError("TODO 1: convolution with the pretrained weights, plus bias, then ReLU (load_vgg.py:conv2d_relu)")
        setattr(self, layer_name, out)
        return out

    def avgpool(self, prev_layer: tf.Tensor, layer_name: str) -> tf.Tensor:
        """Average pooling over 2x2 windows with stride 2 and SAME padding: (H, W) -> (ceil(H/2), ceil(W/2)).

        Also store the output as ``self.<layer_name>`` and return it.
        """
        raise NotImplementedError("TODO 2: 2x2 average pooling with stride 2 (load_vgg.py:avgpool)")
        setattr(self, layer_name, out)
        return out

    def maxpool(self, prev_layer: tf.Tensor, layer_name: str) -> tf.Tensor:
        """Max pooling, 2x2 stride 2 SAME (the original VGG's choice; ``--pooling max``)."""
        out = tf.nn.max_pool2d(prev_layer, ksize=2, strides=2, padding="SAME")
        setattr(self, layer_name, out)
        return out

    def load(self, input_img: tf.Tensor) -> dict[str, tf.Tensor]:
        """Run the network on ``input_img``; return {layer name: activation} up to ``last_layer``."""
        pool = self.avgpool if self.pooling == "avg" else self.maxpool
        features: dict[str, tf.Tensor] = {}
        x = tf.cast(input_img, self.dtype)
        previous_block = "1"
        for name in LAYERS["vgg19"] if "conv5_4" in self.weights else LAYERS["vgg16"]:
            block = name[4]
            if block != previous_block:
                x = features[f"{self.pooling}pool{previous_block}"] = pool(x, f"{self.pooling}pool{previous_block}")
                previous_block = block
            x = features[name] = self.conv2d_relu(x, name)
            if name == self.last_layer:
                return features
        features[f"{self.pooling}pool5"] = pool(x, f"{self.pooling}pool5")
        return features
