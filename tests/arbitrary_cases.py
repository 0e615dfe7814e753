"""Deterministic inputs shared by the part 3 graded tests and tests/reference/make_arbitrary.py."""
from __future__ import annotations

import numpy as np

NORM_CHANNELS = {"a": 3, "b": 5}
EMBEDDING_DIM = 7


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2017)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    d = {
        "cin_x": 3.0 * f(2, 5, 4, 3) + 1.0, "cin_gamma": f(2, 3), "cin_beta": f(2, 3),
        "feat0": np.abs(f(2, 6, 5, 4)), "feat1": np.abs(f(2, 3, 3, 6)),
        "bottleneck_kernel": f(10, EMBEDDING_DIM), "bottleneck_bias": f(EMBEDDING_DIM),
        "embedding": f(2, EMBEDDING_DIM),
    }
    for name, c in NORM_CHANNELS.items():
        for kind in ("gamma", "beta"):
            d[f"{name}_{kind}_kernel"] = f(EMBEDDING_DIM, c)
            d[f"{name}_{kind}_bias"] = f(c)
    for layer, shape in (("c", (2, 6, 6, 4)), ("s1", (2, 8, 8, 3)), ("s2", (2, 4, 4, 5))):
        d[f"x_{layer}"], d[f"t_{layer}"] = f(*shape), f(*shape)
    d["image"] = 50.0 * f(2, 8, 8, 3)
    # channels of almost no variance (~1e-6, below eps = 1e-5): there eps decides the output
    d["cin_x_flat"] = 1e-3 * f(2, 5, 4, 3) + 0.5
    return d


# the graded run of the published model: a photo and a painting the release ships
PUBLISHED_CONTENT, PUBLISHED_STYLE, PUBLISHED_SIZE = "content/chelsea.jpg", "styles/swirls.jpg", 128
# mean and max |difference| allowed on its float image (0..255): the noise floor and the margins
# are in test_arbitrary_graded.test_published_model_renders_the_reference
PUBLISHED_MEAN_LIMIT, PUBLISHED_MAX_LIMIT = 3e-3, 2.5e-2


def published_inputs(repo):
    """(content (H, W, 3), style (H, W, 3)) float32 0..255 for the published-model test."""
    from nst.images import fit_size, load_image, resize

    content = load_image(repo / PUBLISHED_CONTENT)
    content = resize(content, *fit_size(*content.shape[:2], max_size=PUBLISHED_SIZE))
    return content, load_image(repo / PUBLISHED_STYLE)


def run_published(module, repo):
    """(embedding (1, 100), stylised image (H, W, 3) float32 0..255) of the published model around ``module``."""
    return render_published(module, *published_inputs(repo))


def render_published(module, content, style):
    """(z, float image) of the published model around ``module``: the image before rounding to
    uint8, so that a CIN off by less than 1/255 per pixel still shows (see the graded test)."""
    from nst.arbitrary.published import load_published
    from nst.arbitrary.stylize import Stylizer

    stylizer = Stylizer(load_published(module))
    z = stylizer.embed(style)
    return z.numpy(), stylizer.render(content, z)


def build_head(module, d):
    """A StylePredictionHead with every Dense layer built and set from ``d``."""
    head = module.StylePredictionHead(NORM_CHANNELS, EMBEDDING_DIM)
    head.bottleneck.build((None, 10))
    head.bottleneck.set_weights([d["bottleneck_kernel"], d["bottleneck_bias"]])
    for name, g, b in zip(NORM_CHANNELS, head.gamma_layers, head.beta_layers):
        for layer, kind in ((g, "gamma"), (b, "beta")):
            layer.build((None, EMBEDDING_DIM))
            layer.set_weights([d[f"{name}_{kind}_kernel"], d[f"{name}_{kind}_bias"]])
    return head


def loss_args(d):
    stylized = {"c": d["x_c"], "s1": d["x_s1"], "s2": d["x_s2"]}
    return stylized, {"c": d["t_c"]}, {"s1": d["t_s1"], "s2": d["t_s2"]}, d["image"]
