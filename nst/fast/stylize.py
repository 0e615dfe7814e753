"""Stylize images, folders and videos with a trained network in one forward pass each
(the files, folders and video handling is :class:`nst.media.MediaStylizer`).

The network is fully convolutional, so any image size works; one ``tf.function`` with an
input signature of unknown batch, height and width serves every input without retracing.
Video frames go through the network ``batch_size`` at a time and come out as an mp4 with
the input's frame rate and frame count (:mod:`nst.video`).

``model``: a Johnson network file, or one or several multi-style specs (``published:7``, a
style trained with ``init: published``) blended by ``style_weights`` (:mod:`nst.fast.styles`).

Post-processing, per image: ``--preserve-colors`` keeps the content's chrominance (YIQ
luminance transfer); ``--strength s`` blends ``s * stylized + (1 - s) * content``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from nst.errors import NstError
from nst.images import preserve_colors
from nst.media import MediaStylizer, plan  # noqa: F401  (plan: re-exported)
from nst.runtime import compute_dtype


class Stylizer(MediaStylizer):
    """``Stylizer(model).stylize(images)``: (B, H, W, 3) RGB 0..255 -> stylized, same shape, float32."""

    def __init__(self, model, *, impl: str | None = None, precision: str = "float32",
                 max_size: int | None = None, preserve_colors: bool = False, strength: float = 1.0,
                 batch_size: int = 4, style_weights: list[float] | None = None):
        if not 0.0 <= strength <= 1.0:
            raise NstError(f"--strength must be between 0 and 1, got {strength}")
        if batch_size < 1:
            raise NstError(f"--batch-size must be at least 1, got {batch_size}")
        if max_size is not None and max_size < 8:
            raise NstError(f"--max-size must be at least 8 pixels, got {max_size}")
        from nst.fast.styles import load, tag

        specs = [model] if isinstance(model, (str, Path)) else list(model)
        self.model = specs[0]
        self.tag = "_".join(tag(s) for s in specs)[:60]
        self.net, self.meta = load(specs, impl, compute_dtype(precision), style_weights)
        self.max_size, self.keep_colors, self.strength, self.batch_size = max_size, preserve_colors, strength, batch_size
        self._forward = tf.function(self.net.__call__,
                                    input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])

    def stylize(self, images: np.ndarray) -> np.ndarray:
        """The network's output for a batch, then colour preservation and the strength blend."""
        images = np.asarray(images, dtype=np.float32)
        out = self._forward(tf.constant(images)).numpy()
        if self.keep_colors:
            out = np.stack([preserve_colors(c, s) for c, s in zip(images, out)])
        if self.strength < 1.0:
            out = self.strength * out + (1.0 - self.strength) * images
        return np.clip(out, 0.0, 255.0)

