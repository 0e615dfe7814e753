"""Part 2, step 1: the image transformation network of Johnson et al. (2016).

A fully convolutional network that maps a photo (B, H, W, 3), RGB 0..255, to its
stylized version, RGB in (0, 255), in one forward pass:

    c9s1-32, d64, d128, R128 x 5, u64, u32, c9s1-3

``c9s1-32``: 9x9 convolution, stride 1, 32 filters, instance norm, ReLU.
``d64``: 3x3 convolution, stride 2 (downsampling), 64 filters, instance norm, ReLU.
``R128``: residual block of two 3x3 convolutions with 128 filters.
``u64``: nearest-neighbour upsampling by 2 then a 3x3 convolution, 64 filters, instance norm,
ReLU (resize-then-convolve instead of a transposed convolution avoids checkerboard artefacts,
Odena et al. 2016). The last ``c9s1-3`` has no norm; its output y goes through
``127.5 * (1 + tanh(y / 127.5))``: a soft clip, about 127.5 + y in the middle (like the
linear output of pytorch/examples, so the usual learning rate works) that keeps every pixel
strictly inside (0, 255). (Without the 1/127.5 the tanh multiplies the effect of each
weight change by 127.5, and the first Adam steps saturate the output.)

Changes from the paper, as in pytorch/examples fast_neural_style: reflection padding in every
convolution (no border artefacts), instance instead of batch normalisation (Ulyanov et al.
2016), and no padding-then-cropping in the residual blocks.

Variables are float32; each layer computes in the dtype of its input, so the network runs in
bfloat16 or float16 by feeding it such a tensor (``TransformerNet(compute_dtype=...)``).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def _uniform(rng: np.random.Generator, shape, fan_in: int) -> np.ndarray:
    """PyTorch's default initialisation for convolutions: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


