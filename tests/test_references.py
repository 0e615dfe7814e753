"""Independent checks of the graded reference values of parts 1 and 2 (tests/reference/*.npz).

The references are computed from solutions/, so regenerating them re-approves whatever the
solutions compute. These tests recompute every graded formula from the handouts in float64 NumPy
(no TensorFlow, no solutions/, no nst.losses) on the stored inputs and compare with the stored
outputs, so a wrong solution cannot regenerate its own approval. Gradients are checked as
directional derivatives: (L(x + h d) - L(x - h d)) / 2h = <dL/dx, d>, d random and d = dL/dx.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fast_cases import TINY_LAYERS, loss_settings
from part1_cases import conv_weights, tiny_images

HERE = Path(__file__).parent / "reference"
P1 = np.load(HERE / "part1.npz")
P2 = np.load(HERE / "fast.npz")
MEAN_RGB = np.array([123.68, 116.779, 103.939])          # the VGG mean pixel (Simonyan & Zisserman)


def close(actual, expected, rtol: float, what: str) -> None:
    expected = np.asarray(expected, np.float64)
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol,
                               atol=rtol * float(np.abs(expected).max()), err_msg=what)


# ------------------------------------------------------------------------------ NumPy formulas
def conv_valid(x: np.ndarray, w: np.ndarray, stride: int = 1) -> np.ndarray:
    """out[b, i, j, o] = sum_{di, dj, c} x[b, s i + di, s j + dj, c] w[di, dj, c, o]."""
    k = w.shape[0]
    ho, wo = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], ho, wo, w.shape[3]))
    for di in range(k):
        for dj in range(k):
            patch = x[:, di:di + stride * (ho - 1) + 1:stride, dj:dj + stride * (wo - 1) + 1:stride]
            out += patch @ w[di, dj]
    return out


def conv_same(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Stride-1 convolution with zero 'SAME' padding (k // 2 each side for odd k), plus bias."""
    p = w.shape[0] // 2
    return conv_valid(np.pad(x, [(0, 0), (p, p), (p, p), (0, 0)]), w) + b


