"""Training photos as a tf.data pipeline: decode in parallel, resize, crop, batch, prefetch.

The stream is a pure function of ``(seed, k)``: element k is file ``perm_e[k mod n]`` of
epoch ``e = k // n`` (``perm_e`` a permutation drawn from ``(seed, e)``), cropped at a
position drawn from ``(seed, k)``. So an interrupted run resumes exactly where it stopped by
starting the stream at the saved k, without replaying earlier images.

Decoding uses Pillow inside ``tf.numpy_function`` (Pillow releases the GIL, and JPEG
draft mode decodes large photos at reduced size, which is what makes MS-COCO fast): a file
that cannot be read is skipped, counted in ``ContentImages.skipped`` and reported once.

Augmentation (off by default; on in the CPU configs, where a handful of photos must stand in
for MS-COCO): ``scale_range=(lo, hi)`` resizes each photo so its shorter side is a size drawn
uniformly from ``lo..hi`` px before the ``image_size`` crop (a random zoom: ``lo = image_size``
keeps the whole shorter side, larger values crop details), and ``flip`` mirrors half the crops
left-right. Both draws come from the same ``(seed, k)`` generator, so resuming stays exact.
"""
from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps

from nst.errors import NstError
from nst.images import IMAGE_SUFFIXES


def find_images(folders, exclude=()) -> list[Path]:
    """Image files (by suffix) anywhere under the given folders, sorted; a clear error if none.

    ``exclude``: file names (``chelsea.jpg``) left out, e.g. photos held out for evaluation;
    a name that matches no file is an error (a typo would silently train on the held-out photo).
    """
    folders = [Path(folders)] if isinstance(folders, (str, Path)) else [Path(f) for f in folders]
    files: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            raise NstError(f"content_dir {folder}: no such folder")
        files += [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    exclude = set(exclude or ())
    unmatched = sorted(exclude - {p.name for p in files})
    if unmatched:
        raise NstError(f"exclude_content: {', '.join(unmatched)} not found in {', '.join(map(str, folders))}")
    files = [p for p in files if p.name not in exclude]
    if not files:
        raise NstError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {', '.join(map(str, folders))}")
    return sorted(files)


def load_crop(path: Path, size: int, rng: np.random.Generator, scale_range: tuple[int, int] | None = None,
              flip: bool = False) -> np.ndarray:
    """Shorter side resized to ``s`` (aspect kept), then a random ``size`` x ``size`` crop: uint8.

    ``s = size``, or drawn uniformly from ``scale_range = (lo, hi)`` (``size <= lo <= hi``);
    with ``flip`` the crop is mirrored left-right with probability 1/2.
    """
    short = size if scale_range is None else int(rng.integers(scale_range[0], scale_range[1] + 1))
    with Image.open(path) as img:
        img.draft("RGB", (short, short))  # JPEG: decode at 1/2, 1/4, 1/8 scale when that is enough
        img = ImageOps.exif_transpose(img).convert("RGB")
        w, h = img.size
        scale = short / min(w, h)
        nw, nh = max(short, round(w * scale)), max(short, round(h * scale))
        img = img.resize((nw, nh), Image.BILINEAR, reducing_gap=2.0)
        x, y = rng.integers(0, nw - size + 1), rng.integers(0, nh - size + 1)
        crop = np.asarray(img.crop((x, y, x + size, y + size)), dtype=np.uint8)
    if flip and rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


class ContentImages:
    """``dataset(start)``: batches (B, size, size, 3) float32 RGB 0..255 and the index after each batch."""

    def __init__(self, folders, image_size: int = 256, batch_size: int = 4, seed: int = 0, *,
                 exclude=(), scale_range: tuple[int, int] | None = None, flip: bool = False):
        if scale_range is not None:
            lo, hi = (int(v) for v in scale_range)
            if not image_size <= lo <= hi:
                raise NstError(f"scale_range must be [lo, hi] with image_size ({image_size}) <= lo <= hi, "
                               f"got {list(scale_range)}")
            scale_range = (lo, hi)
        self.files = find_images(folders, exclude)
        self.image_size, self.batch_size, self.seed = image_size, batch_size, seed
        self.scale_range, self.flip = scale_range, bool(flip)
        self.skipped: set[str] = set()
        self._lock = threading.Lock()
        self._perms: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.files)

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(len(self.files))}
        return self._perms[epoch]

    def _load(self, k) -> tuple[np.ndarray, bool]:
        k = int(k)
        epoch, i = divmod(k, len(self.files))
        path = self.files[self._perm(epoch)[i]]
        try:
            rng = np.random.default_rng([self.seed, k])
            return load_crop(path, self.image_size, rng, self.scale_range, self.flip), True
        except Exception as e:  # any decoding problem: skip the file, say so once
            with self._lock:
                if str(path) not in self.skipped:
                    self.skipped.add(str(path))
                    warnings.warn(f"skipped unreadable image {path} ({type(e).__name__}: {e})")
                if len(self.skipped) == len(self.files):
                    raise NstError("none of the content images could be read") from None
            return np.zeros((self.image_size, self.image_size, 3), np.uint8), False

    def dataset(self, start: int = 0, shard: tuple[int, int] = (0, 1)) -> tf.data.Dataset:
        """Infinite stream of (images, next_index) from element ``start`` on; ``next_index`` is where
        a resumed run starts (the index after the batch's last element).

        ``shard=(w, W)``: worker w of W reads only the elements k = w (mod W) from ``start`` on, in
        batches of ``batch_size / W``; the W workers' batches together hold the elements one worker
        would batch (the same images when no file is skipped), and no element is read twice.
        """
        from nst.distribute import worker_batch

        index, count = shard
        batch = worker_batch(self.batch_size, count)
        start = int(start) + (index - int(start)) % count
        size = self.image_size

        def load(k):
            image, ok = tf.numpy_function(self._load, [k], (tf.uint8, tf.bool), stateful=False)
            image.set_shape((size, size, 3))
            ok.set_shape(())
            return image, ok, k

        ds = tf.data.Dataset.counter(start, count, dtype=tf.int64)
        ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        ds = ds.filter(lambda image, ok, k: ok)
        ds = ds.batch(batch, drop_remainder=True)
        ds = ds.map(lambda images, ok, k: (tf.cast(images, tf.float32), k[-1] + 1))
        return ds.prefetch(tf.data.AUTOTUNE)
