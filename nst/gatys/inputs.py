"""The images of a Gatys run: the content sized to the output, each style fitted to the content's canvas,
and the start image (content, the content in the styles' colours, style, noise or a file, blended with noise)."""
from __future__ import annotations

import numpy as np

from nst import images
from nst.errors import NstError
from nst.gatys.config import Config, style_blend_weights


def initial_image(content: np.ndarray, styles: list[np.ndarray], config: Config) -> np.ndarray:
    """Start point (RGB, float32): ``r * noise + (1 - r) * base``, r = ``initial_noiseblend`` (1 for "noise").

    base is the content, the content recoloured to the styles' colour mean and covariance
    (``recolored``, :func:`nst.images.match_colors`, the styles weighted by their blend weights), the
    first style, or an image file (resized to the content). noise is
    ``noise="uniform"``: grey 127.5 + U(-20, 20) per channel (CS20si), or ``noise="normal"``: the
    mean pixel + N(0, 0.256), neural-style's ``tf.random_normal(shape) * 0.256`` in mean-subtracted
    units (almost a flat grey-brown image). Drawn from ``config.seed``.
    """
    from nst.images import MEAN_RGB

    h, w = content.shape[:2]
    if config.initial == "content":
        base = content
    elif config.initial == "recolored":
        base = images.match_colors(content, styles, style_blend_weights(config, len(styles)))
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
        raise NstError("give at least one style image with --style")
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
