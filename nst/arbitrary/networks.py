"""The networks of arbitrary style transfer, shaped like Magenta's (Ghiasi et al. 2017).

Transfer network (Magenta's ``transformer/...``), reflection padding everywhere, channel
counts times ``width`` (0.25 in the published model: 8/16/32; 1.0 in the paper: 32/64/128):
    contract: conv1 9x9 s1, conv2 3x3 s2, conv3 3x3 s2      conv + bias + ReLU (no CIN)
    residual1..5: x + CIN(conv2(ReLU(CIN(conv1(x)))))        3x3 convs
    expand: conv1, conv2 = nearest 2x up, 3x3 conv, CIN, ReLU; conv3 = 9x9 conv, CIN, sigmoid
13 CINs in all, each with the gamma/beta that the style embedding predicts. Inputs and
outputs are RGB 0..255 minus ``MEAN_RGB`` (the project's convention) of any size: the
network itself sees RGB in 0..1, reflection-padded to a multiple of 4, cropped back.

Style predictor: a frozen backbone and the student's ``StylePredictionHead`` (embedding z,
then gamma/beta for every CIN). Backbones: MobileNet-v2 (the published, distilled
predictor: RGB 0..1, batch norms folded, ReLU6, 17 inverted residual blocks, 1280-channel
1x1) or Keras InceptionV3 up to ``mixed7`` (the paper's Mixed_6e; for training from scratch).
"""
from __future__ import annotations

from types import ModuleType

import keras
import tensorflow as tf

from nst.errors import NstError
from nst.runtime import resolve_precision
from nst.weights import MEAN_RGB

from .config import ModelConfig


def to_unit(x: tf.Tensor) -> tf.Tensor:
    """RGB 0..255 minus MEAN_RGB -> RGB 0..1 (what Magenta's networks take)."""
    return (tf.cast(x, tf.float32) + MEAN_RGB) / 255.0


class ConvLayer(keras.layers.Layer):
    """Magenta's conv: nearest ``upsample`` x first if given, reflection pad k//2, VALID conv."""

    def __init__(self, filters: int, kernel: int, stride: int = 1, upsample: int = 1,
                 use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.pad, self.upsample = kernel // 2, upsample
        self.conv = keras.layers.Conv2D(filters, kernel, stride, padding="valid", use_bias=use_bias, name="conv")

    def call(self, x):
        if self.upsample > 1:
            x = tf.repeat(tf.repeat(x, self.upsample, axis=1), self.upsample, axis=2)
        p = self.pad
        return self.conv(tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT"))


def transfer_spec(width: float) -> list[tuple[str, int, int, int, int, bool]]:
    """(name, filters, kernel, stride, upsample, has CIN) of every conv, in order."""
    c1, c2, c3 = (max(1, int(round(c * width))) for c in (32, 64, 128))
    spec = [("contract_conv1", c1, 9, 1, 1, False), ("contract_conv2", c2, 3, 2, 1, False),
            ("contract_conv3", c3, 3, 2, 1, False)]
    spec += [(f"residual{i}_conv{j}", c3, 3, 1, 1, True) for i in range(1, 6) for j in (1, 2)]
    spec += [("expand_conv1", c2, 3, 1, 2, True), ("expand_conv2", c1, 3, 1, 2, True),
             ("expand_conv3", 3, 9, 1, 1, True)]
    return spec


class TransferNet(keras.layers.Layer):
    """``call(x, params)``: x (B, H, W, 3), params {name: (gamma, beta)} for ``norm_channels``."""

    def __init__(self, cin, width: float = 0.25, **kwargs):
        super().__init__(**kwargs)
        self.cin = cin
        spec = transfer_spec(width)
        # a conv followed by instance norm needs no bias: the norm subtracts the channel mean
        self.convs = {n: ConvLayer(f, k, s, u, use_bias=not norm, name=n) for n, f, k, s, u, norm in spec}
        self.norm_channels = {n: f for n, f, *_, norm in spec if norm}

    def _cin(self, name, x, params):
        gamma, beta = params[name]
        y = self.cin(tf.cast(x, tf.float32), tf.cast(gamma, tf.float32), tf.cast(beta, tf.float32))
        return tf.cast(y, x.dtype)

    def call(self, x, params):
        h, w = tf.shape(x)[1], tf.shape(x)[2]
        ph, pw = (-h) % 4, (-w) % 4
        y = tf.pad(tf.cast(to_unit(x), self.compute_dtype), [[0, 0], [0, ph], [0, pw], [0, 0]], mode="REFLECT")
        for i in (1, 2, 3):
            y = tf.nn.relu(self.convs[f"contract_conv{i}"](y))
        for i in range(1, 6):
            r = tf.nn.relu(self._cin(f"residual{i}_conv1", self.convs[f"residual{i}_conv1"](y), params))
            y = y + self._cin(f"residual{i}_conv2", self.convs[f"residual{i}_conv2"](r), params)
        for i in (1, 2):
            y = tf.nn.relu(self._cin(f"expand_conv{i}", self.convs[f"expand_conv{i}"](y), params))
        y = tf.sigmoid(tf.cast(self._cin("expand_conv3", self.convs["expand_conv3"](y), params), tf.float32))
        return (255.0 * y - MEAN_RGB)[:, :h, :w, :]


MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))   # (expansion t, channels, repeats, stride)


