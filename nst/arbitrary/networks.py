"""The two networks of arbitrary style transfer and the model that joins them.

Transfer network (Johnson et al.'s, every instance norm conditional), with cN = conv
NxN + CIN + ReLU, reflection padding everywhere:
    c9s1-32, d64, d128, 5 x R128, u64, u32, c9s1-3 (no norm; 255*sigmoid, minus the mean)
dK = 3x3 stride-2 conv, RK = residual block of two 3x3 convs (CIN after each, ReLU after
the first), uK = nearest 2x upsampling + 3x3 conv. Inputs and outputs are RGB 0..255
minus ``MEAN_RGB`` of any size (reflection-padded to a multiple of 4, then cropped back).

Style predictor: a frozen backbone (the project's VGG19, or Keras InceptionV3) and the
student's ``StylePredictionHead`` (embedding z, then gamma/beta for every CIN layer).
"""
from __future__ import annotations

from types import ModuleType

import keras
import tensorflow as tf

from nst.errors import NstError
from nst.weights import MEAN_RGB

from .config import ModelConfig


class ConvLayer(keras.layers.Layer):
    """Reflection padding + conv (stride s); nearest ``upsample`` x first if given."""

    def __init__(self, filters: int, kernel: int, stride: int = 1, upsample: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.pad, self.upsample = kernel // 2, upsample
        self.conv = keras.layers.Conv2D(filters, kernel, stride, padding="valid", name="conv")

    def call(self, x):
        if self.upsample > 1:
            x = tf.repeat(tf.repeat(x, self.upsample, axis=1), self.upsample, axis=2)
        p = self.pad
        return self.conv(tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT"))


class TransferNet(keras.layers.Layer):
    """``call(x, params)``: x (B, H, W, 3), params {name: (gamma, beta)} for ``norm_channels``."""

    def __init__(self, cin, **kwargs):
        super().__init__(**kwargs)
        self.cin = cin
        spec = [("conv1", 32, 9, 1, 1), ("conv2", 64, 3, 2, 1), ("conv3", 128, 3, 2, 1)]
        for i in range(1, 6):
            spec += [(f"res{i}a", 128, 3, 1, 1), (f"res{i}b", 128, 3, 1, 1)]
        spec += [("up1", 64, 3, 1, 2), ("up2", 32, 3, 1, 2)]
        self.norm_channels = {name: filters for name, filters, *_ in spec}
        self.convs = {name: ConvLayer(f, k, s, u, name=name) for name, f, k, s, u in spec}
        self.out = ConvLayer(3, 9, name="out")

    def _cin(self, name, x, params):
        gamma, beta = params[name]
        y = self.cin(tf.cast(x, tf.float32), tf.cast(gamma, tf.float32), tf.cast(beta, tf.float32))
        return tf.cast(y, x.dtype)

    def _block(self, name, x, params, relu=True):
        y = self._cin(name, self.convs[name](x), params)
        return tf.nn.relu(y) if relu else y

    def call(self, x, params):
        h, w = tf.shape(x)[1], tf.shape(x)[2]
        ph, pw = (-h) % 4, (-w) % 4
        y = tf.pad(tf.cast(x, self.compute_dtype), [[0, 0], [0, ph], [0, pw], [0, 0]], mode="REFLECT")
        for name in ("conv1", "conv2", "conv3"):
            y = self._block(name, y, params)
        for i in range(1, 6):
            r = self._block(f"res{i}a", y, params)
            y = y + self._block(f"res{i}b", r, params, relu=False)
        for name in ("up1", "up2"):
            y = self._block(name, y, params)
        y = 255.0 * tf.sigmoid(tf.cast(self.out(y), tf.float32)) - MEAN_RGB
        return y[:, :h, :w, :]


class VGGBackbone:
    """The project's frozen VGG19: preprocessed image -> [features / feature_scale]."""

    def __init__(self, layers, scale: float, dtype=tf.float32):
        from nst.vgg import VGGFeatures

        self.vgg, self.layers, self.scale = VGGFeatures("vgg19", dtype=dtype), list(layers), scale
        self.vgg.check_layers(self.layers)

    def __call__(self, x):
        feats = self.vgg.features(x, self.layers)
        return [feats[l] / self.scale for l in self.layers]


class InceptionBackbone(keras.layers.Layer):
    """Keras InceptionV3 up to ``mixed7`` (the paper's Mixed_6e), random or file weights."""

    def __init__(self, weights: str | None, layer: str = "mixed7", **kwargs):
        super().__init__(**kwargs)
        base = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(None, None, 3))
        if weights:
            try:
                base.load_weights(weights, skip_mismatch=True)
            except (OSError, ValueError) as e:
                raise NstError(f"{weights}: cannot load InceptionV3 weights ({e})") from None
        self.net = keras.Model(base.input, base.get_layer(layer).output, name="inception_v3")
        self.net.trainable = False

    def call(self, x):
        x = (tf.cast(x, tf.float32) + MEAN_RGB) / 127.5 - 1.0   # Inception takes [-1, 1]
        x = tf.image.resize(x, tf.maximum(tf.shape(x)[1:3], 75))  # its smallest input side
        return [tf.cast(self.net(x, training=False), tf.float32)]


class ArbitraryStyleModel(keras.Model):
    """Predictor + transfer network.  ``call((content, style))`` stylises content with style.

    ``embed(style)`` -> z; ``transfer(content, z)`` applies the transfer network with the
    gamma/beta predicted from z (so embeddings can be blended before decoding).
    """

    def __init__(self, config: ModelConfig, impl: ModuleType, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.transfer_net = TransferNet(impl.conditional_instance_norm, name="transfer")
        if config.predictor == "vgg19":
            dtype = keras.config.dtype_policy().compute_dtype   # bfloat16 under mixed precision
            self.backbone = VGGBackbone(config.predictor_layers, config.feature_scale, dtype)
        else:
            self.backbone = InceptionBackbone(config.inception_weights, name="backbone")
        self.head = impl.StylePredictionHead(self.transfer_net.norm_channels,
                                             config.embedding_dim, name="head")

    def build(self, input_shape=None):
        self.built = True   # sub-layers build on first call

    def embed(self, style: tf.Tensor) -> tf.Tensor:
        return self.head.embed(self.backbone(style))

    def transfer(self, content: tf.Tensor, embedding: tf.Tensor) -> tf.Tensor:
        return self.transfer_net(content, self.head.norm_params(embedding))

    def call(self, inputs):
        content, style = inputs
        return self.transfer(content, self.embed(style))

    def build_all(self, size: int = 64) -> "ArbitraryStyleModel":
        """Create every variable by running a tiny batch once."""
        x = tf.zeros((1, size, size, 3))
        self((x, x))
        return self
