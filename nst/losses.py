"""Perceptual losses for code students never edit (parts 2 and 3, benchmarks).

Same formulas as the part 1 handout, batched:
  Gram matrix      G = F^T F / (H W C)      for F reshaped to (B, H*W, C)
  content loss     mean((F - P)^2)
  style loss       sum_l w_l * mean((G_l - A_l)^2)
  total variation  mean(|dx|^2) + mean(|dy|^2) over the image
These are the Johnson et al. normalisations (per element), which keep the default
weights meaningful across image sizes.
"""
from __future__ import annotations

import tensorflow as tf


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """(B, H, W, C) -> (B, C, C), normalised by H*W*C."""
    size = tf.cast(tf.reduce_prod(tf.shape(features)[1:]), features.dtype)
    return tf.einsum("bhwc,bhwd->bcd", features, features) / size


def content_loss(generated: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """mean((F - P)^2)."""
    return tf.reduce_mean(tf.square(generated - target))


def style_loss(generated: dict, target_grams: dict, layer_weights: dict | None = None) -> tf.Tensor:
    """sum over layers of w_l * mean((Gram(generated_l) - target_l)^2)."""
    total = 0.0
    for layer, target in target_grams.items():
        w = 1.0 if layer_weights is None else layer_weights[layer]
        total += w * tf.reduce_mean(tf.square(gram_matrix(generated[layer]) - target))
    return total


def total_variation(images: tf.Tensor) -> tf.Tensor:
    """mean(dx^2) + mean(dy^2) over the image (the form part 3's loss uses)."""
    dx = images[:, :, 1:, :] - images[:, :, :-1, :]
    dy = images[:, 1:, :, :] - images[:, :-1, :, :]
    return tf.reduce_mean(tf.square(dx)) + tf.reduce_mean(tf.square(dy))
