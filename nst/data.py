"""Sample images: the classic paintings (fetched on demand), our own styles and photos.

* ``fetch_classics`` downloads six public-domain paintings from Wikimedia Commons (or
  copies them from a local mirror), checks each decodes as an image, scales it down to
  ``max_size`` px on its long side and writes it atomically. They are never committed:
  ``styles/.gitignore`` lists them.
* ``setup`` runs ``nst.samples.photos`` (scikit-image's CC0 / public-domain photos into
  ``content/``) and ``nst.samples.paintings`` (procedural paintings into ``styles/``) for
  whatever is missing; both are in the installed package.
* ``inventory`` lists what is in ``content/`` and ``styles/``.
* ``sample_video`` makes a short clip (a slow pan and zoom across a photo) for ``nst fast stylize``.
"""
from __future__ import annotations

import http.client
import io
import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nst.download import download
from nst.errors import NstError
from nst.images import IMAGE_SUFFIXES, write_atomic

DEFAULT_BASE_URL = "https://commons.wikimedia.org/wiki/Special:FilePath/"
DEFAULT_MAX_SIZE = 1024
JPEG_QUALITY = 92


@dataclass(frozen=True)
class Classic:
    name: str       # saved as <name>.jpg
    title: str
    artist: str
    year: str
    file: str       # file name on Wikimedia Commons
    licence: str = "public domain (artist died over 70 years ago)"

    @property
    def filename(self) -> str:
        return f"{self.name}.jpg"


CLASSICS: dict[str, Classic] = {c.name: c for c in [
    Classic("starry_night", "The Starry Night", "Vincent van Gogh", "1889",
            "Van Gogh - Starry Night - Google Art Project.jpg"),
    Classic("the_scream", "The Scream", "Edvard Munch", "1893",
            "Edvard Munch, 1893, The Scream, oil, tempera and pastel on cardboard, 91 x 73 cm, "
            "National Gallery of Norway.jpg"),
    Classic("wave", "The Great Wave off Kanagawa", "Katsushika Hokusai", "c. 1831",
            "Tsunami by hokusai 19th century.jpg"),
    Classic("shipwreck", "The Shipwreck", "J. M. W. Turner", "1805",
            "Joseph Mallord William Turner - The Shipwreck - WGA23160.jpg"),
    Classic("udnie", "Udnie (Young American Girl, The Dance)", "Francis Picabia", "1913",
            "Francis Picabia, 1913, Udnie (Jeune fille américaine; danse), oil on canvas, 290 x 300 cm, "
            "Musée National d'Art Moderne, Centre Georges Pompidou, Paris.jpg"),
    Classic("woman_with_hat", "Woman with a Hat", "Henri Matisse", "1905", "Matisse-Woman-with-a-Hat.jpg"),
]}


def classic_url(classic: Classic, *, base_url: str | None = None, max_size: int | None = DEFAULT_MAX_SIZE) -> str:
    """``<base>/<quoted file name>?width=<max_size>``; Special:FilePath redirects to the file
    (or to a thumbnail of that width, so we never pull the 200 MB originals)."""
    base = base_url or os.environ.get("NST_DATA_BASE_URL") or DEFAULT_BASE_URL
    url = base.rstrip("/") + "/" + urllib.parse.quote(classic.file)
    return f"{url}?width={max_size}" if max_size else url


def find_in_mirror(mirror: Path, classic: Classic) -> Path | None:
    """``mirror/styles/<name>.jpg`` (laid out like ../shared/images) or flat ``mirror/<name>.jpg``."""
    for candidate in (mirror / "styles" / classic.filename, mirror / classic.filename):
        if candidate.is_file():
            return candidate
    return None


