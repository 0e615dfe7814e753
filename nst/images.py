"""Images in and out: loading any common file safely, resizing, saving atomically.

Arrays are float32 RGB in 0..255 with shape (H, W, 3) unless a function says otherwise.
Networks take ``preprocess(x) = x - MEAN_RGB``, batched to (1, H, W, 3).
Wherever an image file is read, an ``http(s)://`` URL may stand for it (:func:`resolve_image`):
it is downloaded once, up to ``MAX_URL_BYTES``, checked to be an image and cached under
``$NST_HOME/images/``.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.parse
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nst.atomic import atomic_path, write_atomic  # noqa: F401 - write_atomic: callers import it here too
from nst.errors import NstError
from nst.weights import MEAN_RGB

DEFAULT_MAX_PIXELS = 4096 * 4096
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
MAX_URL_BYTES = 50 * 1000 * 1000  # an image URL bigger than this is refused ($NST_MAX_URL_MB overrides)
URL = re.compile(r"^https?://", re.IGNORECASE)


def is_url(spec: str | Path) -> bool:
    return isinstance(spec, str) and bool(URL.match(spec))


def url_cache_path(url: str) -> Path:
    """``$NST_HOME/images/<sha256(url)[:16]>-<file name of the URL>``: one file per URL."""
    from nst.weights import nst_home

    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    name = re.sub(r"[^\w.-]+", "_", name)[-80:] or "image"
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        name += ".img"
    return nst_home() / "images" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"


def resolve_image(spec: str | Path, *, max_bytes: int | None = None, timeout: float = 60) -> Path:
    """The local file for ``spec``: a path as it is; an http(s) URL downloaded once into :func:`url_cache_path`.

    The download goes to a temp file beside the cache (at most ``max_bytes``, default ``MAX_URL_BYTES``),
    must decode as an image, and is renamed into place only then; later calls reuse the cached file.
    Raises NstError naming the URL (offline, HTTP error, too big, not an image).
    """
    if not is_url(spec):
        return Path(spec)
    from nst.download import download

    cached = url_cache_path(spec)
    if cached.is_file():
        return cached
    limit = max_bytes or int(float(os.environ.get("NST_MAX_URL_MB") or MAX_URL_BYTES / 1e6) * 1e6)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cached.parent) as tmp:
        try:
            got = download(spec, Path(tmp) / cached.name, timeout=timeout, max_bytes=limit)
        except (ValueError, http.client.HTTPException) as e:  # a malformed URL, a broken response
            raise NstError(f"could not download {spec}: {e}") from None
        try:
            with Image.open(got) as img:
                img.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise NstError(f"{spec}: not an image ({e.__class__.__name__})") from None
        os.replace(got, cached)
    return cached


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL mode to float32 RGB 0..255: 16-bit, palette, CMYK, grey, alpha (on white)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if arr.max() > 255 else 255.0
        grey = np.clip(arr / top * 255.0, 0, 255)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode == "F":
        grey = np.clip(np.asarray(img, dtype=np.float32), 0, 255)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    return np.asarray(img.convert("RGB"), dtype=np.float32)


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as float32 RGB (H, W, 3) in 0..255, EXIF orientation applied.

    Raises NstError (one line) for a missing file, a non-image, a truncated file, or an
    image over ``max_pixels`` pixels. An http(s) URL is fetched and cached (:func:`resolve_image`).
    """
    path = resolve_image(path)
    if not path.exists():
        raise NstError(f"{path}: no such file")
    if path.is_dir():
        raise NstError(f"{path}: is a folder, expected an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > max_pixels:
                    raise NstError(f"{path}: {img.width}x{img.height} is over the pixel budget of "
                                   f"{max_pixels} pixels; resize it or raise --max-pixels")
                img.load()  # forces a full decode: truncated files fail here
                img = ImageOps.exif_transpose(img)
                return _to_rgb(img)
    except NstError:
        raise
    except UnidentifiedImageError:
        raise NstError(f"{path}: not an image file (or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise NstError(f"{path}: cannot read image ({e})") from None


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a (H, W, 3) float image with Lanczos filtering (antialiased when shrinking)."""
    if height <= 0 or width <= 0:
        raise NstError(f"image size must be positive, got {width}x{height}")
    if image.shape[:2] == (height, width):
        return image.astype(np.float32)
    channels = [Image.fromarray(image[..., c].astype(np.float32), mode="F").resize((width, height), Image.LANCZOS)
                for c in range(image.shape[2])]
    return np.clip(np.stack([np.asarray(c) for c in channels], axis=-1), 0, 255).astype(np.float32)


def fit_size(height: int, width: int, *, max_size: int | None = None, width_to: int | None = None) -> tuple[int, int]:
    """Target (H, W) keeping aspect: longest side ``max_size``, or width ``width_to``."""
    if width_to is not None:
        if width_to <= 0:
            raise NstError(f"--width must be positive, got {width_to}")
        return max(1, round(height * width_to / width)), width_to
    if max_size is not None:
        if max_size <= 0:
            raise NstError(f"--max-size must be positive, got {max_size}")
        scale = max_size / max(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))
    return height, width


def ensure_min_size(image: np.ndarray, min_side: int, *, name: str = "image", upscale: bool = True) -> np.ndarray:
    """Upscale (with a warning) or refuse an image whose shorter side is under ``min_side``."""
    h, w = image.shape[:2]
    if min(h, w) >= min_side:
        return image
    if not upscale:
        raise NstError(f"{name} is {w}x{h}; the layers used need at least {min_side} px on each side")
    scale = min_side / min(h, w)
    nh, nw = max(min_side, round(h * scale)), max(min_side, round(w * scale))
    warnings.warn(f"{name} is {w}x{h}, smaller than the {min_side} px the deepest layer needs; upscaled to {nw}x{nh}")
    return resize(image, nh, nw)


def preprocess(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB 0..255 -> (1, H, W, 3) RGB minus MEAN_RGB, the networks' input."""
    return (np.asarray(image, dtype=np.float32) - MEAN_RGB)[None]


def deprocess(x) -> np.ndarray:
    """Inverse of :func:`preprocess`: (1, H, W, 3) or (H, W, 3) -> uint8 RGB (H, W, 3)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4:
        x = x[0]
    return np.clip(x + MEAN_RGB, 0, 255).round().astype(np.uint8)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(image, dtype=np.float32), 0, 255).round().astype(np.uint8)


def check_output_image(path: str | Path) -> str:
    """The Pillow format for an output image path, or NstError (unknown extension, a folder there, a file
    where a parent folder should be); creates nothing, so commands call it before any work."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise NstError(f"{path}: unknown image extension {path.suffix!r}; use .png or .jpg")
    if path.is_dir():
        raise NstError(f"{path}: is a folder; give an image file name")
    blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise NstError(f"{path}: {blocked} is a file, not a folder")
    return fmt


def first_missing_folder(path: str | Path) -> Path | None:
    """The outermost folder that creating ``path`` (a folder) would create, or None if it exists:
    what to remove so that a refused or failed run leaves nothing behind."""
    path = Path(path).absolute()
    missing = None
    for folder in [path, *path.parents]:
        if folder.exists():
            break
        missing = folder
    return missing


def save_image(image: np.ndarray, path: str | Path) -> Path:
    """Save a (H, W, 3) 0..255 image atomically (:mod:`nst.atomic`); the format from the extension."""
    path = Path(path)
    fmt = check_output_image(path)
    with atomic_path(path) as tmp:
        Image.fromarray(to_uint8(image)).save(tmp, format=fmt)
    return path


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    m = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=np.float32)
    return image @ m.T


def yiq_to_rgb(image: np.ndarray) -> np.ndarray:
    m = np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]], dtype=np.float32)
    return image @ m.T


