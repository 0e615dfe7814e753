"""Inference: stylise with one or several styles, a strength, and interpolation strips.

Everything happens in embedding space. With z(s) the style embedding of image s (its
largest centred square at ``style_size`` x ``style_size``, as the published model takes it),
    blend:     z = sum_i w_i z(s_i) / sum_i w_i
    strength:  z' = (1 - a) z(content) + a z        (a = 0: the content's own style)
and the transfer network decodes the content with the gamma/beta predicted from z'.
``MediaRunner`` does the same for images, folders and videos (:mod:`nst.media`).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from nst.blend import normalised
from nst.errors import NstError
from nst.images import preprocess, preserve_colors, resize, to_uint8
from nst.media import MediaStylizer
from nst.weights import MEAN_RGB

from .networks import ArbitraryStyleModel

MIN_SIDE = 16


def style_input(image: np.ndarray, size: int) -> np.ndarray:
    """The style image's largest centred square at size x size, preprocessed to (1, size, size, 3)."""
    return preprocess(center_square(image, size))


def center_square(image: np.ndarray, size: int) -> np.ndarray:
    """The largest centred square of ``image``, resized to size x size (0..255)."""
    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return resize(image[top:top + s, left:left + s], size, size)


def fill(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize and centre-crop ``image`` to exactly height x width (for thumbnails)."""
    h, w = image.shape[:2]
    scale = max(height / h, width / w)
    big = resize(image, max(height, round(h * scale)), max(width, round(w * scale)))
    top, left = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return big[top:top + height, left:left + width]


class Stylizer:
    """Traced (``tf.function``) embed and transfer for one model; any input size."""

    def __init__(self, model: ArbitraryStyleModel):
        self.model = model
        self.style_size = model.config.style_size
        self._embed = tf.function(model.embed, reduce_retracing=True)
        self._transfer = tf.function(model.transfer, reduce_retracing=True)

    def embed(self, style: np.ndarray) -> tf.Tensor:
        """z (1, embedding_dim) of a style image given as (H, W, 3) RGB 0..255."""
        if min(style.shape[:2]) < MIN_SIDE:
            raise NstError(f"style image is {style.shape[1]}x{style.shape[0]}; it needs at least "
                           f"{MIN_SIDE} px on each side")
        return tf.cast(self._embed(tf.constant(style_input(style, self.style_size))), tf.float32)

    def blend(self, styles: list[np.ndarray], weights: list[float] | None = None) -> tf.Tensor:
        """sum_i w_i z(s_i) / sum_i w_i (equal weights by default)."""
        if not styles:
            raise NstError("give at least one --style")
        weights = normalised(weights, len(styles), "--style image(s)")
        return tf.add_n([w * self.embed(s) for w, s in zip(weights, styles) if w > 0])

    def decode(self, content: np.ndarray, embedding: tf.Tensor) -> np.ndarray:
        """The content (H, W, 3) 0..255 rendered with ``embedding``; uint8 of the same size.

        Images under MIN_SIDE px are upscaled for the network (its 9x9 reflection padding
        and two stride-2 layers need room) and the result is scaled back.
        """
        h, w = content.shape[:2]
        small = min(h, w) < MIN_SIDE
        if small:
            scale = MIN_SIDE / min(h, w)
            content = resize(content, max(MIN_SIDE, round(h * scale)), max(MIN_SIDE, round(w * scale)))
        out = to_uint8(self.render(content, embedding))
        return resize(out.astype(np.float32), h, w).round().astype(np.uint8) if small else out

    def render(self, content: np.ndarray, embedding: tf.Tensor) -> np.ndarray:
        """The transfer network's float32 (H, W, 3) RGB 0..255 output, before rounding to uint8.

        The content needs at least MIN_SIDE px on each side (``decode`` upscales smaller ones).
        """
        y = self._transfer(tf.constant(preprocess(content)), tf.convert_to_tensor(embedding))
        return np.asarray(y[0], dtype=np.float32) + MEAN_RGB

    def stylize(self, content: np.ndarray, styles: list[np.ndarray], weights: list[float] | None = None,
                strength: float = 1.0) -> np.ndarray:
        """Blend the styles, move ``strength`` of the way from the content's own embedding, decode."""
        if not 0.0 <= strength <= 1.0:
            raise NstError(f"--strength must be between 0 and 1, got {strength}")
        z = self.blend(styles, weights)
        if strength < 1.0:
            z = (1.0 - strength) * self.embed(content) + strength * z
        return self.decode(content, z)

    def strip(self, content: np.ndarray, style_a: np.ndarray, style_b: np.ndarray, steps: int = 5) -> np.ndarray:
        """One row: style A, ``steps`` results from z(A) to z(B) in equal steps, style B.

        Shape (H, (steps + 2) * W, 3) for an H x W content.
        """
        if steps < 2:
            raise NstError(f"--steps must be at least 2, got {steps}")
        h, w = content.shape[:2]
        za, zb = self.embed(style_a), self.embed(style_b)
        tiles = [fill(style_a, h, w).round().astype(np.uint8)]
        tiles += [self.decode(content, (1 - t) * za + t * zb) for t in np.linspace(0.0, 1.0, steps)]
        tiles.append(fill(style_b, h, w).round().astype(np.uint8))
        return np.concatenate(tiles, axis=1)

    def grid(self, contents: list[np.ndarray], styles: list[np.ndarray], size: int = 128) -> np.ndarray:
        """Contents down, styles across: a blank corner, style thumbnails on top, content first in each row."""
        rows = [[np.full((size, size, 3), 255, np.uint8)] + [center_square(s, size).astype(np.uint8) for s in styles]]
        zs = [self.embed(s) for s in styles]
        for c in contents:
            c = center_square(c, size)
            rows.append([c.astype(np.uint8)] + [self.decode(c, z) for z in zs])
        return np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)


class MediaRunner(MediaStylizer):
    """``nst arbitrary stylize`` over images, folders and videos with one blended style.

    The style embedding is computed once; ``strength`` < 1 moves it towards each frame's own
    embedding; ``preserve_colors`` keeps each content's chrominance (YIQ) afterwards.
    """

    def __init__(self, stylizer: Stylizer, styles: list[np.ndarray], weights: list[float] | None = None, *,
                 strength: float = 1.0, preserve_colors: bool = False, max_size: int | None = None,
                 batch_size: int = 1, tag: str = "arbitrary"):
        if not 0.0 <= strength <= 1.0:
            raise NstError(f"--strength must be between 0 and 1, got {strength}")
        self.stylizer, self.strength, self.keep_colors = stylizer, strength, preserve_colors
        self.max_size, self.batch_size, self.tag = max_size, batch_size, tag
        self.z = stylizer.blend(styles, weights)

    def stylize(self, images: np.ndarray) -> np.ndarray:
        out = []
        for image in np.asarray(images, dtype=np.float32):
            z = self.z if self.strength == 1.0 else (
                (1.0 - self.strength) * self.stylizer.embed(image) + self.strength * self.z)
            y = self.stylizer.decode(image, z).astype(np.float32)
            out.append(preserve_colors(image, y) if self.keep_colors else y)
        return np.clip(np.stack(out), 0.0, 255.0)
