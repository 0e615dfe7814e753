"""The float32 loss of a run that steps in another precision (``--precision bfloat16``).

Such a run evaluates VGG in bfloat16, so the losses its steps see are those of bfloat16 activations.
What it prints and logs as ``loss/*``, and what the benchmarks compare with neural-style, is instead
the float32 loss of its (float32) image: a float32 *twin* of the built ``StyleTransfer`` (a shallow
copy, the same images and settings, built again with ``precision="float32"``: its own input
variable, a float32 VGG, float32 targets P and A) evaluates the run's current image::

    L32(x) = twin.total_loss() with twin.input_img = x
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any


def float32_twin(st: Any) -> Any | None:
    """A float32 twin of the built ``st``, or None when ``st`` already computes in float32.

    The twin writes no TensorBoard log and no checkpoint (``logdir`` and ``run_dir`` None)."""
    from nst.runtime import resolve_precision

    if resolve_precision(st.config.precision) == "float32":
        return None
    twin = copy.copy(st)
    twin.config = dataclasses.replace(st.config, precision="float32", logdir=None, run_dir=None)
    twin.build()
    return twin


def float32_losses(twin: Any, st: Any) -> dict[str, Any]:
    """``twin.total_loss()`` at ``st``'s current image: the float32 terms (unweighted) and ``total``
    (:func:`nst.gatys.optimize.weighted` gives them as printed)."""
    twin.input_img.assign(st.input_img)
    return twin.total_loss()
