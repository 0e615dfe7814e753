"""Benchmarks: Gatys s/iteration against an eager baseline, the CPU's own ceiling, memory, inference.

``python -m benchmarks`` (or ``nst bench``) prints one table and writes JSON. Every timed
configuration runs in its own worker process (so its peak RSS is its own), and the
workers take turns, a few iterations each, round after round: on a shared machine the
ratios between paths measured this way are stable even when absolute times are not.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # solutions/ is not installed: nst.impl.load finds it beside this package

# oneDNN is TensorFlow's default on x86 Linux (and so what nst runs); set it explicitly so the
# ceiling convolution in this process and the workers agree. Must be set before TF is imported.
USER_ONEDNN = os.environ.get("TF_ENABLE_ONEDNN_OPTS")  # the user's own setting (grading.py runs with it)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from nst.runtime import quiet_tensorflow

quiet_tensorflow()  # as the nst commands: TensorFlow's start-up lines dropped, the device line said


def shared_images() -> Path:
    """``../shared/images`` beside the checkout, or ``$NST_SHARED_IMAGES``."""
    return Path(os.environ.get("NST_SHARED_IMAGES") or REPO.parent / "shared" / "images")