def preserve_colors(content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """Luminance-only transfer: the stylized image's Y with the content's I and Q (YIQ)."""
    if content.shape != stylized.shape:
        content = resize(content, *stylized.shape[:2])
    out = rgb_to_yiq(content.astype(np.float32))
    out[..., 0] = rgb_to_yiq(stylized.astype(np.float32))[..., 0]
    return np.clip(yiq_to_rgb(out), 0, 255)


def match_colors(image: np.ndarray, references: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """``image`` with the colour mean and covariance of ``references`` (their pixels pooled, weighted):

        out = Sr^(1/2) Si^(-1/2) (x - mi) + mr      for each RGB pixel x, clipped to 0..255

    mi, Si the image's mean and covariance, mr, Sr the references' (the mixture's, with ``weights``);
    the square roots are the symmetric ones (eigendecomposition), as in PCA colour transfer.
    """
    weights = list(weights) if weights is not None else [1.0] * len(references)
    total = float(sum(weights))
    pixels = [r.reshape(-1, 3).astype(np.float64) for r in references]
    means = [p.mean(0) for p in pixels]
    mr = sum(w * m for w, m in zip(weights, means)) / total
    sr = sum(w * (np.cov(p.T) + np.outer(m - mr, m - mr)) for w, p, m in zip(weights, pixels, means)) / total
    x = image.reshape(-1, 3).astype(np.float64)
    mi, si = x.mean(0), np.cov(x.T)

    def power(c: np.ndarray, p: float) -> np.ndarray:
        values, vectors = np.linalg.eigh(c + 1e-3 * np.eye(3))   # + a little: a one-colour image is singular
        return (vectors * values ** p) @ vectors.T

    out = (x - mi) @ (power(sr, 0.5) @ power(si, -0.5)).T + mr
    return np.clip(out, 0, 255).reshape(image.shape).astype(np.float32)


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NstError(f"{folder}: no such folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
