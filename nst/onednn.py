"""Choose TensorFlow's oneDNN setting before TensorFlow is imported (the million-pixel cliff).

TensorFlow hands oneDNN plain NHWC tensors. With AVX512 oneDNN runs them with its brgemm
kernels (fast at every size). On an AVX2-only CPU its direct AVX2 kernels need blocked layouts,
so it falls back to ``x64:gemm:jit`` (im2col + sgemm), which slows down sharply with the spatial
size: a 128-channel 3x3 convolution (VGG's conv2_2) took 1.4 s at 400x400, 4.8 s at 448x448 and
over 40 s at 480x480 (measured on an AVX512 EPYC with ``ONEDNN_MAX_CPU_ISA=AVX2``), where
TensorFlow's own Eigen kernels take 0.4-0.7 s. A Gatys step at 512x384 costs about the same
either way (1.62 s with oneDNN, 1.74 s without). So on x86 CPUs without AVX512, nst switches
oneDNN off (``TF_ENABLE_ONEDNN_OPTS=0``) unless the user has set it, or the command says its work
stays small: below the cliff oneDNN is the faster one. A part 2 training step (256 px crops, batch
2, VGG16 loss, ``conf/the_scream_norm.yml``) took 1.89 s with oneDNN and 3.00 s without on a 2-core
AVX2-only EPYC, so ``nst fast train`` switches it on (``=1``: TensorFlow leaves it off by default on
such CPUs) for crops up to :data:`SMALL_WORK_PIXELS`.
The choice is made by :func:`nst.runtime.quiet_tensorflow` (the commands, the notebooks, the
student's pytest), never by importing ``nst``.
"""
from __future__ import annotations

import os
import platform

SMALL_WORK_PIXELS = 256 * 256  # the largest measured size where oneDNN's AVX2 path was faster (module doc)


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def onednn_has_avx512(flags: set[str] | None = None, environ=os.environ) -> bool:
    """True when oneDNN may use AVX512 here: the CPU has avx512f and ONEDNN_MAX_CPU_ISA does not cap it lower."""
    cap = (environ.get("ONEDNN_MAX_CPU_ISA") or environ.get("DNNL_MAX_CPU_ISA") or "ALL").upper()
    capped = not (cap == "ALL" or cap.startswith("AVX512") or cap.startswith("AVX10") or cap.startswith("AMX"))
    return "avx512f" in (cpu_flags() if flags is None else flags) and not capped


def choose(environ=os.environ, flags: set[str] | None = None, pixels: int | None = None) -> str | None:
    """Set ``TF_ENABLE_ONEDNN_OPTS=0`` on x86 CPUs where oneDNN lacks AVX512 (see module doc); return what was set.

    ``pixels``: the largest image a step's convolutions see, when the command knows it before TensorFlow
    is imported; at most :data:`SMALL_WORK_PIXELS` sets ``TF_ENABLE_ONEDNN_OPTS=1`` (TensorFlow's own default
    is off on CPUs without AVX512_VNNI, AVX512_BF16 or AMX). ``None``: unknown, so guard the cliff.
    """
    if "TF_ENABLE_ONEDNN_OPTS" in environ or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    if onednn_has_avx512(flags, environ):
        return None
    environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if pixels is not None and pixels <= SMALL_WORK_PIXELS else "0"
    return environ["TF_ENABLE_ONEDNN_OPTS"]
