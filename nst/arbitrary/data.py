"""Training data: (content, style) batches of random crops from two sets of image folders.

Element k of the stream (k = step * batch_size + j) draws its content file, style file,
rescale, crop and flip from stateless random ops seeded by (seed, k): the stream depends
only on the seed and the step, so a run resumed at step s sees exactly the batches an
uninterrupted run would, on any number of devices. With ``shard=(w, W)`` (W workers) worker
w reads only elements ``j * B/W`` .. ``(j+1) * B/W - 1`` of every global batch: its slice.
"""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from nst.errors import NstError
from nst.images import list_images
from nst.weights import MEAN_RGB


def collect_images(folders, exclude=()) -> list[str]:
    """Image files directly in ``folders`` (or given as files; missing ones are an error), minus ``exclude``."""
    exclude = {Path(e).name for e in exclude}
    paths: list[str] = []
    for folder in folders:
        found = [Path(folder)] if Path(folder).is_file() else list_images(folder)
        paths += [str(p) for p in found if p.name not in exclude and p.stem not in exclude]
    if not paths:
        raise NstError(f"no images found in {', '.join(map(str, folders))}")
    return paths


def _load(path: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.cast(image, tf.float32)


def random_crop(image: tf.Tensor, seed: tf.Tensor, crop: int, scale_range: tuple[int, int]) -> tf.Tensor:
    """Resize the shorter side to a random length in ``scale_range``, crop ``crop`` x ``crop``, maybe flip."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    side = tf.random.stateless_uniform([], seeds[0], scale_range[0], scale_range[1] + 1, dtype=tf.int32)
    scale = tf.cast(side, tf.float32) / tf.reduce_min(shape)
    size = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), crop)
    image = tf.image.resize(image, size, antialias=True)
    image = tf.image.stateless_random_crop(image, [crop, crop, 3], seeds[1])
    image = tf.image.stateless_random_flip_left_right(image, seeds[2])
    return tf.clip_by_value(image, 0.0, 255.0) - MEAN_RGB


def make_dataset(content_paths: list[str], style_paths: list[str], *, batch_size: int, crop: int = 256,
                 scale_range: tuple[int, int] = (256, 512), style_scale_range: tuple[int, int] | None = None,
                 seed: int = 0, start_step: int = 0, steps: int | None = None,
                 shard: tuple[int, int] = (0, 1)) -> tf.data.Dataset:
    """Batches ``(content, style)`` of shape (batch_size / W, crop, crop, 3), RGB minus MEAN_RGB.

    Yields ``steps - start_step`` batches (endless when ``steps`` is None); ``shard=(w, W)``:
    worker w's slice of each global batch of ``batch_size`` (W = 1: the whole batch).
    """
    from nst.distribute import worker_batch

    index, count = shard
    per = worker_batch(batch_size, count)
    if min(scale_range) < crop:
        raise NstError(f"scale_range {scale_range} must not go below the crop size {crop}")
    contents, styles = tf.constant(content_paths), tf.constant(style_paths)
    style_scale_range = style_scale_range or scale_range

    def element(k):
        seeds = tf.random.experimental.stateless_split(tf.stack([tf.cast(seed, tf.int64), k]), 4)
        ci = tf.random.stateless_uniform([], seeds[0], 0, len(content_paths), dtype=tf.int32)
        si = tf.random.stateless_uniform([], seeds[1], 0, len(style_paths), dtype=tf.int32)
        content = random_crop(_load(contents[ci]), seeds[2], crop, scale_range)
        style = random_crop(_load(styles[si]), seeds[3], crop, style_scale_range)
        return content, style

    first = start_step * batch_size
    last = None if steps is None else steps * batch_size
    ds = tf.data.Dataset.range(first, last) if last is not None else tf.data.Dataset.range(first, 2**62)
    if count > 1:
        ds = ds.filter(lambda k: (k % batch_size) // per == index)
    ds = ds.map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(per, drop_remainder=True).prefetch(2)
