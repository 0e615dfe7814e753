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


def cpu_has_bf16() -> bool:
    """True when the CPU has native bfloat16 instructions (AVX512_BF16 or AMX), read from /proc/cpuinfo."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def compute_dtype(precision: str):
    """TF dtype for ``--precision``: float32; bfloat16 (fast only with AVX512_BF16/AMX or a GPU;
    emulated and many times slower on AVX2-only CPUs, so we warn); float16 (GPUs)."""
    import warnings

    import tensorflow as tf

    if precision not in PRECISIONS:
        raise NstError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bfloat16" and not tf.config.list_physical_devices("GPU") and not cpu_has_bf16():
        warnings.warn("this CPU has no AVX512_BF16/AMX: bfloat16 is emulated and much slower than float32")
    return tf.as_dtype(precision)
