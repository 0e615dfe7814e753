"""Choose TensorFlow's oneDNN setting before TensorFlow is imported (the million-pixel cliff).

TensorFlow hands oneDNN plain NHWC tensors. With AVX512 oneDNN runs them with its brgemm
kernels (fast at every size). On an AVX2-only CPU its direct AVX2 kernels need blocked layouts,
so it falls back to ``x64:gemm:jit`` (im2col + sgemm), which slows down sharply with the spatial
size: a 128-channel 3x3 convolution (VGG's conv2_2) took 1.4 s at 400x400, 4.8 s at 448x448 and
over 40 s at 480x480 (measured on an AVX512 EPYC with ``ONEDNN_MAX_CPU_ISA=AVX2``), where
TensorFlow's own Eigen kernels take 0.4-0.7 s. A Gatys step at 512x384 costs about the same
either way (1.62 s with oneDNN, 1.74 s without). So on x86 CPUs without AVX512, nst switches
oneDNN off (``TF_ENABLE_ONEDNN_OPTS=0``) unless the user has set it.
"""
from __future__ import annotations

import os
import platform


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


def choose(environ=os.environ, flags: set[str] | None = None) -> str | None:
    """Set ``TF_ENABLE_ONEDNN_OPTS=0`` on x86 CPUs where oneDNN lacks AVX512 (see module doc); return what was set."""
    if "TF_ENABLE_ONEDNN_OPTS" in environ or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    if onednn_has_avx512(flags, environ):
        return None
    environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    return "0"
