"""What this CPU can do: a large convolution's FLOP rate, and the FLOPs of one Gatys step.

FLOPs are counted analytically (a multiply-add = 2 FLOPs):

* a 3x3 SAME convolution on (H, W, C_in) -> (H, W, C_out): ``2 * 9 * H * W * C_in * C_out``;
* a Gram matrix of (M = H*W, N = C) features: ``2 * M * N^2``.

The ceiling is the best rate of a 3x3 convolution over VGG's own shapes
(``CONV_SHAPES``), measured in the same process and the same seconds as the paths.

A Gatys step runs VGG19 forward up to the deepest layer used (conv5_1), then back to the
image. The VGG weights are constants, so the backward pass needs only each convolution's
input gradient (as many FLOPs as its forward), not the filter gradient: a step is
``2 x`` the forward convolutions (not the ``3 x`` of training a network) plus ``3 x`` the
generated image's Gram matrices (forward, and two products backward). Pooling, ReLU and
the loss arithmetic are left out (< 1%). An implementation that does more (the eager
baseline also computes filter gradients it throws away) is still credited only this work.
"""
from __future__ import annotations

import time

from nst.gatys import STYLE_LAYERS
from nst.vgg import layer_order
from nst.weights import LAYERS

# VGG's own 3x3 convolution shapes (batch, height, width, in, out), 3.7 to 14.8 GFLOP each.
# The ceiling is the best rate over all of them: no path earns a fraction above 1 just by
# running a friendlier shape than the one measured.
CONV_SHAPES = ((1, 224, 224, 64, 64), (1, 112, 112, 128, 128), (1, 112, 112, 256, 256), (1, 56, 56, 512, 512))
_conv = None  # one traced function per dtype/shape, made once per process


def vgg_flops(height: int, width: int, layers=STYLE_LAYERS + ("conv4_2",), gram_layers=STYLE_LAYERS,
              network: str = "vgg19") -> dict[str, float]:
    """Forward conv FLOPs up to the deepest of ``layers``, Gram FLOPs, and the step total (see module doc)."""
    order = layer_order(network)
    last = max(order.index(l) for l in layers)
    channels_in, h, w = 3, height, width
    conv = gram = 0.0
    out_channels = {name: 64 * 2 ** min(int(name[4]) - 1, 3) for name in LAYERS[network]}
    for name in order[: last + 1]:
        if name.startswith("pool"):
            h, w = -(-h // 2), -(-w // 2)
            continue
        c = out_channels[name]
        conv += 2 * 9 * h * w * channels_in * c
        if name in gram_layers:
            gram += 2 * h * w * c * c
        channels_in = c
    return {"conv_forward": conv, "gram_forward": gram, "step": 2 * conv + 3 * gram}


def conv_rate(dtype: str = "float32", repeats: int = 3, shape=CONV_SHAPES[2]) -> float:
    """Best measured FLOP/s of one 3x3 SAME convolution of ``shape`` in ``dtype``, in-graph."""
    import tensorflow as tf

    global _conv
    if _conv is None:
        _conv = tf.function(lambda x, k: tf.reduce_sum(tf.cast(tf.nn.conv2d(x, k, 1, "SAME"), tf.float32)))
    b, h, w, cin, cout = shape
    x = tf.cast(tf.random.stateless_normal((b, h, w, cin), (1, 2)), dtype)
    k = tf.cast(tf.random.stateless_normal((3, 3, cin, cout), (3, 4)) * 0.05, dtype)
    _conv(x, k).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        _conv(x, k).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * 9 * b * h * w * cin * cout / best


def best_conv_rate(dtype: str = "float32", repeats: int = 3) -> tuple[float, tuple]:
    """(FLOP/s, shape): the fastest of ``CONV_SHAPES`` in ``dtype``, now."""
    return max((conv_rate(dtype, repeats, shape), shape) for shape in CONV_SHAPES)


def measure(repeats: int = 3) -> dict[str, tuple[float, tuple]]:
    """{"float32": (GFLOP/s, best shape), "bfloat16": (GFLOP/s, best shape)}, now."""
    out = {}
    for dtype in ("float32", "bfloat16"):
        rate, shape = best_conv_rate(dtype, repeats)
        out[dtype] = (rate / 1e9, shape)
    return out
