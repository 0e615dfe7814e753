"""Regenerate tests/reference/fast.npz: inputs and the outputs of solutions/ for part 2.

    python tests/reference/make_fast.py

Inputs are seeded random arrays (tests/fast_cases.py); outputs come from the reference
implementation, so the graded tests compare a student's code with the solution on exactly
these numbers. The loss uses TinyVGG (seeded, no pretrained weights).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fast_cases import TinyNet, TinyVGG, inputs, loss_settings, make_layers, set_norm, tiny_loss  # noqa: E402


def main() -> None:
    import tensorflow as tf

    from solutions import fast_style, transformer_net

    x = inputs()
    out = dict(x)
    layers = make_layers(transformer_net)
    set_norm(layers["norm"], x)
    out["conv9_out"] = layers["conv9"](tf.constant(x["conv_in"])).numpy()
    out["conv3s2_out"] = layers["conv3s2"](tf.constant(x["conv_in"])).numpy()
    out["norm_out"] = layers["norm"](tf.constant(x["norm_in"])).numpy()
    out["res_out"] = layers["res"](tf.constant(x["res_in"])).numpy()
    out["up_out"] = layers["up"](tf.constant(x["up_in"])).numpy()
    out["net_out"] = transformer_net.TransformerNet(seed=0)(tf.constant(x["net_in"])).numpy()
    out["gram_out"] = fast_style.gram_matrix(tf.constant(x["gram_in"])).numpy()

    loss = fast_style.PerceptualLoss(TinyVGG(), x["style_img"], **loss_settings())
    stylized = tf.Variable(x["stylized_batch"])
    with tf.GradientTape(persistent=True) as tape:
        losses = loss(tf.constant(x["content_batch"]), stylized)
    for k, v in losses.items():
        out[f"loss_{k}"] = v.numpy()
        out[f"grad_{k}"] = tape.gradient(v, stylized).numpy()   # d(term)/d(stylized), per term

    net = TinyNet(x["step_kernel"])
    opt = tf.keras.optimizers.SGD(learning_rate=0.5)
    losses = fast_style.train_step(net, tiny_loss, opt, tf.constant(x["step_in"]), grad_scale=0.5)
    for k, v in losses.items():
        out[f"step_{k}"] = v.numpy()
    out["step_kernel_after"] = net.kernel.numpy()
    out["step_bias_after"] = net.bias.numpy()

    dest = Path(__file__).with_name("fast.npz")
    np.savez_compressed(dest, **out)
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(out)} arrays)")


if __name__ == "__main__":
    main()
