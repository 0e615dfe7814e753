"""Gatys et al. style transfer: settings, presets, image preparation, the whole run.

The student-facing class (``<impl>/style_transfer.py``) computes the losses; this
module decides everything around it: sizes, initial image, weights of layers and
styles, and the multi-scale schedule. The optimisation loop is in :mod:`nst.optimize`.
"""
from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nst import images
from nst.errors import NstError

STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CHANNELS = {"conv1": 64, "conv2": 128, "conv3": 256, "conv4": 512, "conv5": 512}


@dataclass
class Config:
    """Every setting of a Gatys run. Defaults are the CS20si assignment's, tuned for 300 Adam steps."""

    iterations: int = 300
    width: int | None = None               # output width (aspect kept); else max_size
    max_size: int = 333                     # longest side of the output
    content_weight: float = 1e5
    content_weight_blend: float = 1.0      # share of conv4_2 in the content loss; the rest is conv5_2
    style_weight: float = 1.0
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] = (0.5, 1.0, 1.5, 3.0, 4.0)
    style_layer_weight_exp: float | None = None   # neural-style: w_l = exp^l, normalised to sum 1
    style_blend_weights: tuple[float, ...] | None = None
    style_scales: tuple[float, ...] | None = None
    tv_weight: float = 0.0
    learning_rate: float = 2.0
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    pooling: str = "avg"
    optimizer: str = "adam"
    initial: str = "content"               # content | style | noise | path to an image
    initial_noiseblend: float = 0.6        # share of noise mixed into the initial image
    noise: str = "uniform"                 # uniform: grey + U(-20, 20) (CS20si); normal: mean pixel + N(0, 0.256) (neural-style)
    style_fit: str = "stretch"             # stretch: style resized to the canvas; width: to the content's width, aspect kept
    normalization: str = "cs20si"          # cs20si (the handout's formulas) or neural-style
    network: str = "vgg19"
    precision: str = "float32"
    xla: bool = False                      # XLA-compile each step (jit_compile); no faster on the CPUs measured
    scales: tuple[int, ...] | None = None  # multi-scale: optimise at each longest side in turn
    scale_fractions: tuple[float, ...] | None = None  # coarse-to-fine: the same, as fractions of the final size
    coarse_iterations: tuple[int, ...] | None = None  # iterations at each scale before the last (default: iterations)
    seed: int = 0
    print_iterations: int = 10
    checkpoint_iterations: int = 0
    checkpoint_output: str | None = None   # image pattern, "%s" = iteration; default <run_dir>/checkpoint_%s.png
    image_iterations: int = 50             # TensorBoard image every N steps
    logdir: str | None = None
    run_dir: str | None = None
    max_pixels: int = 4096 * 4096

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def fingerprint(self, *inputs: str) -> str:
        """Hash of the settings that change the result (not logging), plus the input files' bytes."""
        result_fields = {k: v for k, v in dataclasses.asdict(self).items()
                         if k not in ("print_iterations", "checkpoint_iterations", "image_iterations",
                                      "checkpoint_output", "logdir", "run_dir", "xla")}
        h = hashlib.sha256(json.dumps(result_fields, sort_keys=True).encode())
        for path in inputs:
            h.update(Path(path).read_bytes() if Path(path).is_file() else path.encode())
        return h.hexdigest()[:16]


# anishathalye/neural-style's defaults (neural_style.py, stylize.py), with its loss normalisation:
# no --initial means noise, N(0, 0.256) in mean-subtracted pixels; styles resized to the content's width.
NEURAL_STYLE = dict(content_weight=5.0, content_weight_blend=1.0, style_weight=500.0, tv_weight=100.0,
                    style_layer_weight_exp=1.0, learning_rate=10.0, beta1=0.9, beta2=0.999, epsilon=1e-8,
                    iterations=1000, pooling="max", initial="noise", initial_noiseblend=0.0, noise="normal",
                    style_fit="width", normalization="neural-style", optimizer="adam")

PRESETS: dict[str, dict] = {
    "cs20si": dict(content_weight=1e5, style_weight=1.0, style_layer_weights=(0.5, 1.0, 1.5, 3.0, 4.0),
                   learning_rate=2.0, iterations=300, pooling="avg", initial="content",
                   initial_noiseblend=0.6, normalization="cs20si", tv_weight=0.0),
    # anishathalye/neural-style's defaults, with its loss normalisation
    "neural-style": NEURAL_STYLE,
    # the same loss, minimised by L-BFGS from the content: neural-style's 300-Adam-step loss in under a
    # third of the CPU time (benchmarks/quality.py, README "Benchmarks")
    "neural-style-fast": dict(NEURAL_STYLE, optimizer="lbfgs", initial="content", iterations=100),
}


