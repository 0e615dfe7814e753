"""Part 3: arbitrary style transfer (Ghiasi, Lee, Kudlur, Dumoulin and Shlens 2017).

One transfer network renders any style. Its instance normalisation layers are
*conditional*: after normalising each channel, they scale and shift it with a gamma and
a beta that a style prediction network computes from the style image:

    style image --backbone--> features --spatial mean--> 1x1 bottleneck --> z (100-d)
    z --one dense layer per norm layer--> (gamma_l, beta_l) for every norm layer l
    content --transfer network with CIN(gamma_l, beta_l)--> stylised image

The library (``nst.arbitrary``) builds the networks, the data and the training loop
around the three pieces below; ``NST_IMPL`` / ``--impl`` picks this file or the stubs.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from nst.losses import gram_matrix


def conditional_instance_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor,
                              epsilon: float = 1e-5) -> tf.Tensor:
    """CIN(x) = gamma * (x - mu) / sqrt(sigma^2 + epsilon) + beta.

    x is (B, H, W, C); mu and sigma^2 are the mean and variance of each channel of each
    image over H and W; gamma and beta are (B, C), one row per image in the batch.
    With gamma = 1 and beta = 0 this is plain instance normalisation.
    """
    # BEGIN PROMPT
    # tf.nn.moments(x, axes=..., keepdims=True) gives mu and sigma^2; gamma[:, None, None, :]
    # broadcasts a (B, C) tensor over H and W.
    # END PROMPT
    # BEGIN SOLUTION: TODO 1: conditional instance normalisation
    mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    x_hat = (x - mean) * tf.math.rsqrt(variance + epsilon)
    return gamma[:, None, None, :] * x_hat + beta[:, None, None, :]
    # END SOLUTION


class StylePredictionHead(keras.layers.Layer):
    """Backbone features -> style embedding z -> (gamma, beta) for every CIN layer.

    ``norm_channels`` maps each CIN layer of the transfer network to its channel count,
    in order, e.g. {"conv1": 32, "conv2": 64, ...}. The layers are given:
    ``self.bottleneck`` (Dense to ``embedding_dim``, a 1x1 convolution on a 1x1 map) and,
    per CIN layer i, ``self.gamma_layers[i]`` and ``self.beta_layers[i]`` (Dense to its
    channel count; gamma's bias starts at 1, so an untrained head is close to plain IN).
    """

    def __init__(self, norm_channels: dict[str, int], embedding_dim: int = 100, **kwargs):
        super().__init__(**kwargs)
        self.norm_names = list(norm_channels)
        self.embedding_dim = embedding_dim
        small = keras.initializers.RandomNormal(stddev=0.01)
        self.bottleneck = keras.layers.Dense(embedding_dim, name="bottleneck")
        self.gamma_layers = [keras.layers.Dense(c, kernel_initializer=small, bias_initializer="ones",
                                                name=f"{n}_gamma") for n, c in norm_channels.items()]
        self.beta_layers = [keras.layers.Dense(c, kernel_initializer=small, name=f"{n}_beta")
                            for n, c in norm_channels.items()]

    def embed(self, features: list[tf.Tensor]) -> tf.Tensor:
        """z = bottleneck(concat_k mean_{h,w} F_k): list of (B, H_k, W_k, C_k) -> (B, embedding_dim).

        Each backbone feature map is averaged over its spatial positions, the (B, C_k)
        means are concatenated along channels, and the bottleneck maps them to z.
        """
        # BEGIN SOLUTION: TODO 2: the style embedding
        pooled = [tf.reduce_mean(f, axis=[1, 2]) for f in features]
        return self.bottleneck(tf.concat(pooled, axis=-1))
        # END SOLUTION

    def norm_params(self, embedding: tf.Tensor) -> dict[str, tuple[tf.Tensor, tf.Tensor]]:
        """{name_i: (gamma_i, beta_i)} with gamma_i = gamma_layers[i](z), beta_i = beta_layers[i](z).

        Keys are ``self.norm_names`` in order; gamma_i and beta_i are (B, C_i).
        """
        # BEGIN SOLUTION: TODO 3: gamma and beta for every CIN layer
        return {name: (g(embedding), b(embedding))
                for name, g, b in zip(self.norm_names, self.gamma_layers, self.beta_layers)}
        # END SOLUTION

    def call(self, features: list[tf.Tensor]) -> dict[str, tuple[tf.Tensor, tf.Tensor]]:
        return self.norm_params(self.embed(features))


def transfer_loss(stylized: dict[str, tf.Tensor], content: dict[str, tf.Tensor],
                  style: dict[str, tf.Tensor], image: tf.Tensor, *, content_weight: float,
                  style_weight: float, tv_weight: float = 0.0,
                  style_layer_weights: dict[str, float] | None = None) -> dict[str, tf.Tensor]:
    """The training loss of one batch, as {"content", "style", "tv", "total"}.

    ``stylized``: loss-network features of the stylised batch (content and style layers);
    ``content``: features of the content batch at the content layers;
    ``style``: features of the style batch at the style layers; ``image``: the stylised batch.

        content = sum_{l in content} mean((F_l(x) - F_l(c))^2)
        style   = sum_{l in style} w_l * mean((G(F_l(x)) - G(F_l(s)))^2)   (w_l = 1 if not given)
        tv      = total variation of x (``nst.losses.total_variation`` form:
                  mean(dx^2) + mean(dy^2)), or 0 when tv_weight is 0
        total   = content_weight * content + style_weight * style + tv_weight * tv

    G is ``gram_matrix`` (B, H, W, C) -> (B, C, C), normalised by H*W*C; every mean is
    over the whole batch, so each image gets its own style target.
    """
    # BEGIN SOLUTION: TODO 4: the training loss
    content_term = tf.add_n([tf.reduce_mean(tf.square(stylized[l] - content[l])) for l in content])
    style_term = tf.add_n([
        (1.0 if style_layer_weights is None else style_layer_weights[l])
        * tf.reduce_mean(tf.square(gram_matrix(stylized[l]) - gram_matrix(style[l])))
        for l in style])
    if tv_weight:
        dx = image[:, :, 1:, :] - image[:, :, :-1, :]
        dy = image[:, 1:, :, :] - image[:, :-1, :, :]
        tv_term = tf.reduce_mean(tf.square(dx)) + tf.reduce_mean(tf.square(dy))
    else:
        tv_term = tf.constant(0.0)
    total = content_weight * content_term + style_weight * style_term + tv_weight * tv_term
    return {"content": content_term, "style": style_term, "tv": tv_term, "total": total}
    # END SOLUTION
