"""Regenerate tests/reference/arbitrary.npz from solutions/arbitrary.py.

    python tests/reference/make_arbitrary.py

Inputs are drawn from a fixed NumPy seed and stored with the outputs, so the tests do not
depend on any random generator. Tests compare with rtol=1e-4, atol=1e-4 (float32).
``published_*``: the published model (``nst weights fetch magenta-arbitrary``) around the
solution, on content/chelsea.jpg (128 px) and styles/swirls.jpg; ``published_out`` is its
float32 image before rounding (0..255). The values are also checked against independent NumPy
formulas and Magenta's graphs in onnxruntime in the course repository's test_arbitrary_references.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from arbitrary_cases import build_head, inputs, loss_args, run_published  # noqa: E402


def main() -> None:
    from solutions import arbitrary

    d = inputs()
    out = dict(d)
    out["cin_out"] = arbitrary.conditional_instance_norm(d["cin_x"], d["cin_gamma"], d["cin_beta"]).numpy()
    out["cin_flat_out"] = arbitrary.conditional_instance_norm(d["cin_x_flat"], d["cin_gamma"], d["cin_beta"]).numpy()
    head = build_head(arbitrary, d)
    out["embed_out"] = head.embed([d["feat0"], d["feat1"]]).numpy()
    for name, (g, b) in head.norm_params(d["embedding"]).items():
        out[f"params_{name}_gamma"], out[f"params_{name}_beta"] = g.numpy(), b.numpy()
    for tv in (0.0, 0.5):
        losses = arbitrary.transfer_loss(*loss_args(d), content_weight=2.0, style_weight=30.0, tv_weight=tv,
                                         style_layer_weights={"s1": 0.25, "s2": 4.0})
        for k, v in losses.items():
            out[f"loss_tv{tv}_{k}"] = np.float32(v)
    out["published_z"], out["published_out"] = run_published(arbitrary, REPO)
    np.savez(Path(__file__).with_name("arbitrary.npz"), **out)
    print("wrote", Path(__file__).with_name("arbitrary.npz"))


if __name__ == "__main__":
    main()