CHOICES = {"pooling": ("avg", "max"), "optimizer": ("adam", "lbfgs"), "noise": ("uniform", "normal"),
           "style_fit": ("stretch", "width"), "normalization": ("cs20si", "neural-style"),
           "precision": ("float32", "bfloat16", "float16"), "network": ("vgg19", "vgg19-mat", "vgg19-keras")}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def validate(config: Config, n_styles: int = 1) -> None:
    """Refuse any setting out of its range with one NstError naming the option (before anything runs)."""
    def need(ok: bool, name: str, what: str, value) -> None:
        if not ok:
            raise NstError(f"{_option(name)} must be {what}, got {value}")

    c = config
    for name in ("iterations", "checkpoint_iterations", "image_iterations", "seed"):
        need(getattr(c, name) >= 0, name, ">= 0", getattr(c, name))
    for name in ("max_size", "print_iterations", "max_pixels"):
        need(getattr(c, name) >= 1, name, "positive", getattr(c, name))
    need(c.width is None or c.width >= 1, "width", "positive", c.width)
    for name in ("content_weight", "style_weight", "tv_weight"):
        need(getattr(c, name) >= 0, name, ">= 0", getattr(c, name))
    need(0 <= c.content_weight_blend <= 1, "content_weight_blend", "in [0, 1]", c.content_weight_blend)
    need(0 <= c.initial_noiseblend <= 1, "initial_noiseblend", "in [0, 1]", c.initial_noiseblend)
    need(c.learning_rate > 0, "learning_rate", "positive", c.learning_rate)
    need(0 <= c.beta1 < 1, "beta1", "in [0, 1)", c.beta1)
    need(0 <= c.beta2 < 1, "beta2", "in [0, 1)", c.beta2)
    need(c.epsilon > 0, "epsilon", "positive", c.epsilon)
    need(c.style_layer_weight_exp is None or c.style_layer_weight_exp > 0, "style_layer_weight_exp", "positive",
         c.style_layer_weight_exp)
    for name, choices in CHOICES.items():
        need(getattr(c, name) in choices, name, "one of " + ", ".join(choices), repr(getattr(c, name)))
    for name in ("scales", "style_scales", "scale_fractions"):
        values = getattr(c, name)
        need(values is None or (len(values) > 0 and min(values) > 0), name, "positive numbers", values)
    need(c.scales is None or min(c.scales) >= 16, "scales", "sizes of at least 16 px", c.scales)
    need(c.scale_fractions is None or max(c.scale_fractions) <= 1, "scale_fractions", "fractions in (0, 1]",
         c.scale_fractions)
    need(not (c.scales and c.scale_fractions), "scales", "not given together with --scale-fractions", c.scales)
    stages = len(c.scales or c.scale_fractions or [None])
    need(c.coarse_iterations is None or (len(c.coarse_iterations) == stages - 1 and min(c.coarse_iterations, default=0) >= 0),
         "coarse_iterations", f"{stages - 1} counts >= 0 (one per scale before the last)", c.coarse_iterations)
    need(c.checkpoint_output is None or "%s" in c.checkpoint_output, "checkpoint_output", "a pattern with %s",
         c.checkpoint_output)
    start_ok = c.initial in ("content", "style", "noise") or images.is_url(c.initial) or Path(c.initial).is_file()
    need(start_ok, "initial", "content, style, noise or an image file", repr(c.initial))
    style_layer_weights(c)
    style_blend_weights(c, n_styles)
    if c.style_scales is not None and len(c.style_scales) != n_styles:
        raise NstError(f"{n_styles} style images but {len(c.style_scales)} --style-scales")


def layer_depth(layer: str) -> tuple[int, int]:
    return int(layer[4]), int(layer[6])


def content_layer_weights(config: Config) -> dict[str, float]:
    """{conv4_2: blend, conv5_2: 1 - blend}, zero entries dropped; x4 under neural-style normalisation."""
    scale = 4.0 if config.normalization == "neural-style" else 1.0
    weights = {"conv4_2": config.content_weight_blend, "conv5_2": 1.0 - config.content_weight_blend}
    return {k: scale * w for k, w in weights.items() if w > 0}


