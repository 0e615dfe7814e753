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
