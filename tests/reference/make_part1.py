"""Regenerate tests/reference/part1.npz: inputs and the reference outputs of solutions/ for part 1.

    python tests/reference/make_part1.py

Inputs are seeded random arrays; outputs come from the reference implementation, so the
graded tests compare a student's code with the solution on exactly these numbers.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from part1_cases import build_tiny, conv_weights, inputs  # noqa: E402


def main() -> None:
    import tensorflow as tf

    from solutions import load_vgg, style_transfer

    x = inputs()
    out = dict(x)
    vgg = load_vgg.VGG(conv_weights())
    out["conv_out"] = vgg.conv2d_relu(tf.constant(x["conv_in"]), "conv1_1").numpy()
    out["pool_out"] = vgg.avgpool(tf.constant(x["pool_in"]), "avgpool1").numpy()
    st = style_transfer.StyleTransfer.__new__(style_transfer.StyleTransfer)
    st.style_layer_w = list(x["layer_w"])
    out["content_loss"] = st._content_loss(tf.constant(x["P"]), tf.constant(x["F"])).numpy()
    out["gram"] = st._gram_matrix(tf.constant(x["feat"]), 6, 20).numpy()
    out["single_style"] = st._single_style_loss(tf.constant(x["a"]), tf.constant(x["g"])).numpy()
    out["style_loss"] = st._style_loss([tf.constant(a) for a in x["A_list"]],
                                        [tf.constant(g) for g in x["G_list"]]).numpy()
    st = build_tiny(style_transfer)
    out["initial"] = st.input_img.numpy()      # the image the loss and the step start from
    with tf.GradientTape(persistent=True) as tape:
        losses = st.total_loss()
    for k, v in losses.items():
        out[f"loss_{k}"] = v.numpy()
        out[f"grad_{k}"] = tape.gradient(v, st.input_img).numpy()   # per term, unweighted
    st.train_step()
    out["after_step"] = st.input_img.numpy()
    np.savez_compressed(REPO / "tests" / "reference" / "part1.npz", **out)
    print("wrote tests/reference/part1.npz")


if __name__ == "__main__":
    main()
