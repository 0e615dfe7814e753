# GENERATED from solutions/fast_style.py by `nst course build-assignment`: fill in the TODOs.
"""Part 2, step 2: the perceptual loss and one training step (Johnson et al. 2016).

A fixed, pretrained VGG (the *loss network*) judges the transformation network's output y
for a batch of photos x:

    content   L_c = sum_j mean((phi_j(y) - phi_j(x))^2)              j in content layers
    style     L_s = sum_j w_j mean((G(phi_j(y)) - G(phi_j(s)))^2)    j in style layers, s the style image
    TV        L_tv = mean((y[:, :, 1:] - y[:, :, :-1])^2) + mean((y[:, 1:] - y[:, :-1])^2)
    total     L = content_weight L_c + style_weight L_s + tv_weight L_tv

with G(F) = F^T F / (H W C), batched: F (B, H, W, C) is reshaped to (B, H W, C) and G is
(B, C, C). Part 1's Gram matrix is F^T F unnormalised, and part 1 divides its style loss by
(2 N M)^2 instead (N = C channels, M = H W positions); per image and layer, part 2's
mean((G(y) - G(s))^2) is 4 / C^2 times part 1's E_l. mean() is the squared norm divided by the
number of elements, batch included, which keeps the weights meaningful for any image and batch size. VGG takes RGB 0..255 minus
``nst.weights.MEAN_RGB``. The training step is plain gradient descent on the network's
weights (Adam) for this loss; the style targets are computed once.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from nst.weights import MEAN_RGB

VGG16_CONTENT_LAYERS = ("conv3_3",)
VGG16_STYLE_LAYERS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3")
VGG19_CONTENT_LAYERS = ("conv4_2",)
VGG19_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """G = F^T F / (H W C) for each image: (B, H, W, C) -> (B, C, C), F reshaped to (B, H W, C)."""
    # The shape may be unknown while tracing: read it with tf.shape(features), and divide
    # in float32.
    raise NotImplementedError("TODO 6: the batched Gram matrix (fast_style.py:gram_matrix)")


class PerceptualLoss:
    """``loss(content, stylized)`` -> {"content", "style", "tv", "total"}, scalars (float32).

    ``vgg`` is an ``nst.vgg.VGGFeatures``; ``style_image`` is (H, W, 3) RGB 0..255. Images passed
    to the loss are (B, H, W, 3) RGB 0..255: the photos and the network's output.
    """

    def __init__(self, vgg, style_image: np.ndarray, *, content_layers: Sequence[str] = VGG16_CONTENT_LAYERS,
                 style_layers: Sequence[str] = VGG16_STYLE_LAYERS, content_weight: float = 1.0,
                 style_weight: float = 0.01, tv_weight: float = 1e-4,
                 style_layer_weights: Sequence[float] | None = None):
        self.vgg = vgg
        self.content_layers, self.style_layers = list(content_layers), list(style_layers)
        self.layers = list(dict.fromkeys(self.content_layers + self.style_layers))
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        weights = style_layer_weights or [1.0] * len(self.style_layers)
        self.style_layer_weights = dict(zip(self.style_layers, (float(w) for w in weights)))
        # The style targets, computed once: {layer: (1, C, C)}.
        style = self.features(tf.constant(np.asarray(style_image, np.float32)[None]))
        self.style_grams = {layer: gram_matrix(style[layer]) for layer in self.style_layers}

    def features(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """VGG activations (float32) of RGB 0..255 images at every layer the loss uses."""
        return self.vgg.features(images - MEAN_RGB, self.layers)

    def __call__(self, content: tf.Tensor, stylized: tf.Tensor) -> dict[str, tf.Tensor]:
        """The formulas of the module docstring. The content targets phi_j(content) are constants:
        no gradient flows into them. Returns the three losses, unweighted, and the weighted total.
        """
        # One VGG pass for the photos, one for the stylized images; tf.stop_gradient for the targets.
        # The style Gram matrices of the style image are in self.style_grams (batch 1: they broadcast).
        raise NotImplementedError("TODO 7: the perceptual loss (fast_style.py:__call__)")


def train_step(net, loss_fn, optimizer, images: tf.Tensor, grad_scale: float = 1.0) -> dict[str, tf.Tensor]:
    """One update of the network's weights on a batch of photos (B, H, W, 3), RGB 0..255.

    Stylize the photos with ``net``, compute ``losses = loss_fn(images, stylized)``, take the
    gradient of ``grad_scale * losses["total"]`` with respect to ``net.trainable_variables``
    and apply it with ``optimizer``. Return the losses (unscaled).

    ``grad_scale`` is 1 on one device; under ``tf.distribute.MirroredStrategy`` it is
    1 / (number of replicas), because the optimizer sums the replicas' gradients.
    """
    raise NotImplementedError("TODO 8: one training step (fast_style.py:train_step)")
