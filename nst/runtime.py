"""Process-wide TensorFlow set-up: a quiet import, the devices, seeds, threads, precision."""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import random
import re
import sys
import tempfile

import numpy as np

from nst.common_options import PRECISIONS
from nst.errors import NstError

# What TensorFlow's C++ side prints on import before absl logging is set up; TF_CPP_MIN_LOG_LEVEL
# does not reach it (TF 2.20+). Only these lines are dropped: oneDNN itself stays on.
# On a machine without a GPU the CUDA-capable `tensorflow` wheel adds its failed CUDA probe; the device
# line below says "CPU only" instead (and what to check when an NVIDIA driver is there).
STARTUP_NOISE = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    r"|^I\d{4} [\d:. ]+\d+ (port|cpu_feature_guard)\.cc:\d+\] "
    r"|^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$"
    r"|^[IWE]\d{4} [\d:. ]+\d+ (cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_(dnn|fft|blas)\.cc:\d+\] Unable to register"
    r"|computation_placer\.cc:\d+\] computation placer already registered)")


@contextlib.contextmanager
def filtered_stderr(drop: re.Pattern = STARTUP_NOISE):
    """Capture file descriptor 2 (C++ writes too) for the block, then replay every line ``drop`` does not match."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines() if not drop.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Meta-path finder: the first ``import tensorflow`` runs inside :func:`filtered_stderr`, then says the devices."""

    def __init__(self, announce: bool) -> None:
        self.announce = announce

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        load, announce = spec.loader.exec_module, self.announce

        def exec_module(module):
            with filtered_stderr():
                load(module)
                sys.modules[name] = module  # describe_devices imports it
                devices = describe_devices()  # probes the devices now, inside the filter
            if announce:
                print(f"nst: TensorFlow {module.__version__} on {devices}", file=sys.stderr, flush=True)

        spec.loader.exec_module = exec_module
        return spec


def quiet_tensorflow(announce: bool = True, pixels: int | None = None) -> None:
    """Set TensorFlow up before its first import: its C++ log level (errors only), oneDNN for this CPU and work
    size (:func:`nst.onednn.choose`, ``pixels`` as there), its start-up lines (absl, oneDNN, CPU features)
    dropped, and which devices it will run on said (``announce``). The environment is set even if TensorFlow
    is already imported (child processes read it); the rest then does nothing."""
    from nst import onednn

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ INFO and WARNING lines: our own lines say what matters
    onednn.choose(pixels=pixels)
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow(announce))


def describe_devices() -> str:
    """"GPU 0 (NVIDIA H200), CPU (16 cores); --precision auto: bfloat16" or "CPU only (2 cores, AVX512_BF16);
    --precision auto: bfloat16": what TensorFlow will use (", oneDNN off" or ", oneDNN on" added where
    ``TF_ENABLE_ONEDNN_OPTS`` says so: :mod:`nst.onednn`), and what ``--precision auto`` computes in."""
    import tensorflow as tf

    gpus = []
    for i, gpu in enumerate(tf.config.list_physical_devices("GPU")):
        try:
            name = tf.config.experimental.get_device_details(gpu).get("device_name") or gpu.name
        except Exception:  # noqa: BLE001 -- a description is never worth a crash
            name = gpu.name
        gpus.append(f"GPU {i} ({name})")
    onednn = {"0": ", oneDNN off", "1": ", oneDNN on"}.get(os.environ.get("TF_ENABLE_ONEDNN_OPTS", ""), "")
    cores = f"{os.cpu_count()} cores{', AVX512_BF16' if cpu_has_bf16() else ''}{onednn}"
    auto = f"; --precision auto: {auto_precision(bool(gpus))}"
    if gpus:
        return ", ".join(gpus + [f"CPU ({cores})"]) + auto
    if not _has_nvidia():
        return f"CPU only ({cores}){auto}"
    built = getattr(tf.test, "is_built_with_cuda", lambda: False)()
    hint = ("an NVIDIA driver is loaded but TensorFlow sees no GPU: check `nvidia-smi`, and install with the "
            "`gpu` extra: pip install -e \".[gpu]\"") if built else \
        "this TensorFlow has no CUDA support: install with the `gpu` extra: pip install -e \".[gpu]\""
    return f"CPU only ({cores}){auto}; {hint}"


def _has_nvidia() -> bool:
    """An NVIDIA driver is loaded (so a GPU is there that this TensorFlow build may not use)."""
    return os.path.exists("/proc/driver/nvidia/version")


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


def auto_precision(gpu: bool) -> str:
    """What ``--precision auto`` computes in: bfloat16 with a GPU or a CPU with AVX512_BF16/AMX, else float32."""
    return "bfloat16" if gpu or cpu_has_bf16() else "float32"


def resolve_precision(precision: str) -> str:
    """``--precision`` as a dtype name: ``auto`` is :func:`auto_precision` (the device line says which);
    the others are themselves."""
    if precision not in PRECISIONS:
        raise NstError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    import tensorflow as tf

    return auto_precision(bool(tf.config.list_physical_devices("GPU")))


def compute_dtype(precision: str):
    """TF dtype for ``--precision``: float32; bfloat16 (fast only with AVX512_BF16/AMX or a GPU;
    emulated and many times slower on AVX2-only CPUs, so we warn); float16 (GPUs); auto
    (:func:`resolve_precision`)."""
    import warnings

    import tensorflow as tf

    precision = resolve_precision(precision)
    if precision == "bfloat16" and not tf.config.list_physical_devices("GPU") and not cpu_has_bf16():
        warnings.warn("this CPU has no AVX512_BF16/AMX: bfloat16 is emulated and much slower than float32")
    return tf.as_dtype(precision)
