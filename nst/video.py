"""Video in and out through imageio-ffmpeg (a static ffmpeg binary from PyPI).

``read_video(path)`` -> (info, frames): info has ``fps``, ``size`` (W, H) and ``frames``
(counted), frames is an iterator of uint8 (H, W, 3). ``VideoWriter`` writes H.264 mp4
(yuv420p, so width and height must be even) at a given frame rate to a temp file in the
destination folder and renames it into place on success, so an interrupted run never
leaves half a video. ``batches(frames, n)`` groups frames so a network runs on n at once.
Audio is not carried over.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from nst.atomic import atomic_path
from nst.errors import NstError

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[dict, Iterator[np.ndarray]]:
    """Open a video: ({"fps", "size": (W, H), "frames"}, iterator of uint8 (H, W, 3) frames)."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise NstError(f"{path}: no such video file")
    try:
        count, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as e:
        raise NstError(f"{path}: cannot read video ({str(e).strip().splitlines()[-1] if str(e).strip() else e})") from None
    w, h = meta["size"]
    if max_frames is not None:
        count = min(count, max_frames)
    info = {"fps": float(meta["fps"]), "size": (w, h), "frames": count}

    def frames() -> Iterator[np.ndarray]:
        try:
            for raw in itertools.islice(reader, count):
                yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
        finally:
            reader.close()

    return info, frames()


def batches(frames: Iterable[np.ndarray], n: int) -> Iterator[np.ndarray]:
    """Stack consecutive frames into arrays of up to ``n`` (the last one may be shorter)."""
    it = iter(frames)
    while chunk := list(itertools.islice(it, n)):
        yield np.stack(chunk)


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sides: round each down to even (at least 2)."""
    return max(2, width - width % 2), max(2, height - height % 2)


class VideoWriter:
    """``with VideoWriter(path, fps, (W, H)) as w: w.write(frame)``; the file appears only on success."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], quality: float = 7.0):
        self.path, self.fps, self.size, self.quality = Path(path), float(fps), tuple(size), quality
        if self.size != even_size(*self.size):
            raise NstError(f"video size {self.size[0]}x{self.size[1]} must be even on both sides (H.264, yuv420p)")
        self.frames = 0

    def __enter__(self) -> "VideoWriter":
        import imageio_ffmpeg

        self._atomic = atomic_path(self.path, suffix=self.path.suffix or ".mp4")
        self.tmp = str(self._atomic.__enter__())
        self.writer = imageio_ffmpeg.write_frames(
            self.tmp, self.size, fps=self.fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            quality=self.quality, macro_block_size=1, ffmpeg_log_level="error")
        self.writer.send(None)  # start ffmpeg
        return self

    def write(self, frame: np.ndarray) -> None:
        """One uint8 (H, W, 3) frame of the writer's size."""
        if frame.shape != (self.size[1], self.size[0], 3):
            raise NstError(f"frame of shape {frame.shape} does not fit a {self.size[0]}x{self.size[1]} video")
        self.writer.send(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        self.frames += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.writer.close()
        except BaseException as e:
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise
        self._atomic.__exit__(exc_type, exc, tb)   # renamed into place only when nothing failed