class MobileNetV2(keras.layers.Layer):
    """MobileNet-v2 (width 1.0, batch norms folded into biases) up to ``Conv_1``: [(B, h, w, 1280)].

    Block k (Magenta/slim name ``expanded_conv[_k]``): 1x1 expand to t*C_in + ReLU6 (not in
    block 0), 3x3 depthwise stride s + ReLU6, 1x1 linear project; plus the input when s = 1
    and C_in = C_out. TF "SAME" padding, as in the published graph.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        conv = lambda f, k, s, name, **kw: keras.layers.Conv2D(f, k, s, padding="same", name=name, **kw)
        self.stem = conv(32, 3, 2, "Conv")
        self.blocks, c_in = [], 32
        for t, c, n, s in MOBILENET_V2:
            for r in range(n):
                k = len(self.blocks)
                name = "expanded_conv" if k == 0 else f"expanded_conv_{k}"
                stride = s if r == 0 else 1
                self.blocks.append({
                    "name": name, "residual": stride == 1 and c_in == c,
                    "expand": conv(t * c_in, 1, 1, f"{name}_expand") if t != 1 else None,
                    "depthwise": keras.layers.DepthwiseConv2D(3, stride, padding="same", name=f"{name}_depthwise"),
                    "project": conv(c, 1, 1, f"{name}_project")})
                c_in = c
        self.top = conv(1280, 1, 1, "Conv_1")

    def call(self, x):
        relu6 = lambda v: tf.clip_by_value(v, 0.0, 6.0)
        y = relu6(self.stem(to_unit(x)))
        for b in self.blocks:
            h = relu6(b["expand"](y)) if b["expand"] is not None else y
            h = b["project"](relu6(b["depthwise"](h)))
            y = y + h if b["residual"] else h
        return [relu6(self.top(y))]


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

    def call(self, x):
        x = to_unit(x) * 2.0 - 1.0                                # Inception takes [-1, 1]
        x = tf.image.resize(x, tf.maximum(tf.shape(x)[1:3], 75))  # its smallest input side
        return [tf.cast(self.net(x, training=False), tf.float32)]


class ArbitraryStyleModel(keras.Model):
    """Predictor + transfer network.  ``call((content, style))`` stylises content with style.

    ``embed(style)`` -> z; ``transfer(content, z)`` applies the transfer network with the
    gamma/beta predicted from z (so embeddings can be blended before decoding).
    The backbone is frozen; the head and the transfer network train.
    """

    def __init__(self, config: ModelConfig, impl: ModuleType, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.transfer_net = TransferNet(impl.conditional_instance_norm, config.width, name="transfer")
        if config.predictor == "mobilenet_v2":
            self.backbone = MobileNetV2(name="backbone")
        else:
            self.backbone = InceptionBackbone(config.inception_weights, name="backbone")
        self.backbone.trainable = False
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


def build_model(config: ModelConfig, impl: ModuleType, precision: str = "float32") -> ArbitraryStyleModel:
    """A built model of ``config`` around ``impl``; ``precision="bfloat16"`` computes in bfloat16
    (weights stay float32): faster on CPUs with AVX512_BF16 or AMX (measured in the benchmarks of the docs)."""
    precision = resolve_precision(precision)  # auto: bfloat16 where the hardware has it
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if precision == "float32" else f"mixed_{precision}")
    try:
        return ArbitraryStyleModel(config, impl, name="arbitrary").build_all()
    finally:
        keras.config.set_dtype_policy(previous)
