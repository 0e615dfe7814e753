"""``nst fast eval``: how close a model's pictures are to a painting, on held-out photos.

For each photo c (resized so its longest side is ``size``), the model's picture x = f(c) and
the painting s (longest side ``size``), with the loss network of training (VGG16; the
default part 2 layers and layer weights, ``nst.fast.config.DEFAULT_LAYERS``):

    style(c)   = sum_l w_l * mean((G(F_l(x)) - G(F_l(s)))^2)      (l in the style layers)
    content(c) = sum_l mean((F_l(x) - F_l(c))^2)                  (l in the content layers)

G is the Gram matrix of ``nst.losses`` (normalised by H*W*C): the same terms as the training
loss (``PerceptualLoss``), without their weights. Lower style loss: closer to the painting;
lower content loss: closer to the photo. ``nst arbitrary eval`` reports the same style term.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from nst.images import fit_size, load_image, resize
from nst.losses import content_loss, gram_matrix, style_loss
from nst.vgg import VGGFeatures
from nst.weights import MEAN_RGB


def _fit(image: np.ndarray, size: int) -> np.ndarray:
    return resize(image, *fit_size(*image.shape[:2], max_size=size)) if max(image.shape[:2]) != size else image


class HeldOut:
    """The losses above for any network on fixed photos and painting: the painting's Gram matrices and
    the photos' features are computed once, so a training run can ask every few steps (benchmarks)."""

    def __init__(self, photos: dict[str, np.ndarray], style: np.ndarray, *, size: int = 512,
                 loss_model: str = "vgg16") -> None:
        from nst.fast.config import DEFAULT_LAYERS, DEFAULT_STYLE_LAYER_WEIGHTS

        self.content_layers, self.style_layers = DEFAULT_LAYERS[loss_model]
        weights = DEFAULT_STYLE_LAYER_WEIGHTS[loss_model]
        self.layer_weights = dict(zip(self.style_layers, weights)) if weights else None
        self.vgg = VGGFeatures(loss_model, pooling="max")
        self.layers = list(dict.fromkeys(self.content_layers + self.style_layers))
        target = self.features(_fit(style, size).astype(np.float32))
        self.grams = {l: gram_matrix(target[l]) for l in self.style_layers}
        self.photos = {name: _fit(photo, size).astype(np.float32) for name, photo in photos.items()}
        self.targets = {name: self.features(photo) for name, photo in self.photos.items()}

    def features(self, image: np.ndarray) -> dict[str, tf.Tensor]:
        return self.vgg.features(tf.constant(image[None] - MEAN_RGB), self.layers)

    def __call__(self, net) -> dict[str, dict[str, float]]:
        """{photo name: {"style", "content"}} and "mean" for ``net(images)`` (RGB 0..255 in and out)."""
        out: dict[str, dict[str, float]] = {}
        for name, photo in self.photos.items():
            fx, fc = self.features(np.asarray(net(tf.constant(photo[None])))[0]), self.targets[name]
            out[name] = {"style": float(style_loss(fx, self.grams, self.layer_weights)),
                         "content": float(tf.add_n([content_loss(fx[l], fc[l]) for l in self.content_layers]))}
        out["mean"] = {k: float(np.mean([v[k] for v in out.values()])) for k in ("style", "content")}
        return out


def losses(net, photos: dict[str, np.ndarray], style: np.ndarray, *, size: int = 512,
           loss_model: str = "vgg16") -> dict[str, dict[str, float]]:
    """{photo name: {"style", "content"}} and "mean" for ``net(images)`` (RGB 0..255 in and out)."""
    return HeldOut(photos, style, size=size, loss_model=loss_model)(net)


def load_photos(folders, exclude=()) -> dict[str, np.ndarray]:
    """{file name: image} of every image under the folders (``nst.fast.data.find_images``)."""
    from nst.fast.data import find_images

    return {p.name: load_image(p) for p in find_images([Path(f) for f in folders], exclude)}