def prepare_image(src: Path, max_size: int | None = DEFAULT_MAX_SIZE) -> tuple[bytes, tuple[int, int]]:
    """Decode ``src`` fully; return JPEG bytes with the long side at most ``max_size``, and (W, H).

    A JPEG that already fits is kept byte for byte. Raises NstError if it is not an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(src) as img:
            fmt, original = img.format, img.size
            if max_size:
                img.draft("RGB", (max_size, max_size))  # JPEG: decode at 1/2..1/8 scale, cheaply
            img.load()
            upright = img.getexif().get(0x0112, 1) == 1
            img = ImageOps.exif_transpose(img)
            fits = not max_size or max(img.size) <= max_size
            if fmt == "JPEG" and img.mode == "RGB" and upright and fits and img.size == original:
                return src.read_bytes(), img.size
            img = img.convert("RGB")
            if not fits:
                scale = max_size / max(img.size)
                img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                                 Image.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
            return buf.getvalue(), img.size
    except UnidentifiedImageError:
        raise NstError("not an image (got some other kind of file)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise NstError(f"cannot decode the image ({e})") from None


def _decode(path: Path, source: str, max_size: int) -> tuple[bytes, tuple[int, int]]:
    try:
        return prepare_image(path, max_size)
    except NstError as e:
        raise NstError(f"{source}: {e}") from None


def _fetch_one(c: Classic, head: str, *, mirror: Path | None, base_url: str | None, max_size: int,
               timeout: float, log: Callable[[str], None]) -> tuple[bytes, tuple[int, int]]:
    """JPEG bytes and (W, H) of one classic; every NstError names the URL or path."""
    if mirror is not None:
        src = find_in_mirror(mirror, c)
        if src is None:
            raise NstError(f"not in the mirror {mirror} (looked for styles/{c.filename} and {c.filename})")
        log(f"{head} copying {c.title} from {src}")
        return _decode(src, str(src), max_size)
    url = classic_url(c, base_url=base_url, max_size=max_size)
    log(f"{head} downloading {c.title} ({c.artist}, {c.year}) from {url}")
    with tempfile.TemporaryDirectory(prefix="nst-fetch-") as tmp:  # outside dest: nothing half-written there
        try:
            got = download(url, Path(tmp) / c.filename, timeout=timeout, progress=False)  # its NstErrors name the URL
        except (ValueError, http.client.HTTPException) as e:  # a malformed URL, a broken response
            raise NstError(f"could not download {url}: {e or type(e).__name__}") from None
        return _decode(got, url, max_size)


@dataclass
class FetchReport:
    fetched: list[Path]
    skipped: list[Path]
    failures: list[str]   # one line each, naming the painting and its URL or path


def fetch_classics(dest: Path, *, names: list[str] | None = None, force: bool = False,
                   max_size: int = DEFAULT_MAX_SIZE, mirror: Path | None = None, base_url: str | None = None,
                   timeout: float = 60, log: Callable[[str], None] = print) -> FetchReport:
    """Fetch each classic (all by default) into ``dest/<name>.jpg``; go on past failures.

    With ``mirror`` the files are copied from a local folder, otherwise downloaded from
    ``classic_url``. Existing files are kept unless ``force``.
    """
    if max_size <= 0:
        raise NstError(f"--max-size must be positive, got {max_size}")
    unknown = sorted(set(names or []) - set(CLASSICS))
    if unknown:
        raise NstError(f"unknown painting(s) {', '.join(unknown)}; choose from {', '.join(CLASSICS)}")
    if mirror is not None and not mirror.is_dir():
        raise NstError(f"mirror {mirror}: no such folder")
    if dest.exists() and not dest.is_dir():
        raise NstError(f"{dest}: not a folder")
    chosen = [CLASSICS[n] for n in names] if names else list(CLASSICS.values())
    report = FetchReport([], [], [])
    for i, c in enumerate(chosen, 1):
        out = dest / c.filename
        head = f"[{i}/{len(chosen)}] {c.filename}:"
        if out.exists() and not force:
            log(f"{head} exists, skipped (--force to fetch again)")
            report.skipped.append(out)
            continue
        try:
            data, (w, h) = _fetch_one(c, head, mirror=mirror, base_url=base_url, max_size=max_size,
                                      timeout=timeout, log=log)
            write_atomic(out, data)
        except (NstError, OSError) as e:  # OSError: could not write ``out``
            log(f"{head} FAILED")
            report.failures.append(f"{c.title} ({c.filename}): {e}")
            continue
        log(f"{head} saved {out} ({w}x{h}, {len(data) / 1024:.0f} KB)")
        report.fetched.append(out)
    return report


def inventory(folder: Path) -> list[tuple[Path, tuple[int, int] | None, int]]:
    """(path, (W, H) or None if unreadable, bytes) for each image directly in ``folder``."""
    from PIL import Image

    rows = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            with Image.open(path) as img:
                size = img.size
        except Exception:  # noqa: BLE001 -- a listing reports a bad file, it does not stop
            size = None
        rows.append((path, size, path.stat().st_size))
    return rows


def setup(content: Path, styles: Path, *, seed: int = 0, force: bool = False,
          log: Callable[[str], None] = print) -> list[Path]:
    """Export the content photos and paint the generated styles, each only if missing."""
    written = []
    from nst.samples import paintings as painter
    from nst.samples import photos as exporter

    wanted = [content / f"{n}.jpg" for n in exporter.SAMPLES] + [content / "LICENSES.md"]
    if force or not all(p.exists() for p in wanted):
        written += exporter.export_content(content, log=log)
    else:
        log(f"{content}: all {len(exporter.SAMPLES)} photos present")
    missing = [n for n in painter.PAINTERS if force or not (styles / f"{n}.jpg").exists()]
    if missing:
        written += painter.make_styles(styles, seed=seed, names=missing, log=log)
    else:
        log(f"{styles}: all {len(painter.PAINTERS)} generated styles present")
    return written


DEFAULT_VIDEO = Path("content/video/sample.mp4")


def sample_video(source: Path, dest: Path = DEFAULT_VIDEO, *, frames: int = 36, fps: float = 12.0,
                 size: int = 256, seed: int = 0) -> Path:
    """A short H.264 clip made from one photo: ``frames`` frames at ``fps``, ``size`` px on the long side.

    Frame t (0..1) is the crop of ``source`` at zoom ``1 + 0.25 t`` whose centre moves along a line
    whose direction ``seed`` chooses, resized to the video size: a camera pan, so a video stylizer has
    motion to keep steady. Same arguments, same frames. Written atomically (:class:`nst.video.VideoWriter`).
    """
    import numpy as np

    from nst.images import fit_size, load_image, resize
    from nst.video import VideoWriter, even_size

    if frames < 2 or fps <= 0 or size < 16:
        raise NstError(f"sample video: need frames >= 2, fps > 0, size >= 16 (got {frames}, {fps:g}, {size})")
    if dest.suffix.lower() != ".mp4":
        raise NstError(f"{dest}: the sample video is an .mp4")
    photo = load_image(source)
    h, w = photo.shape[:2]
    vw, vh = even_size(*fit_size(h, w, max_size=size)[::-1])
    angle = np.random.default_rng(seed).uniform(0, 2 * np.pi)
    with VideoWriter(dest, fps, (vw, vh)) as out:
        for i in range(frames):
            t = i / (frames - 1)
            zoom = 1 + 0.25 * t
            ch, cw = h / zoom, w / zoom
            cy = h / 2 + (t - 0.5) * (h - ch) * np.sin(angle)
            cx = w / 2 + (t - 0.5) * (w - cw) * np.cos(angle)
            y0, x0 = int(round(cy - ch / 2)), int(round(cx - cw / 2))
            crop = photo[max(0, y0):y0 + int(ch), max(0, x0):x0 + int(cw)]
            out.write(np.clip(resize(crop, vh, vw), 0, 255).round().astype(np.uint8))
    return dest