def style_layer_weights(config: Config) -> list[float]:
    """Per style layer weight: the configured list, or exp^l normalised when an exponent is given.

    Under neural-style normalisation each weight is also scaled by 4/N_l^2, which turns the
    handout's E_l = sum((G-A)^2)/(2NM)^2 into neural-style's sum((G-A)^2)/(N^4 M^2).
    """
    n = len(config.style_layers)
    if config.style_layer_weight_exp is not None:
        raw = [config.style_layer_weight_exp ** i for i in range(n)]
        weights = [w / sum(raw) for w in raw]
    else:
        if len(config.style_layer_weights) != n:
            raise NstError(f"{n} style layers but {len(config.style_layer_weights)} style layer weights")
        weights = list(config.style_layer_weights)
    if config.normalization == "neural-style":
        weights = [w * 4.0 / CHANNELS[layer[:5]] ** 2 for w, layer in zip(weights, config.style_layers)]
    return weights


def style_blend_weights(config: Config, n_styles: int) -> list[float]:
    """Weights of several style images, normalised to sum 1 (equal by default)."""
    raw = list(config.style_blend_weights or [1.0] * n_styles)
    if len(raw) != n_styles:
        raise NstError(f"{n_styles} style images but {len(raw)} --style-blend-weights")
    if any(w < 0 for w in raw) or sum(raw) <= 0:
        raise NstError("--style-blend-weights must be non-negative and not all zero")
    return [w / sum(raw) for w in raw]


def compute_dtype(config: Config):
    from nst.runtime import compute_dtype as dtype_of

    return dtype_of(config.precision)


def initial_image(content: np.ndarray, styles: list[np.ndarray], config: Config) -> np.ndarray:
    """Start point (RGB, float32): ``r * noise + (1 - r) * base``, r = ``initial_noiseblend`` (1 for "noise").

    base is the content, the first style, or an image file (resized to the content). noise is
    ``noise="uniform"``: grey 127.5 + U(-20, 20) per channel (CS20si), or ``noise="normal"``: the
    mean pixel + N(0, 0.256), neural-style's ``tf.random_normal(shape) * 0.256`` in mean-subtracted
    units (almost a flat grey-brown image). Drawn from ``config.seed``.
    """
    from nst.images import MEAN_RGB

    h, w = content.shape[:2]
    if config.initial == "content":
        base = content
    elif config.initial == "style":
        base = styles[0]
    elif config.initial == "noise":
        base = content
    else:
        base = images.resize(images.load_image(config.initial, max_pixels=config.max_pixels), h, w)
    ratio = 1.0 if config.initial == "noise" else config.initial_noiseblend
    if not 0.0 <= ratio <= 1.0:
        raise NstError(f"--initial-noiseblend must be in [0, 1], got {ratio}")
    rng = np.random.default_rng(config.seed)
    if config.noise == "normal":
        noise = rng.normal(0.0, 0.256, size=content.shape).astype(np.float32) + MEAN_RGB.astype(np.float32)
        return (ratio * noise + (1 - ratio) * base).astype(np.float32)
    noise = rng.uniform(-20, 20, size=content.shape).astype(np.float32) + 127.5
    return np.clip(ratio * noise + (1 - ratio) * base, 0, 255).astype(np.float32)


