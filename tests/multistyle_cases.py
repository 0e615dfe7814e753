"""Deterministic inputs of the part 2 multi-style tests, shared with tests/reference/make_multistyle.py.

``cin_inputs``: a conditional instance norm of 3 styles and 4 channels, a batch of two images
whose style weights are one style (row 1) and a blend (0.2, 0.5, 0.3). ``published_inputs``:
the repository's chelsea.jpg at 256 px (a multiple of 4: no padding inside the network) and
the published styles it is rendered in: ``published:7``, and 0.6 ``published:3`` + 0.4
``published:19``.
"""
from __future__ import annotations

import numpy as np

CIN_STYLES, CIN_CHANNELS = 3, 4
PUBLISHED_CONTENT, PUBLISHED_SIZE = "content/chelsea.jpg", 256
PUBLISHED_WEIGHTS = {"one": {7: 1.0}, "blend": {3: 0.6, 19: 0.4}}


def cin_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(22)
    # the last two channels: variance ~ epsilon, mean 0 (no float32 cancellation in E[x^2] - E[x]^2)
    scale, shift = np.array([3.0, 1.0, 1e-2, 3e-3], np.float32), np.array([1.0, -2.0, 0.0, 0.0], np.float32)
    return {"cin_in": (rng.normal(0, 1, (2, 6, 7, CIN_CHANNELS)) * scale + shift).astype(np.float32),
            "cin_gamma": rng.normal(1, 0.5, (CIN_STYLES, CIN_CHANNELS)).astype(np.float32),
            "cin_beta": rng.normal(0, 1, (CIN_STYLES, CIN_CHANNELS)).astype(np.float32),
            "cin_weights": np.array([[0, 1, 0], [0.2, 0.5, 0.3]], np.float32)}


def make_cin(tn, x: dict):
    norm = tn.ConditionalInstanceNorm(CIN_CHANNELS, CIN_STYLES)
    norm.gamma.assign(x["cin_gamma"])
    norm.beta.assign(x["cin_beta"])
    return norm


def style_vectors() -> dict[str, np.ndarray]:
    """{"one": (26,), "blend": (26,)} style weights of the published render."""
    out = {}
    for key, rows in PUBLISHED_WEIGHTS.items():
        w = np.zeros(26, np.float32)
        for k, v in rows.items():
            w[k] = v
        out[key] = w
    return out


def published_inputs(repo) -> np.ndarray:
    """The content (H, W, 3) float32 0..255, H and W multiples of 4."""
    from nst.images import fit_size, load_image, resize

    content = load_image(repo / PUBLISHED_CONTENT)
    h, w = fit_size(*content.shape[:2], max_size=PUBLISHED_SIZE)
    return resize(content, h // 4 * 4, w // 4 * 4)


def run_published(tn, content: np.ndarray) -> dict[str, np.ndarray]:
    """The published network around ``tn`` (the student's transformer_net): the content in each
    style of :func:`style_vectors`, float32 0..255."""
    from nst.fast.multistyle import MultiStyleNet, assign_published
    from nst.fast.published import load_arrays

    net = MultiStyleNet(tn, 26)
    assign_published(net, load_arrays())
    return {k: net(content[None], w).numpy()[0] for k, w in style_vectors().items()}
