"""The settings of a Gatys run: :class:`Config` (every ``nst stylize`` option, declared once), the presets,
their validation, the layer and style weights derived from them, and the multi-scale schedule."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from nst import images
from nst.common_options import precision_option, seed_option
from nst.errors import NstError
from nst.options import check, option

STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CHANNELS = {"conv1": 64, "conv2": 128, "conv3": 256, "conv4": 512, "conv5": 512}


@dataclass
class Config:
    """Every setting of a Gatys run, each declared once (:func:`nst.options.option`): the
    ``nst stylize`` flags, their validation and the docs' option table come from here.
    Defaults are the CS20si assignment's, tuned for 300 Adam steps; PRESETS below change some."""

    iterations: int = option(300, "optimisation steps", bounds=">= 0")
    width: int | None = option(None, "output width; the height keeps the aspect ratio", bounds=">= 1")
    max_size: int = option(333, "longest side of the output", bounds=">= 1")
    scales: tuple[int, ...] | None = option(
        None, "multi-scale: optimise at each longest side in turn, each from the upsampled previous result",
        bounds="> 0", metavar="512,1024,2048")
    scale_fractions: tuple[float, ...] | None = option(
        None, "the same as fractions of the output size (coarse to fine)", bounds="(0, 1]", metavar="0.5,1",
        what="fractions in (0, 1]")
    coarse_iterations: tuple[int, ...] | None = option(
        None, "iterations at each scale before the last, which runs --iterations (default: --iterations)",
        bounds=">= 0", metavar="N,...")
    content_weight: float = option(1e5, "weight of the content loss", bounds=">= 0")
    content_weight_blend: float = option(1.0, "content loss = B * conv4_2 + (1 - B) * conv5_2", bounds="[0, 1]",
                                         metavar="B")
    style_weight: float = option(1.0, "weight of the style loss", bounds=">= 0")
    style_layers: tuple[str, ...] = option(STYLE_LAYERS, "VGG layers of the style loss", flag=None)
    style_layer_weights: tuple[float, ...] = option((0.5, 1.0, 1.5, 3.0, 4.0), "weight of each style layer",
                                                    flag=None)
    style_layer_weight_exp: float | None = option(
        None, "style layer l weighs E^l (normalised) instead of the style layer weights", bounds="> 0", metavar="E")
    style_blend_weights: tuple[float, ...] | None = option(
        None, "weights of several style images: >= 0, not all zero, normalised to sum 1 (off: equal weights)", metavar="W1,W2", flag="--style-weights", deprecated=("--style-blend-weights",))
    style_scales: tuple[float, ...] | None = option(
        None, "size of each style image relative to the content", bounds="> 0", metavar="S1,S2")
    tv_weight: float = option(0.0, "weight of the total-variation smoothing", bounds=">= 0")
    learning_rate: float = option(2.0, "Adam's learning rate", bounds="> 0")
    beta1: float = option(0.9, "Adam's beta1", bounds="[0, 1)")
    beta2: float = option(0.999, "Adam's beta2", bounds="[0, 1)")
    epsilon: float = option(1e-8, "Adam's epsilon", bounds="> 0")
    pooling: str = option("avg", "VGG pooling (Gatys et al. average)", choices=("avg", "max"))
    optimizer: str = option("adam", "adam, or L-BFGS with box bounds and TensorFlow gradients (as in the paper), "
                                    "pixels bounded to [0, 255]", choices=("adam", "lbfgs"))
    initial: str = option("content", "start image: content, recolored (the content in the styles' colour mean "
                                     "and covariance), style, noise, or an image file or URL",
                          metavar="content|recolored|style|noise|FILE")
    initial_noiseblend: float = option(0.6, "share of noise mixed into the start image", bounds="[0, 1]",
                                       metavar="R")
    noise: str = option("uniform", "uniform: grey + U(-20, 20) (CS20si); normal: the mean pixel + N(0, 0.256) "
                                   "(neural-style)", choices=("uniform", "normal"))
    style_fit: str = option("stretch", "stretch: the style resized to the content's size; width: to the content's "
                                       "width (times --style-scales) with its own aspect ratio, then centre-cropped "
                                       "or mirror-tiled to the content's size", choices=("stretch", "width"))
    normalization: str = option("cs20si", "loss normalisation: the handout's formulas or neural-style's",
                                choices=("cs20si", "neural-style"), flag=None)
    network: str = option("vgg19", "weights source (weights.md of the docs)", choices=("vgg19", "vgg19-mat", "vgg19-keras"))
    # float32 by default (Adam in bfloat16 is not measured to reach float32's loss); --preset neural-style-fast: auto
    precision: str = precision_option(command_default=None)
    xla: bool = option(False, "XLA-compile each step (jit_compile); opt-in: it did not pay on the CPUs measured "
                              "(benchmarks.md of the docs)")
    seed: int = seed_option("seed of every random choice (the noise)")
    print_iterations: int = option(10, "a log line every N steps when not on a terminal (a bar on one)",
                                   bounds=">= 1", metavar="N")
    checkpoint_iterations: int = option(0, "checkpoint (image + optimiser state) every N steps, for resume; 0: off",
                                        bounds=">= 0", metavar="N")
    checkpoint_output: str | None = option(None, "checkpoint image pattern, %s = iteration "
                                                 "(default <run>/checkpoint_%s.png)", metavar="PATTERN")
    image_iterations: int = option(50, "TensorBoard image every N steps", bounds=">= 0", metavar="N")
    logdir: str | None = option(None, "TensorBoard folder (default <run>/logs)", metavar="DIR")
    run_dir: str | None = option(None, "run folder (default outputs/<content>-<styles>-<hash>)", metavar="DIR")
    max_pixels: int = option(4096 * 4096, "refuse larger images instead of running out of memory", bounds=">= 1",
                             metavar="N")

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
    # the same loss, minimised by L-BFGS from the content in the styles' colours, in bfloat16 where the CPU
    # or GPU has it (the iterations left when its line search stops run in float32): neural-style's
    # 300-Adam-step loss in a fifth of its time at float32, a thirteenth with bfloat16 (benchmarks.md)
    "neural-style-fast": dict(NEURAL_STYLE, optimizer="lbfgs", initial="recolored", iterations=100, precision="auto"),
}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def validate(config: Config, n_styles: int = 1) -> None:
    """Refuse any setting out of its range with one NstError naming the option (before anything runs)."""
    def need(ok: bool, name: str, what: str, value) -> None:
        if not ok:
            raise NstError(f"{_option(name)} must be {what}, got {value}")

    c = config
    check(c)   # every choice and bound declared on the fields
    need(c.scales is None or min(c.scales) >= 16, "scales", "sizes of at least 16 px", c.scales)
    need(c.scale_fractions is None or max(c.scale_fractions) <= 1, "scale_fractions", "fractions in (0, 1]",
         c.scale_fractions)
    need(not (c.scales and c.scale_fractions), "scales", "not given together with --scale-fractions", c.scales)
    stages = len(c.scales or c.scale_fractions or [None])
    need(c.coarse_iterations is None or (len(c.coarse_iterations) == stages - 1 and min(c.coarse_iterations, default=0) >= 0),
         "coarse_iterations", f"{stages - 1} counts >= 0 (one per scale before the last)", c.coarse_iterations)
    need(c.checkpoint_output is None or "%s" in c.checkpoint_output, "checkpoint_output", "a pattern with %s",
         c.checkpoint_output)
    start_ok = c.initial in ("content", "recolored", "style", "noise") or images.is_url(c.initial) or Path(c.initial).is_file()
    need(start_ok, "initial", "content, recolored, style, noise or an image file", repr(c.initial))
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
    from nst.blend import normalised

    return normalised(config.style_blend_weights, n_styles, "style images")


def compute_dtype(config: Config):
    from nst.runtime import compute_dtype as dtype_of

    return dtype_of(config.precision)


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
