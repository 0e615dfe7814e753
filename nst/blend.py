"""Blend weights of several styles: one rule for the three methods' ``--style-weights``.

    w_i >= 0 (finite), sum_i w_i > 0, used as w_i / sum_j w_j (equal weights when none are given)

Part 1 blends the style losses of several paintings, part 2 the conditional instance norm rows
of several styles, part 3 the style embeddings of several paintings (the papers' convex
combinations).
"""
from __future__ import annotations

import math

from nst.errors import NstError


def normalised(weights: list[float] | tuple[float, ...] | None, n: int, what: str = "style(s)") -> list[float]:
    """``weights`` / their sum, checked against ``n`` styles (``what`` names them in the error)."""
    if weights is None:
        return [1.0 / n] * n
    weights = [float(w) for w in weights]
    if len(weights) != n:
        raise NstError(f"{n} {what} but {len(weights)} --style-weights")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        raise NstError("--style-weights must be non-negative and not all zero")
    return [w / sum(weights) for w in weights]
