"""A new style for the published multi-style network: ``init: published`` in a part 2 config.

Dumoulin et al.'s route to one more painting: keep the published network's convolutions and
learn only a new row of every CIN's gamma and beta (``train: norm``: 990 numbers, the saved
style is a few KB), or fine-tune everything from a published style (``train: all``).

The row starts from the mean of the 26 published rows (``init: published``) or from row K
(``init: published:K``). Training is the usual part 2 loop (the student's ``train_step`` and
``PerceptualLoss``) on :class:`TrainView`, a one-style view whose ``trainable_variables`` are
the row (``norm``) or the row and every kernel (``all``).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from nst.errors import NstError
from nst.fast.published import LAYERS
from nst.fast.styles import is_published

TRAIN_MODES = ("norm", "all")


def is_multistyle_init(init) -> bool:
    """``published`` or ``published:K``: a new style for the published network."""
    return init is not None and (str(init) == "published" or is_published(init))


class TrainView(tf.Module):
    """``view(images)`` = the one-style network; ``trainable_variables`` per ``train`` mode."""

    def __init__(self, net, train: str):
        super().__init__(name="new_style")
        if train not in TRAIN_MODES:
            raise NstError(f"train must be one of {', '.join(TRAIN_MODES)}, got {train!r}")
        self.net, self.train = net, train
        self._one = tf.constant([1.0])

    @property
    def trainable_variables(self):
        norms = self.net.norm_variables()
        if self.train == "norm":
            return tuple(norms)
        kernels = [getattr(layer, "conv", layer).kernel for layer in self.net.layers]
        return tuple(kernels + norms)

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        return self.net(images, self._one)


def start_network(init: str, train: str, impl: str | None = None, compute_dtype=tf.float32) -> TrainView:
    """The published convolutions and one style row (the mean of the 26, or row K), as a TrainView."""
    from nst.fast.multistyle import MultiStyleNet
    from nst.fast.published import NUM_STYLES, load_arrays
    from nst.impl import load as load_impl

    arrays = load_arrays()
    if str(init) == "published":
        pick = lambda a: a.mean(axis=0, keepdims=True)   # noqa: E731
    else:
        k = int(str(init).split(":")[1])
        if not 0 <= k < NUM_STYLES:
            raise NstError(f"init {init}: the published network has styles published:0 .. published:{NUM_STYLES - 1}")
        pick = lambda a: a[k:k + 1]   # noqa: E731
    net = MultiStyleNet(load_impl("transformer_net", impl), 1, compute_dtype)
    for name, layer, norm in zip(LAYERS, net.layers, net.norms):
        getattr(layer, "conv", layer).kernel.assign(arrays[f"{name}/kernel"])
        norm.gamma.assign(pick(arrays[f"{name}/gamma"]))
        norm.beta.assign(pick(arrays[f"{name}/beta"]))
    return TrainView(net, train)


def count(view: TrainView) -> int:
    """How many numbers the run learns (990 for ``train: norm``)."""
    return int(sum(np.prod(v.shape) for v in view.trainable_variables))
