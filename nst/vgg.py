"""The library's VGG feature extractor (loss networks of parts 2 and 3, benchmarks).

Students build their own VGG in ``assignment/load_vgg.py``; this is the same network
for code that students never edit: pretrained weights from :mod:`nst.weights`, frozen,
evaluated only up to the deepest layer asked for.
"""
from __future__ import annotations

import tensorflow as tf

from nst.errors import NstError
from nst.weights import LAYERS, get_source, load_weights


def layer_order(network: str) -> list[str]:
    """conv and pool names in forward order, e.g. conv1_1, conv1_2, pool1, conv2_1, ..."""
    order: list[str] = []
    for name in LAYERS[network]:
        block = name[4]
        if order and order[-1].startswith("conv") and order[-1][4] != block:
            order.append(f"pool{order[-1][4]}")
        order.append(name)
    order.append(f"pool{order[-1][4]}")
    return order


class VGGFeatures(tf.Module):
    """Frozen VGG: ``features(x, layers)`` -> {layer: activation}, x = RGB minus MEAN_RGB.

    Conv layers are 3x3/stride 1/SAME followed by ReLU; pools are 2x2/stride 2
    (``pooling`` = "avg" as in Gatys et al., or "max").
    """

    def __init__(self, source: str = "vgg19", pooling: str = "avg", dtype: tf.DType = tf.float32):
        super().__init__(name=f"{source.replace('-', '_')}_features")
        if pooling not in ("avg", "max"):
            raise NstError(f"--pooling must be avg or max, got {pooling!r}")
        self.network = get_source(source).network
        self.pooling, self.compute_dtype = pooling, tf.as_dtype(dtype)
        self.order = layer_order(self.network)
        weights = load_weights(source)
        self.kernels = {n: tf.constant(W, dtype=self.compute_dtype) for n, (W, _) in weights.items()}
        self.biases = {n: tf.constant(b, dtype=self.compute_dtype) for n, (_, b) in weights.items()}

    def check_layers(self, layers) -> None:
        unknown = [l for l in layers if l not in self.order]
        if unknown:
            raise NstError(f"unknown {self.network} layer(s): {', '.join(unknown)}; "
                           f"known: {', '.join(self.order)}")

    def features(self, x: tf.Tensor, layers) -> dict[str, tf.Tensor]:
        """Activations of ``layers`` (float32), computing nothing past the deepest one."""
        layers = list(layers)
        self.check_layers(layers)
        last = max(self.order.index(l) for l in layers)
        wanted, out = set(layers), {}
        h = tf.cast(x, self.compute_dtype)
        for name in self.order[: last + 1]:
            if name.startswith("conv"):
                h = tf.nn.relu(tf.nn.conv2d(h, self.kernels[name], 1, "SAME") + self.biases[name])
            elif self.pooling == "avg":
                h = tf.nn.avg_pool2d(h, 2, 2, "SAME")
            else:
                h = tf.nn.max_pool2d(h, 2, 2, "SAME")
            if name in wanted:
                out[name] = tf.cast(h, tf.float32)
        return out

    def __call__(self, x: tf.Tensor, layers) -> dict[str, tf.Tensor]:
        return self.features(x, layers)


def min_input_side(layers, network: str = "vgg19") -> int:
    """Smallest input side for which every layer in ``layers`` is at least 1x1 and not degenerate."""
    order = layer_order(network)
    deepest = max(order.index(l) for l in layers)
    pools = sum(1 for n in order[: deepest + 1] if n.startswith("pool"))
    return max(16, 2 ** (pools + 1))