class ConvLayer(tf.Module):
    """Reflection padding of ``kernel_size // 2`` pixels, then a convolution without padding.

    With stride s the output has ceil(H / s) x ceil(W / s) pixels (odd kernel sizes).
    Kernel: (k, k, in, out) float32; bias: (out,).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 seed: int = 0, name: str | None = None):
        super().__init__(name=name)
        rng = np.random.default_rng(seed)
        fan_in = in_channels * kernel_size * kernel_size
        self.kernel_size, self.stride = kernel_size, stride
        self.kernel = tf.Variable(_uniform(rng, (kernel_size, kernel_size, in_channels, out_channels), fan_in),
                                  name="kernel")
        self.bias = tf.Variable(_uniform(rng, (out_channels,), fan_in), name="bias")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """y = conv(pad_reflect(x, k // 2), kernel, stride, "VALID") + bias, in x's dtype."""
        kernel, bias = tf.cast(self.kernel, x.dtype), tf.cast(self.bias, x.dtype)
        # BEGIN PROMPT
        # tf.pad(x, paddings, mode="REFLECT") pads H and W only: paddings has one [before, after]
        # pair per axis of the (B, H, W, C) tensor.
        # END PROMPT
        # BEGIN SOLUTION: TODO 1: reflection-padded convolution
        p = self.kernel_size // 2
        x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
        return tf.nn.conv2d(x, kernel, self.stride, "VALID") + bias
        # END SOLUTION


class InstanceNorm(tf.Module):
    """Instance normalisation with a learned per-channel scale and offset (PyTorch eps 1e-5)."""

    def __init__(self, channels: int, epsilon: float = 1e-5, name: str | None = None):
        super().__init__(name=name)
        self.epsilon = epsilon
        self.scale = tf.Variable(tf.ones([channels]), name="scale")
        self.offset = tf.Variable(tf.zeros([channels]), name="offset")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        dtype = x.dtype
        y = self.normalize(tf.cast(x, tf.float32))  # statistics in float32 under any precision
        return tf.cast(y, dtype)

    def normalize(self, x: tf.Tensor) -> tf.Tensor:
        """y = (x - mu) / sqrt(sigma^2 + eps) * scale + offset.

        mu and sigma^2 are the mean and the (biased) variance of each image's each channel
        over its H x W positions: shape (B, 1, 1, C).
        """
        # BEGIN SOLUTION: TODO 2: instance normalisation
        mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + self.epsilon) * self.scale + self.offset
        # END SOLUTION


class ConditionalInstanceNorm(tf.Module):
    """Instance norm made conditional: one (gamma, beta) row per style, N styles in one network.

    From one style per network to many (Dumoulin, Shlens and Kudlur 2017): every convolution
    is shared by all N styles; a style is only its rows of ``gamma`` and ``beta`` (N, C).
    ``style_weights`` w (B, N) picks a style per image (a one-hot row) or blends several
    (a convex combination, rows summing to 1):

        gamma_b = w_b @ gamma,  beta_b = w_b @ beta                       (B, C)
        y = (x - mu) / sqrt(sigma^2 + eps) * gamma_b + beta_b

    mu and sigma^2 are the mean and (biased) variance of each image's each channel over its
    H x W positions, as in InstanceNorm; gamma_b and beta_b broadcast over H and W.
    With N = 1 and w = 1 this is InstanceNorm with scale = gamma[0], offset = beta[0].
    Part 3 predicts gamma_b and beta_b from any painting instead of looking them up.
    """

    def __init__(self, channels: int, num_styles: int, epsilon: float = 1e-5, name: str | None = None):
        super().__init__(name=name)
        self.epsilon = epsilon
        self.gamma = tf.Variable(tf.ones([num_styles, channels]), name="gamma")
        self.beta = tf.Variable(tf.zeros([num_styles, channels]), name="beta")

    def __call__(self, x: tf.Tensor, style_weights: tf.Tensor) -> tf.Tensor:
        dtype = x.dtype
        y = self.normalize(tf.cast(x, tf.float32), tf.cast(style_weights, tf.float32))
        return tf.cast(y, dtype)

    def normalize(self, x: tf.Tensor, style_weights: tf.Tensor) -> tf.Tensor:
        """(B, H, W, C) and (B, N) -> (B, H, W, C): the formula of the class docstring."""
        # BEGIN PROMPT
        # tf.matmul(style_weights, self.gamma) is (B, C); g[:, None, None, :] broadcasts it over H and W.
        # END PROMPT
        # BEGIN SOLUTION: TODO 9: conditional instance normalisation
        mean, variance = tf.nn.moments(x, [1, 2], keepdims=True)
        gamma = tf.matmul(style_weights, self.gamma)[:, None, None, :]
        beta = tf.matmul(style_weights, self.beta)[:, None, None, :]
        return (x - mean) * tf.math.rsqrt(variance + self.epsilon) * gamma + beta
        # END SOLUTION


class ResidualBlock(tf.Module):
    """y = x + IN(conv(relu(IN(conv(x))))): two 3x3 convolutions, ReLU only after the first."""

    def __init__(self, channels: int, seed: int = 0, name: str | None = None):
        super().__init__(name=name)
        self.conv1 = ConvLayer(channels, channels, 3, 1, seed=seed, name="conv1")
        self.in1 = InstanceNorm(channels, name="in1")
        self.conv2 = ConvLayer(channels, channels, 3, 1, seed=seed + 1, name="conv2")
        self.in2 = InstanceNorm(channels, name="in2")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """x + in2(conv2(relu(in1(conv1(x)))))"""
        # BEGIN SOLUTION: TODO 3: the residual block
        y = tf.nn.relu(self.in1(self.conv1(x)))
        y = self.in2(self.conv2(y))
        return x + y
        # END SOLUTION


class UpsampleConvLayer(tf.Module):
    """Nearest-neighbour upsampling by ``upsample`` then a reflection-padded ConvLayer.

    Output: (B, upsample * H, upsample * W, out_channels) for stride 1.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 upsample: int = 2, seed: int = 0, name: str | None = None):
        super().__init__(name=name)
        self.upsample = upsample
        self.conv = ConvLayer(in_channels, out_channels, kernel_size, stride, seed=seed, name="conv")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """conv(nearest_resize(x, upsample)): every pixel repeated upsample x upsample times."""
        # BEGIN PROMPT
        # tf.image.resize(x, new_size, method="nearest") keeps the dtype; tf.shape(x)[1:3] is (H, W).
        # END PROMPT
        # BEGIN SOLUTION: TODO 4: upsample (nearest) then convolve
        x = tf.image.resize(x, tf.shape(x)[1:3] * self.upsample, method="nearest")
        return self.conv(x)
        # END SOLUTION


class TransformerNet(tf.Module):
    """c9s1-32, d64, d128, R128 x 5, u64, u32, c9s1-3 (about 1.68 M parameters).

    ``net(images)``: (B, H, W, 3) RGB 0..255, any H and W -> (B, H, W, 3) float32 in (0, 255).
    ``seed`` fixes the initial weights (each layer draws from its own NumPy generator).
    """

    def __init__(self, seed: int = 0, compute_dtype: tf.DType | str = tf.float32, name: str = "transformer_net"):
        super().__init__(name=name)
        self.compute_dtype = tf.as_dtype(compute_dtype)
        s = seed * 100
        # Downsampling
        self.conv1 = ConvLayer(3, 32, 9, 1, seed=s + 1, name="conv1")
        self.in1 = InstanceNorm(32, name="in1")
        self.conv2 = ConvLayer(32, 64, 3, 2, seed=s + 2, name="conv2")
        self.in2 = InstanceNorm(64, name="in2")
        self.conv3 = ConvLayer(64, 128, 3, 2, seed=s + 3, name="conv3")
        self.in3 = InstanceNorm(128, name="in3")
        # Residual blocks
        self.res = [ResidualBlock(128, seed=s + 10 + 2 * i, name=f"res{i + 1}") for i in range(5)]
        # Upsampling
        self.deconv1 = UpsampleConvLayer(128, 64, 3, 1, upsample=2, seed=s + 4, name="deconv1")
        self.in4 = InstanceNorm(64, name="in4")
        self.deconv2 = UpsampleConvLayer(64, 32, 3, 1, upsample=2, seed=s + 5, name="deconv2")
        self.in5 = InstanceNorm(32, name="in5")
        self.deconv3 = ConvLayer(32, 3, 9, 1, seed=s + 6, name="deconv3")

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        x = tf.cast(images, self.compute_dtype)
        y = self.forward(x)
        # Two stride-2 layers round odd sizes up: crop back to the input's size.
        shape = tf.shape(images)
        return tf.cast(y[:, : shape[1], : shape[2], :], tf.float32)

    def forward(self, x: tf.Tensor) -> tf.Tensor:
        """The layers in order; every layer but the last is followed by its norm and a ReLU.

        relu(in1(conv1)), relu(in2(conv2)), relu(in3(conv3)), res1 .. res5,
        relu(in4(deconv1)), relu(in5(deconv2)), deconv3 = y, then 127.5 * (1 + tanh(y / 127.5)).
        """
        # BEGIN SOLUTION: TODO 5: assemble the network
        y = tf.nn.relu(self.in1(self.conv1(x)))
        y = tf.nn.relu(self.in2(self.conv2(y)))
        y = tf.nn.relu(self.in3(self.conv3(y)))
        for block in self.res:
            y = block(y)
        y = tf.nn.relu(self.in4(self.deconv1(y)))
        y = tf.nn.relu(self.in5(self.deconv2(y)))
        y = self.deconv3(y)
        return 127.5 * (1.0 + tf.tanh(y / 127.5))
        # END SOLUTION
