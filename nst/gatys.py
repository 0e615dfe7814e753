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
    normalization: str = "cs20si"          # cs20si (the handout's formulas) or neural-style
    network: str = "vgg19"
    precision: str = "float32"
    xla: bool = False                      # XLA-compile each step (jit_compile); no faster on the CPUs measured
    scales: tuple[int, ...] | None = None  # multi-scale: optimise at each longest side in turn
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


PRESETS: dict[str, dict] = {
    "cs20si": dict(content_weight=1e5, style_weight=1.0, style_layer_weights=(0.5, 1.0, 1.5, 3.0, 4.0),
                   learning_rate=2.0, iterations=300, pooling="avg", initial="content",
                   initial_noiseblend=0.6, normalization="cs20si", tv_weight=0.0),
    # anishathalye/neural-style's defaults, with its loss normalisation
    "neural-style": dict(content_weight=5.0, content_weight_blend=1.0, style_weight=500.0, tv_weight=100.0,
                         style_layer_weight_exp=1.0, learning_rate=10.0, iterations=1000, pooling="max",
                         initial="content", initial_noiseblend=0.0, normalization="neural-style"),
}


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
    """Start point: content, first style, noise or a file; mixed with uniform noise in [-20, 20] + mean."""
    h, w = content.shape[:2]
    if config.initial == "content":
        base = content
    elif config.initial == "style":
        base = styles[0]
    elif config.initial == "noise":
        base = np.full_like(content, 127.5)
    else:
        base = images.resize(images.load_image(config.initial, max_pixels=config.max_pixels), h, w)
    ratio = 1.0 if config.initial == "noise" else config.initial_noiseblend
    if not 0.0 <= ratio <= 1.0:
        raise NstError(f"--initial-noiseblend must be in [0, 1], got {ratio}")
    rng = np.random.default_rng(config.seed)
    noise = rng.uniform(-20, 20, size=content.shape).astype(np.float32) + 127.5
    return np.clip(ratio * noise + (1 - ratio) * base, 0, 255).astype(np.float32)


def fit_style(style: np.ndarray, height: int, width: int, scale: float = 1.0) -> np.ndarray:
    """The style image on the content's canvas: scaled so its size relative to the content is ``scale``.

    At scale 1 the style is resized to (height, width), as in CS20si. Otherwise it is resized
    to (height*scale, width*scale), then centre-cropped (scale > 1) or mirror-tiled (scale < 1)
    to (height, width), so all images share one input variable without changing the style's scale.
    """
    if scale <= 0:
        raise NstError(f"--style-scales must be positive, got {scale}")
    sh, sw = max(1, round(height * scale)), max(1, round(width * scale))
    scaled = images.resize(style, sh, sw)
    if scale == 1.0:
        return scaled
    reps = (-(-height // sh) + 1, -(-width // sw) + 1)
    tile = np.concatenate([scaled, scaled[::-1]], axis=0)
    tile = np.concatenate([tile, tile[:, ::-1]], axis=1)
    tiled = np.tile(tile, (reps[0], reps[1], 1)) if scale < 1 else scaled
    top, left = (tiled.shape[0] - height) // 2, (tiled.shape[1] - width) // 2
    return np.ascontiguousarray(tiled[top:top + height, left:left + width])


def prepare_images(content_path: str, style_paths: list[str], config: Config,
                   size: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Load and size the content image (width or longest side), then fit each style to it."""
    from nst.vgg import min_input_side

    if not style_paths:
        raise NstError("give at least one style image with --styles")
    content = images.load_image(content_path, max_pixels=config.max_pixels)
    h, w = images.fit_size(*content.shape[:2], max_size=size or config.max_size,
                           width_to=None if size else config.width)
    if h * w > config.max_pixels:
        raise NstError(f"output {w}x{h} is over the pixel budget of {config.max_pixels}; use a smaller size")
    content = images.resize(content, h, w)
    content = images.ensure_min_size(content, min_input_side(config.style_layers + ("conv5_2",)), name=content_path)
    h, w = content.shape[:2]
    scales = list(config.style_scales or [1.0] * len(style_paths))
    if len(scales) != len(style_paths):
        raise NstError(f"{len(style_paths)} style images but {len(scales)} --style-scales")
    styles = [fit_style(images.load_image(p, max_pixels=config.max_pixels), h, w, s)
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


def stylize(content_path: str, style_paths: list[str], config: Config, impl: str | None = None) -> np.ndarray:
    """The whole run: every scale in turn (each starting from the last result), checkpoints, logs."""
    from nst import impl as impls
    from nst.runtime import configure_threads, set_seed

    configure_threads()
    module = impls.load("style_transfer", impl)
    sizes = list(config.scales or [None])
    result = None
    for i, size in enumerate(sizes):
        set_seed(config.seed)
        stage = dataclasses.replace(config)
        if len(sizes) > 1:
            stage.run_dir = str(Path(config.run_dir) / f"scale{size}") if config.run_dir else None
            stage.logdir = str(Path(config.logdir) / f"scale{size}") if config.logdir else None
        content, styles = prepare_images(content_path, style_paths, stage, size=size)
        if result is not None:  # start from the previous scale's result, upsampled
            stage.initial_noiseblend = 0.0
            st = module.StyleTransfer(content, styles, stage)
            st.initial_img = images.preprocess(images.resize(result.astype(np.float32), *content.shape[:2]))
        else:
            st = module.StyleTransfer(content, styles, stage)
        st.build()
        result = st.train(stage.iterations)
        del st  # free this scale's graph and buffers before the next, larger scale builds its own
        gc.collect()
        if i + 1 < len(sizes):
            print(f"scale {size}: done, next {sizes[i + 1]}", flush=True)
    return result


def warn_unused(config: Config) -> None:
    if config.optimizer == "lbfgs" and config.learning_rate != Config.learning_rate:
        warnings.warn("--learning-rate is ignored by L-BFGS")
