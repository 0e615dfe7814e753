# GENERATED from solutions/style_transfer.py by `nst course build-assignment`: fill in the TODOs.
"""Part 1, step 2: Gatys et al. style transfer (CS20si ``style_transfer.py``).

One ``tf.Variable`` is the network's input. We assign the content image to it and
read the content layer (P), assign the style image and read the style layers (A),
then assign the initial image and optimise the variable itself so that its features
match P and its Gram matrices match those of A.

The methods follow the handout's steps in order:
create_input -> load_vgg -> losses -> optimize -> create_summary (= build), then train.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from nst import gatys
from nst.images import preprocess

from . import load_vgg


class StyleTransfer:
    def __init__(self, content_img: np.ndarray, style_imgs: list[np.ndarray], config: gatys.Config | None = None):
        """Images are RGB 0..255 arrays of the same (H, W, 3); see ``nst.gatys.prepare_images``."""
        self.config = config = config or gatys.Config()
        self.img_height, self.img_width = content_img.shape[:2]
        self.content_img = preprocess(content_img)
        self.style_imgs = [preprocess(s) for s in style_imgs]
        self.initial_img = preprocess(gatys.initial_image(content_img, style_imgs, config))

        self.content_layers = gatys.content_layer_weights(config)     # {"conv4_2": 1.0}
        self.style_layers = list(config.style_layers)                 # conv1_1 ... conv5_1
        self.style_layer_w = gatys.style_layer_weights(config)        # [0.5, 1.0, 1.5, 3.0, 4.0]
        self.style_blend_w = gatys.style_blend_weights(config, len(style_imgs))
        self.content_w, self.style_w, self.tv_w = config.content_weight, config.style_weight, config.tv_weight
        self.lr = config.learning_rate
        self.gstep = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")

    # ------------------------------------------------------------------ the graph
    def create_input(self) -> None:
        """The single input of the network: a (1, H, W, 3) float32 variable, initially zero."""
        self.input_img = tf.Variable(tf.zeros([1, self.img_height, self.img_width, 3]), name="in_img")

    def load_vgg(self) -> None:
        """VGG19 with pretrained weights, evaluated only up to the deepest layer used."""
        layers = list(self.content_layers) + self.style_layers
        last = max(layers, key=gatys.layer_depth)
        self.vgg = load_vgg.VGG(self.config.network, pooling=self.config.pooling,
                                dtype=gatys.compute_dtype(self.config), last_layer=last)

    def _features(self) -> dict[str, tf.Tensor]:
        """Activations of the current ``input_img``, as float32. The name scopes ("input/", "vgg/", and
        "losses/" in ``total_loss``) group TensorBoard's graph by the handout's steps."""
        with tf.name_scope("input/"):
            x = tf.identity(self.input_img)
        with tf.name_scope("vgg/"):
            return {k: tf.cast(v, tf.float32) for k, v in self.vgg.load(x).items()}

    # ------------------------------------------------------------------ the losses
    def _content_loss(self, P: tf.Tensor, F: tf.Tensor) -> tf.Tensor:
        """L_content = sum((F - P)^2) / (4 s), with s the number of elements of P."""
        raise NotImplementedError("TODO 3: the content loss (style_transfer.py:_content_loss)")

    def _gram_matrix(self, F: tf.Tensor, N: int, M: int) -> tf.Tensor:
        """G = F^T F with F reshaped to (M, N): M = H*W positions, N = C channels. G is (N, N)."""
        raise NotImplementedError("TODO 4: the Gram matrix (style_transfer.py:_gram_matrix)")

    def _single_style_loss(self, a: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
        """E_l = sum((G - A)^2) / (2 N M)^2, G and A the Gram matrices of g (generated) and a (style).

        N is the number of channels and M = H*W of the layer, both read from ``a``'s shape (1, H, W, N).
        """
        raise NotImplementedError("TODO 5: one layer's style loss (style_transfer.py:_single_style_loss)")

    def _style_loss(self, A: list[tf.Tensor], G: list[tf.Tensor]) -> tf.Tensor:
        """L_style = sum_l w_l E_l over the style layers, w_l = ``self.style_layer_w[l]``.

        A[l] is the style image's activation at ``self.style_layers[l]``, G[l] the generated image's.
        """
        raise NotImplementedError("TODO 6: weighted sum of the per-layer style losses (style_transfer.py:_style_loss)")

    def _tv_loss(self) -> tf.Tensor:
        """Total variation: mean squared difference of neighbouring pixels, across and down."""
        x = self.input_img
        return (tf.reduce_mean(tf.square(x[:, :, 1:] - x[:, :, :-1]))
                + tf.reduce_mean(tf.square(x[:, 1:] - x[:, :-1])))

    def losses(self) -> None:
        """The targets, through the shared input: P from the content image, A from each style image.

        Assign the content image to ``self.input_img`` and keep the content layers' activations
        as ``self.P`` ({layer: tensor}); assign each style image and keep its style layers'
        activations as ``self.A`` (a list, one list of tensors per style image); finally assign
        the initial image, which is where the optimisation starts.
        """
        # self._features() returns the activations of whatever self.input_img holds now.
        raise NotImplementedError("TODO 7: compute P and A through the input variable, then set the initial image (style_transfer.py:losses)")

    def total_loss(self) -> dict[str, tf.Tensor]:
        """L = content_w * sum_c b_c L_content(c) + style_w * sum_s v_s L_style(s) + tv_w * L_tv.

        b_c: content layer blend (conv4_2 by default), v_s: style blend weights.
        """
        features = self._features()
        with tf.name_scope("losses/"):
            content = tf.add_n([w * self._content_loss(self.P[layer], features[layer])
                                for layer, w in self.content_layers.items()])
            G = [features[layer] for layer in self.style_layers]
            style = tf.add_n([v * self._style_loss(A, G) for v, A in zip(self.style_blend_w, self.A)])
            tv = self._tv_loss()
            total = self.content_w * content + self.style_w * style + self.tv_w * tv
        return {"content": content, "style": style, "tv": tv, "total": total}

    # ------------------------------------------------------------------ optimisation
    def optimize(self) -> None:
        """Adam on the input variable: defines ``self.train_step()``, which does one update and returns the losses.

        One step (TODO 8): record ``self.total_loss()`` on a ``tf.GradientTape``, take the gradient of its
        ``"total"`` with respect to ``self.input_img``, apply it with ``self.opt``, and count the step:
        ``self.gstep`` (the global step, an int64 variable) goes up by 1. The training loop, TensorBoard
        and the tests read the step from ``self.gstep``.
        """
        c = self.config
        self.opt = tf.keras.optimizers.Adam(c.learning_rate, beta_1=c.beta1, beta_2=c.beta2, epsilon=c.epsilon,
                                            name="optimizer")  # its update ops: the graph's "optimizer" group
        self.opt.build([self.input_img])
        self.trace_count = 0

        @tf.function
        def train_step() -> dict[str, tf.Tensor]:
            self.trace_count += 1  # runs only while tracing
            raise NotImplementedError("TODO 8: one Adam step on the input (gradient of the total loss), then count it in self.gstep (style_transfer.py:optimize.train_step)")
            return losses

        self.train_step = train_step

    def create_summary(self) -> None:
        """TensorBoard: content, style, tv and total loss as scalars; the image every few steps."""
        self.writer = gatys.summary_writer(self.config)

    def build(self) -> None:
        self.create_input()
        self.load_vgg()
        self.losses()
        self.optimize()
        self.create_summary()

    def train(self, n_iters: int | None = None) -> np.ndarray:
        """Optimise (Adam or L-BFGS, with checkpoints and logging); return the image, uint8 RGB."""
        return gatys.train(self, n_iters or self.config.iterations)