def fit_style(style: np.ndarray, height: int, width: int, scale: float = 1.0, keep_aspect: bool = False) -> np.ndarray:
    """The style image on the content's (height, width) canvas, at size ``scale`` relative to the content.

    Default (CS20si): at scale 1 the style is resized to (height, width), its aspect ratio
    not kept; otherwise to (height*scale, width*scale). ``keep_aspect`` (neural-style): resized
    to width ``width*scale`` with its own aspect ratio. Then centre-cropped where larger than
    the canvas, or mirror-tiled where smaller, so all images share one input variable without
    changing the style's scale (the Gram matrices are means over positions, so a crop or a tile
    changes only which strokes are counted, not their size).
    """
    if scale <= 0:
        raise NstError(f"--style-scales must be positive, got {scale}")
    sw = max(1, round(width * scale))
    sh = max(1, round(sw * style.shape[0] / style.shape[1])) if keep_aspect else max(1, round(height * scale))
    scaled = images.resize(style, sh, sw)
    if (sh, sw) == (height, width):
        return scaled
    reps = (-(-height // sh) + 1, -(-width // sw) + 1)
    tile = np.concatenate([scaled, scaled[::-1]], axis=0)
    tile = np.concatenate([tile, tile[:, ::-1]], axis=1)
    tiled = np.tile(tile, (reps[0], reps[1], 1))
    top, left = (tiled.shape[0] - height) // 2, (tiled.shape[1] - width) // 2
    if sh >= height:
        top = (sh - height) // 2
    if sw >= width:
        left = (sw - width) // 2
    return np.ascontiguousarray(tiled[top:top + height, left:left + width])


def prepare_images(content_path: str, style_paths: list[str], config: Config,
                   size: int | None = None, fraction: float = 1.0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Load and size the content image (width or longest side, times ``fraction``), then fit each style to it."""
    from nst.vgg import min_input_side

    if not style_paths:
        raise NstError("give at least one style image with --styles")
    content = images.load_image(content_path, max_pixels=config.max_pixels)
    h, w = images.fit_size(*content.shape[:2], max_size=size or config.max_size,
                           width_to=None if size else config.width)
    if fraction != 1.0:
        h, w = max(1, round(h * fraction)), max(1, round(w * fraction))
    if h * w > config.max_pixels:
        raise NstError(f"output {w}x{h} is over the pixel budget of {config.max_pixels}; use a smaller size")
    content = images.resize(content, h, w)
    content = images.ensure_min_size(content, min_input_side(config.style_layers + ("conv5_2",)), name=content_path)
    h, w = content.shape[:2]
    scales = list(config.style_scales or [1.0] * len(style_paths))
    if len(scales) != len(style_paths):
        raise NstError(f"{len(style_paths)} style images but {len(scales)} --style-scales")
    styles = [fit_style(images.load_image(p, max_pixels=config.max_pixels), h, w, s, config.style_fit == "width")
              for p, s in zip(style_paths, scales)]
    return content, styles


def summary_writer(config: Config):
    import tensorflow as tf

    return tf.summary.create_file_writer(config.logdir) if config.logdir else None


def train(st, n_iters: int) -> np.ndarray:
    from nst import optimize

    return optimize.run(st, n_iters)


def run_dir_for(content: str, styles: list[str], config: Config, root: str | Path = "outputs") -> Path:
    """``outputs/<content>-<styles>-<fingerprint>``: the same arguments give the same folder (resume)."""
    name = "-".join([Path(content).stem] + [Path(s).stem for s in styles])
    return Path(root) / f"{name}-{config.fingerprint(content, *styles)}"


def stages_of(config: Config) -> list[tuple[int | None, float, int]]:
    """(longest side or None, fraction of the final size, iterations) of each scale, coarse to fine.

    ``scales`` are longest sides, ``scale_fractions`` fractions of the final size; every stage
    runs ``iterations`` unless ``coarse_iterations`` gives the counts of the stages before the last.
    """
    if config.scales:
        sizes = [(s, 1.0) for s in config.scales]
    else:
        sizes = [(None, f) for f in (config.scale_fractions or [1.0])]
    counts = list(config.coarse_iterations or [config.iterations] * (len(sizes) - 1)) + [config.iterations]
    return [(s, f, n) for (s, f), n in zip(sizes, counts)]


def stylize(content_path: str, style_paths: list[str], config: Config, impl: str | None = None) -> np.ndarray:
    """The whole run: every scale in turn (each starting from the last result), checkpoints, logs."""
    from nst import impl as impls
    from nst.runtime import configure_threads, set_seed

    configure_threads()
    module = impls.load("style_transfer", impl)
    stages = stages_of(config)
    result = None
    for i, (size, fraction, iterations) in enumerate(stages):
        set_seed(config.seed)
        stage = dataclasses.replace(config)
        label = str(size) if size else f"{fraction:g}x"
        if len(stages) > 1:
            stage.run_dir = str(Path(config.run_dir) / f"scale{label}") if config.run_dir else None
            stage.logdir = str(Path(config.logdir) / f"scale{label}") if config.logdir else None
        content, styles = prepare_images(content_path, style_paths, stage, size=size, fraction=fraction)
        st = module.StyleTransfer(content, styles, stage)
        if result is not None:  # start from the previous scale's result, upsampled
            st.initial_img = images.preprocess(images.resize(result.astype(np.float32), *content.shape[:2]))
        st.build()
        result = st.train(iterations) if iterations else images.deprocess(st.initial_img)
        del st  # free this scale's graph and buffers before the next, larger scale builds its own
        gc.collect()
        if i + 1 < len(stages):
            following = stages[i + 1][0] or f"{stages[i + 1][1]:g}x"
            print(f"scale {label}: done, next {following}", flush=True)
    return result
