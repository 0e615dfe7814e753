"""Images, folders and videos through any per-batch stylizer: the one media pipeline.

A subclass sets ``max_size``, ``batch_size`` and ``tag`` (the name suffix of outputs) and
implements ``stylize(images)``: (B, H, W, 3) RGB 0..255 float32 -> the same shape.
``run(inputs, output)`` plans every output first (a folder, or one image path) (so a bad input fails before any work),
then writes each image or mp4 (input fps and frame count, :mod:`nst.video`) atomically.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from nst.errors import NstError
from nst.images import (
    IMAGE_SUFFIXES,
    check_output_image,
    fit_size,
    load_image,
    resize,
    save_image,
)
from nst.video import VIDEO_SUFFIXES, VideoWriter, batches, even_size, read_video


class MediaStylizer:
    """Base class: ``stylize`` a batch; ``run`` does files, folders and videos."""

    max_size: int | None = None
    batch_size: int = 4
    tag: str = "stylized"

    def stylize(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _size(self, h: int, w: int) -> tuple[int, int]:
        return fit_size(h, w, max_size=self.max_size) if self.max_size else (h, w)

    def stylize_image(self, src: Path, dest: Path) -> Path:
        image = load_image(src)
        image = resize(image, *self._size(*image.shape[:2]))
        return save_image(self.stylize(image[None])[0], dest)

    def stylize_video(self, src: Path, dest: Path, max_frames: int | None = None) -> Path:
        """mp4 out with the input's fps and frame count; frames resized to an even size."""
        info, frames = read_video(src, max_frames)
        w, h = info["size"]
        h, w = self._size(h, w)
        w, h = even_size(w, h)
        with VideoWriter(dest, info["fps"], (w, h)) as writer:
            bar = _bar(info["frames"], src.name)
            for batch in batches(frames, self.batch_size):
                if batch.shape[1:3] != (h, w):
                    batch = np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.LANCZOS)) for f in batch])
                for frame in self.stylize(batch):
                    writer.write(np.round(frame).astype(np.uint8))
                bar.update(len(batch))
            bar.close()
        if writer.frames == 0:
            raise NstError(f"{src}: no frames could be read")
        return dest

    def run(self, inputs: Sequence[str | Path], output: str | Path, max_frames: int | None = None) -> Iterator[Path]:
        """Stylize every input (images, videos, folders of them) into ``output`` (:func:`plan`); yield each output."""
        jobs = plan(inputs, output, self.tag)
        for src, dest in jobs:
            if src.suffix.lower() in VIDEO_SUFFIXES:
                yield self.stylize_video(src, dest, max_frames)
            else:
                yield self.stylize_image(src, dest)



OUTPUT_IMAGE = (".png", ".jpg", ".jpeg")   # -o ending in one of these: that file, for one input image


def plan(inputs: Sequence[str | Path], output: str | Path, tag: str) -> list[tuple[Path, Path]]:
    """(source, destination) pairs, all checked before any work: a bad input fails fast.

    ``output`` is a folder (each input ``x.jpg`` becomes ``<output>/x_<tag>.jpg``, a video ``.mp4``)
    or, for exactly one input image, an image path ending in .png or .jpg (the same ``-o`` for
    ``nst stylize``, ``nst fast stylize`` and ``nst arbitrary stylize``).
    """
    output = Path(output)
    if output.suffix.lower() in OUTPUT_IMAGE:
        sources = [Path(p) for p in inputs]
        if len(sources) != 1 or sources[0].is_dir() or sources[0].suffix.lower() not in IMAGE_SUFFIXES:
            raise NstError(f"-o {output}: an image path takes exactly one input image; give a folder instead")
        if not sources[0].is_file():
            raise NstError(f"{sources[0]}: no such file or folder")
        check_output_image(output)
        return [(sources[0], output)]
    if output.exists() and not output.is_dir():
        raise NstError(f"-o {output}: exists and is not a folder")
    blocked = next((p for p in output.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise NstError(f"-o {output}: {blocked} is a file, not a folder")
    known = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in known)
            if not found:
                raise NstError(f"{item}: no images or videos in this folder")
            files += found
        elif not item.exists():
            raise NstError(f"{item}: no such file or folder")
        elif item.suffix.lower() not in known:
            raise NstError(f"{item}: unknown file type {item.suffix!r}; expected an image or {', '.join(sorted(VIDEO_SUFFIXES))}")
        else:
            files.append(item)
    jobs = []
    for src in files:
        suffix = ".mp4" if src.suffix.lower() in VIDEO_SUFFIXES else (
            src.suffix if src.suffix.lower() in {".jpg", ".jpeg", ".png"} else ".png")
        jobs.append((src, output / f"{src.stem}_{tag}{suffix}"))
    return jobs


class _bar:
    """tqdm on a terminal, nothing otherwise (the caller prints each output path)."""

    def __init__(self, total: int, desc: str):
        self.tqdm = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            self.tqdm = tqdm(total=total, desc=desc, unit="frame")

    def update(self, n: int) -> None:
        if self.tqdm is not None:
            self.tqdm.update(n)

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()
