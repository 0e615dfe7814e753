"""The multi-style network of Dumoulin et al. (2017), built from the student's part 2 blocks.

Same shape as the published 26-style network (:mod:`nst.fast.published`): 32 channels,
no conv biases (the student's ConvLayer biases are held at 0), sigmoid output::

    c9s1-32, d32, d32, R32 x 6, u8, u4, c9s1-3     every conv followed by a CIN

``ConvLayer``, ``ResidualBlock``, ``UpsampleConvLayer`` and ``ConditionalInstanceNorm`` come
from ``<impl>.transformer_net``; each residual block's two norms are the student's CINs bound
to the batch's style weights, so the student's ``ResidualBlock.__call__`` runs unchanged.

``net(images, style_weights)``: images (B, H, W, 3) RGB 0..255, any size (reflection-padded
to a multiple of 4 inside, cropped back); ``style_weights`` (B, N) or (N,) -> (B, H, W, 3)
float32 in (0, 255), ``255 * sigmoid(y)``. Variable paths (``named_variables``) are
``layers/<i>/conv/kernel`` ... and ``norms/<i>/gamma``, ``norms/<i>/beta`` in the order of
:data:`nst.fast.published.LAYERS`.
"""
from __future__ import annotations

from types import ModuleType

import numpy as np
import tensorflow as tf

from nst.errors import NstError
from nst.fast.published import LAYERS


class _Bound:
    """A CIN with the batch's style weights filled in: ``norm(x)`` for the student's ResidualBlock.

    A plain object, not a tf.Module, so the CIN's variables are tracked once (under ``norms``).
    """

    def __init__(self, cin, owner: "MultiStyleNet"):
        self.cin, self.owner = cin, owner

    def __call__(self, x):
        return self.cin(x, self.owner._weights)


class MultiStyleNet(tf.Module):
    """The published architecture on ``tn`` (the student's ``transformer_net`` module) with ``num_styles`` rows."""

    def __init__(self, tn: ModuleType, num_styles: int, compute_dtype=tf.float32, name: str = "multistyle"):
        super().__init__(name=name)
        self.num_styles, self.compute_dtype = int(num_styles), tf.as_dtype(compute_dtype)
        self.layers, self.norms, self.blocks = [], [], []
        self._weights = None
        names = list(LAYERS)
        for i, name_ in enumerate(names):
            k, stride, cin, cout, up = LAYERS[name_]
            if up > 1:
                layer = tn.UpsampleConvLayer(cin, cout, k, stride, upsample=up, seed=i, name=name_.replace(".", "_"))
            else:
                layer = tn.ConvLayer(cin, cout, k, stride, seed=i, name=name_.replace(".", "_"))
            self.layers.append(layer)
            self.norms.append(tn.ConditionalInstanceNorm(cout, self.num_styles, name=f"cin_{name_.replace('.', '_')}"))
        for b in range(6):   # the student's block, its convs and norms replaced by the published layers
            block = tn.ResidualBlock(32, seed=100 + b, name=f"res{b}")
            i = names.index(f"res.{b}.0")
            block.conv1, block.conv2 = self.layers[i], self.layers[i + 1]
            block.in1, block.in2 = _Bound(self.norms[i], self), _Bound(self.norms[i + 1], self)
            self.blocks.append(block)
        for layer in self.layers:
            conv = getattr(layer, "conv", layer)
            conv.bias.assign(tf.zeros_like(conv.bias))

    def conv_variables(self) -> list[tf.Variable]:
        """The shared convolution kernels (and their zero biases): everything but the style rows."""
        out = []
        for layer in self.layers:
            conv = getattr(layer, "conv", layer)
            out += [conv.kernel, conv.bias]
        return out

    def norm_variables(self) -> list[tf.Variable]:
        """Every CIN's gamma and beta (N, C): the styles."""
        return [v for norm in self.norms for v in (norm.gamma, norm.beta)]

    def __call__(self, images: tf.Tensor, style_weights: tf.Tensor) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        w = tf.convert_to_tensor(style_weights, tf.float32)
        shape = tf.shape(images)
        if w.shape.rank == 1:
            w = tf.tile(w[None], [shape[0], 1])
        h, wd = shape[1], shape[2]
        ph, pw = (-h) % 4, (-wd) % 4
        x = tf.pad(images / 255.0, [[0, 0], [0, ph], [0, pw], [0, 0]], mode="REFLECT")
        # A pad by tensors forgets every dimension; the reshape restores the channels (TFLite's conv needs them).
        x = tf.reshape(x, tf.stack([shape[0], h + ph, wd + pw, 3]))
        y = self.forward(tf.cast(x, self.compute_dtype), w)
        return 255.0 * tf.cast(y[:, :h, :wd, :], tf.float32)

    def forward(self, x: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        """0..1 in, 0..1 out, H and W multiples of 4: the published graph's operations in order."""
        self._weights = w
        for i in range(3):
            x = tf.nn.relu(self.norms[i](self.layers[i](x), w))
        for block in self.blocks:
            x = block(x)
        for i in (15, 16):
            x = tf.nn.relu(self.norms[i](self.layers[i](x), w))
        return tf.sigmoid(self.norms[17](self.layers[17](x), w))


def assign_published(net: MultiStyleNet, arrays: dict[str, np.ndarray], rows=None) -> None:
    """Set the convs from ``arrays`` (published layout) and the style rows ``rows`` of gamma/beta
    (indices into the arrays' rows; default all). ``net.num_styles`` must equal the number of rows."""
    rows = list(range(arrays["contract.0/gamma"].shape[0])) if rows is None else list(rows)
    if len(rows) != net.num_styles:
        raise NstError(f"{len(rows)} style rows for a network of {net.num_styles}")
    for name, layer, norm in zip(LAYERS, net.layers, net.norms):
        conv = getattr(layer, "conv", layer)
        conv.kernel.assign(arrays[f"{name}/kernel"])
        norm.gamma.assign(arrays[f"{name}/gamma"][rows])
        norm.beta.assign(arrays[f"{name}/beta"][rows])


def net_arrays(net: MultiStyleNet) -> dict[str, np.ndarray]:
    """The network's weights in the published layout (the inverse of :func:`assign_published`)."""
    out = {}
    for name, layer, norm in zip(LAYERS, net.layers, net.norms):
        conv = getattr(layer, "conv", layer)
        out[f"{name}/kernel"] = conv.kernel.numpy()
        out[f"{name}/gamma"], out[f"{name}/beta"] = norm.gamma.numpy(), norm.beta.numpy()
    return out
