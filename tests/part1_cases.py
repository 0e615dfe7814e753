"""Deterministic inputs shared by the part 1 graded tests and tests/reference/make_part1.py."""
from __future__ import annotations

import numpy as np

TINY = 40  # px: small enough to be fast, large enough for conv5_1 (pool4 -> 3x3)


def conv_weights() -> dict:
    rng = np.random.default_rng(1)
    return {"conv1_1": (rng.normal(0, 0.1, (3, 3, 3, 4)).astype(np.float32),
                        rng.normal(0, 0.1, (4,)).astype(np.float32))}


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    f = lambda *shape: rng.normal(0, 1, shape).astype(np.float32)  # noqa: E731
    return {
        "conv_in": f(1, 6, 7, 3),
        "pool_in": f(1, 7, 9, 5),
        "P": f(1, 4, 5, 6), "F": f(1, 4, 5, 6),
        "feat": f(1, 4, 5, 6),
        "a": f(1, 4, 5, 6), "g": f(1, 4, 5, 6),
        "A_list": np.stack([f(1, 4, 5, 6) for _ in range(3)]),
        "G_list": np.stack([f(1, 4, 5, 6) for _ in range(3)]),
        "layer_w": np.array([0.5, 1.0, 3.0], dtype=np.float32),
    }


def tiny_images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:TINY, 0:TINY].astype(np.float32)
    content = np.stack([xx * 6, yy * 6, 255 - xx * 3 - yy * 3], -1) % 256
    style = rng.uniform(0, 255, (TINY, TINY, 3)).astype(np.float32)
    return content.astype(np.float32), style


def build_tiny(style_transfer_module, **overrides):
    """A built StyleTransfer on 40x40 images with the real VGG19 and fixed settings."""
    from nst import gatys
    from nst.runtime import set_seed

    set_seed(0)
    config = gatys.Config(max_size=TINY, iterations=1, tv_weight=1e-3, seed=0, **overrides)
    content, style = tiny_images()
    st = style_transfer_module.StyleTransfer(content, [style], config)
    st.build()
    return st
