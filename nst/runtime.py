"""Process-wide TensorFlow set-up: seeds, threads, precision."""
from __future__ import annotations

import os
import random

import numpy as np

from nst.errors import NstError

PRECISIONS = ("float32", "bfloat16", "float16")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow; make TF ops deterministic where it can."""
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)


def configure_threads(intra: int | None = None, inter: int | None = None) -> None:
    """Intra-op threads default to the core count, inter-op to 2 (the graphs are chains)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra or os.cpu_count() or 1)
        tf.config.threading.set_inter_op_parallelism_threads(inter or 2)
    except RuntimeError:
        pass  # already initialised in this process: keep what is set


def compute_dtype(precision: str):
    """TF dtype for ``--precision``: float32, bfloat16 (fast on AVX512_BF16 CPUs), float16 (GPUs)."""
    import tensorflow as tf

    if precision not in PRECISIONS:
        raise NstError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return tf.as_dtype(precision)
