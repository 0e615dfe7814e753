"""Regenerate tests/reference/multistyle.npz: part 2's conditional instance norm and the
published multi-style network, computed by solutions/.

    python tests/reference/make_multistyle.py

Inputs: tests/multistyle_cases.py (seeded arrays; the repository's chelsea.jpg). The published
weights come from `nst weights fetch magenta-multistyle`. The course repository's test_fast_published.py checks
these outputs against NumPy (the CIN) and against onnxruntime on the published graph (the images).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from multistyle_cases import cin_inputs, make_cin, published_inputs, run_published  # noqa: E402


def main() -> None:
    import tensorflow as tf

    from solutions import transformer_net

    x = cin_inputs()
    out = dict(x)
    out["cin_out"] = make_cin(transformer_net, x)(tf.constant(x["cin_in"]), tf.constant(x["cin_weights"])).numpy()
    for key, image in run_published(transformer_net, published_inputs(REPO)).items():
        out[f"published_{key}"] = image.astype(np.float32)
    dest = Path(__file__).with_name("multistyle.npz")
    np.savez_compressed(dest, **out)
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(out)} arrays)")


if __name__ == "__main__":
    main()