def avgpool_same(x: np.ndarray) -> np.ndarray:
    """2x2 windows, stride 2, 'SAME': ceil(H/2) x ceil(W/2); a border window averages only its real pixels."""
    h, w = x.shape[1:3]
    padded = np.pad(x.astype(np.float64), [(0, 0), (0, h % 2), (0, w % 2), (0, 0)], constant_values=np.nan)
    b, hp, wp, c = padded.shape
    return np.nanmean(padded.reshape(b, hp // 2, 2, wp // 2, 2, c), axis=(2, 4))


def relu(x):
    return np.maximum(x, 0.0)


def tv(x: np.ndarray) -> float:
    """mean of squared neighbour differences across plus the same down."""
    return np.mean((x[:, :, 1:] - x[:, :, :-1]) ** 2) + np.mean((x[:, 1:] - x[:, :-1]) ** 2)


def gram_handout(f: np.ndarray) -> np.ndarray:
    """Part 1: G = F^T F with F the (M = H W, N = C) matrix of one image."""
    F = f.reshape(-1, f.shape[-1]).astype(np.float64)
    return F.T @ F


def style_layer_handout(a: np.ndarray, g: np.ndarray) -> float:
    """E_l = sum((G - A)^2) / (2 N M)^2."""
    n, m = a.shape[-1], a.shape[1] * a.shape[2]
    return np.sum((gram_handout(g) - gram_handout(a)) ** 2) / (2.0 * n * m) ** 2


def gram_batched(f: np.ndarray) -> np.ndarray:
    """Part 2: G = F^T F / (H W C) per image: (B, H, W, C) -> (B, C, C)."""
    b, h, w, c = f.shape
    F = f.reshape(b, h * w, c).astype(np.float64)
    return np.einsum("bmi,bmj->bij", F, F) / (h * w * c)


def check_gradients(terms, x: np.ndarray, grads: dict[str, np.ndarray], what: str, h: float = 1e-4) -> None:
    """For each term k: central differences of ``terms(x)[k]`` along a random unit direction and
    along ``grads[k]`` itself equal ``grads[k]``'s projections on them (h small enough not to cross
    a ReLU's kink)."""
    random = np.random.default_rng(1).normal(size=x.shape)
    for d in [random] + [grads[k].astype(np.float64) for k in grads]:
        d = d / np.linalg.norm(d)
        plus, minus = terms(x + h * d), terms(x - h * d)
        for k, grad in grads.items():
            numeric = (plus[k] - minus[k]) / (2 * h)
            assert float(np.sum(grad.astype(np.float64) * d)) == pytest.approx(numeric, rel=1e-3), f"{what} {k}"


# ------------------------------------------------------------------------------ part 1
def test_part1_single_operations():
    W, b = conv_weights()["conv1_1"]
    close(P1["conv_out"], relu(conv_same(P1["conv_in"].astype(np.float64), W, b)), 1e-5, "relu(conv2d SAME + b)")
    close(P1["pool_out"], avgpool_same(P1["pool_in"]), 1e-5, "2x2 average pooling, stride 2, SAME")
    P, F = P1["P"].astype(np.float64), P1["F"].astype(np.float64)
    close(P1["content_loss"], np.sum((F - P) ** 2) / (4 * P.size), 1e-5, "sum((F - P)^2) / (4 s)")
    close(P1["gram"], gram_handout(P1["feat"]), 1e-5, "G = F^T F, F (M, N)")
    close(P1["single_style"], style_layer_handout(P1["a"], P1["g"]), 1e-5, "E_l = sum((G - A)^2) / (2NM)^2")
    expected = sum(w * style_layer_handout(a, g) for w, a, g in zip(P1["layer_w"], P1["A_list"], P1["G_list"]))
    close(P1["style_loss"], expected, 1e-5, "sum_l w_l E_l")


def test_pooling_formula_is_not_the_stride_1_one():
    """The NumPy pooling itself: a 3x3 image by hand (the bottom/right windows are cut by the border)."""
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    np.testing.assert_allclose(avgpool_same(x)[0, :, :, 0], [[2.0, 3.5], [6.5, 8.0]])


@pytest.fixture(scope="module")
def vgg19():
    """The pretrained VGG19 weights {layer: (W, b)} (the same file the library reads)."""
    from nst.weights import load_weights

    return load_weights("vgg19")


def vgg19_features(x: np.ndarray, weights, layers) -> dict[str, np.ndarray]:
    """VGG19 with average pooling, in float64, on a mean-subtracted (1, H, W, 3) image."""
    from nst.weights import LAYERS

    out, h, block = {}, x.astype(np.float64), "1"
    for name in LAYERS["vgg19"]:
        if name[4] != block:
            h, block = avgpool_same(h), name[4]
        W, b = weights[name]
        h = relu(conv_same(h, W.astype(np.float64), b.astype(np.float64)))
        if name in layers:
            out[name] = h
        if len(out) == len(layers):
            return out
    return out


def test_part1_whole_network_losses_gradients_and_adam_step(vgg19):
    """The tiny build (tests/part1_cases.py): 40x40 images, cs20si weights, tv_weight 1e-3."""
    from nst.gatys import Config

    c = Config()
    content, style = (im.astype(np.float64)[None] - MEAN_RGB for im in tiny_images())
    layers = ["conv4_2", *c.style_layers]
    P = vgg19_features(content, vgg19, layers)["conv4_2"]
    A = vgg19_features(style, vgg19, layers)
    weights = dict(content=c.content_weight, style=c.style_weight, tv=1e-3)

    def terms(x):
        f = vgg19_features(x, vgg19, layers)
        out = {"content": np.sum((f["conv4_2"] - P) ** 2) / (4 * P.size),
               "style": sum(w * style_layer_handout(A[l], f[l]) for w, l in zip(c.style_layer_weights, c.style_layers)),
               "tv": tv(x)}
        out["total"] = sum(weights[k] * out[k] for k in ("content", "style", "tv"))
        return out

    x0 = P1["initial"].astype(np.float64)
    values = terms(x0)
    for k in ("content", "style", "tv", "total"):
        close(P1[f"loss_{k}"], values[k], 1e-4, f"{k} loss of the initial image")
    check_gradients(terms, x0, {k: P1[f"grad_{k}"] for k in values}, "gradient of the loss")
    combined = sum(weights[k] * P1[f"grad_{k}"].astype(np.float64) for k in ("content", "style", "tv"))
    close(P1["grad_total"], combined, 1e-4, "the total gradient is the weighted sum of the terms'")
    # Adam's first step (Kingma & Ba): m_hat = g, v_hat = g^2, x1 = x0 - lr g / (|g| + eps).
    g = P1["grad_total"].astype(np.float64)
    sure = np.abs(g) > 1e-4 * np.abs(g).max()          # elsewhere the sign of g is float noise
    expected = x0 - c.learning_rate * g / (np.abs(g) + c.epsilon)
    close(P1["after_step"][sure], expected[sure], 1e-5, "one Adam step of the Gatys optimiser")


# ------------------------------------------------------------------------------ part 2
def init_conv(cin: int, cout: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The documented initialisation: U(+-1/sqrt(cin k k)), kernel then bias, from default_rng(seed)."""
    rng, bound = np.random.default_rng(seed), 1.0 / np.sqrt(cin * k * k)
    kernel = rng.uniform(-bound, bound, (k, k, cin, cout)).astype(np.float32)
    return kernel.astype(np.float64), rng.uniform(-bound, bound, (cout,)).astype(np.float32).astype(np.float64)


def conv_layer(x, cin, cout, k, stride, seed):
    """Reflection padding of k // 2, then a 'VALID' convolution with stride, plus bias."""
    w, b = init_conv(cin, cout, k, seed)
    p = k // 2
    return conv_valid(np.pad(x, [(0, 0), (p, p), (p, p), (0, 0)], mode="reflect"), w, stride) + b


def instance_norm(x, scale=1.0, offset=0.0, eps=1e-5):
    mean, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + offset


def residual(x, c, seed):
    y = relu(instance_norm(conv_layer(x, c, c, 3, 1, seed)))
    return x + instance_norm(conv_layer(y, c, c, 3, 1, seed + 1))


def upsample_conv(x, cin, cout, seed):
    return conv_layer(np.repeat(np.repeat(x, 2, axis=1), 2, axis=2), cin, cout, 3, 1, seed)


def transformer_net(x, seed=0):
    """c9s1-32, d64, d128, R128 x 5, u64, u32, c9s1-3, 127.5 (1 + tanh(y / 127.5)), cropped back."""
    s = 100 * seed
    y = relu(instance_norm(conv_layer(x, 3, 32, 9, 1, s + 1)))
    y = relu(instance_norm(conv_layer(y, 32, 64, 3, 2, s + 2)))
    y = relu(instance_norm(conv_layer(y, 64, 128, 3, 2, s + 3)))
    for i in range(5):
        y = residual(y, 128, s + 10 + 2 * i)
    y = relu(instance_norm(upsample_conv(y, 128, 64, s + 4)))
    y = relu(instance_norm(upsample_conv(y, 64, 32, s + 5)))
    y = conv_layer(y, 32, 3, 9, 1, s + 6)
    return (127.5 * (1.0 + np.tanh(y / 127.5)))[:, :x.shape[1], :x.shape[2]]


def test_part2_layers_and_network():
    x = P2["conv_in"].astype(np.float64)
    close(P2["conv9_out"], conv_layer(x, 5, 4, 9, 1, 1), 1e-5, "ConvLayer(5, 4, 9, 1)")
    close(P2["conv3s2_out"], conv_layer(x, 5, 4, 3, 2, 2), 1e-5, "ConvLayer(5, 4, 3, 2)")
    close(P2["norm_out"], instance_norm(P2["norm_in"].astype(np.float64), P2["norm_scale"], P2["norm_offset"]),
          1e-5, "instance norm")
    close(P2["res_out"], residual(P2["res_in"].astype(np.float64), 4, 3), 1e-5, "residual block")
    close(P2["up_out"], upsample_conv(P2["up_in"].astype(np.float64), 4, 3, 4), 1e-5, "nearest x2 then conv")
    close(P2["net_out"], transformer_net(P2["net_in"].astype(np.float64)), 1e-4, "the transformer network")
    close(P2["gram_out"], gram_batched(P2["gram_in"]), 1e-5, "G = F^T F / (H W C)")


def tiny_vgg(x: np.ndarray) -> dict[str, np.ndarray]:
    """tests/fast_cases.TinyVGG in NumPy: seeded 3x3 conv + ReLU layers, 2x2 average pools between."""
    from fast_cases import TINY_CHANNELS

    rng = np.random.default_rng(7)
    pairs = list(zip(TINY_CHANNELS[:-1], TINY_CHANNELS[1:]))
    kernels = [rng.normal(0, 0.3, (3, 3, a, b)).astype(np.float32).astype(np.float64) for a, b in pairs]
    biases = [rng.normal(0, 0.1, (b,)).astype(np.float32).astype(np.float64) for _, b in pairs]
    out, h = {}, (x - MEAN_RGB) / 64.0
    for i, name in enumerate(TINY_LAYERS):
        if i:
            h = avgpool_same(h)
        h = out[name] = relu(conv_same(h, kernels[i], biases[i]))
    return out


def test_part2_perceptual_loss_terms_and_gradients():
    s = loss_settings()
    layer_w = dict(zip(s["style_layers"], s["style_layer_weights"]))
    photos = P2["content_batch"].astype(np.float64)
    target = tiny_vgg(photos)
    style = {k: gram_batched(v) for k, v in tiny_vgg(P2["style_img"].astype(np.float64)[None]).items()}

    def terms(y):
        f = tiny_vgg(y)
        out = {"content": sum(np.mean((f[l] - target[l]) ** 2) for l in s["content_layers"]),
               "style": sum(layer_w[l] * np.mean((gram_batched(f[l]) - style[l]) ** 2) for l in s["style_layers"]),
               "tv": tv(y)}
        out["total"] = s["content_weight"] * out["content"] + s["style_weight"] * out["style"] + s["tv_weight"] * out["tv"]
        return out

    y0 = P2["stylized_batch"].astype(np.float64)
    values = terms(y0)
    for k in ("content", "style", "tv", "total"):
        close(P2[f"loss_{k}"], values[k], 1e-4, f"perceptual {k} loss")
    check_gradients(terms, y0, {k: P2[f"grad_{k}"] for k in values}, "gradient of the perceptual loss")


def test_part2_train_step():
    """tests/fast_cases.TinyNet + tiny_loss, one SGD step (lr 0.5) on grad_scale 0.5 * total."""
    x = P2["step_in"].astype(np.float64)
    K = P2["step_kernel"].astype(np.float64)
    z = conv_same(x / 255.0, K, np.zeros(K.shape[-1]))
    sig = 1.0 / (1.0 + np.exp(-z))
    y = 255.0 * sig
    colour = np.array([200.0, 60.0, 90.0])
    content, style = np.mean((y / 255 - x / 255) ** 2), np.mean((y / 255 - colour / 255) ** 2)
    for k, v in (("content", content), ("style", style), ("total", content + 3 * style)):
        close(P2[f"step_{k}"], v, 1e-5, f"train-step {k} loss (before the update)")
    dy = 2.0 / (255.0 * y.size) * ((y / 255 - x / 255) + 3.0 * (y / 255 - colour / 255))
    dz = 0.5 * dy * 255.0 * sig * (1.0 - sig)           # grad_scale 0.5
    xp = np.pad(x / 255.0, [(0, 0), (1, 1), (1, 1), (0, 0)])
    h, w = x.shape[1:3]
    dK = np.stack([np.stack([np.einsum("bhwc,bhwo->co", xp[:, i:i + h, j:j + w], dz) for j in range(3)])
                   for i in range(3)])
    close(P2["step_kernel_after"] - P2["step_kernel"], -0.5 * dK, 1e-4, "kernel update -lr * scale * dL/dK")
    close(P2["step_bias_after"], -0.5 * dz.sum(axis=(0, 1, 2)), 1e-4, "bias update from 0")
