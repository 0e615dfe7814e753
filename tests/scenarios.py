"""Whole-object steps of the graded tests, run where the student code is.

Under ``nst grade`` a test calls ``scenario(fn, "module", ..., **inputs)`` and ``fn`` runs in the
sandboxed worker with the student's modules (a gradient tape over student code, a training
step, a Keras model built from student layers); it returns plain data (numpy arrays, numbers,
None, dicts and lists of them) and the test compares that with the reference in the judge.
Under a plain ``pytest`` the same function runs in-process. Inputs only come in; the
reference values never leave the judge.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def _np(x):
    return None if x is None else np.asarray(x)


# ---------------------------------------------------------------------------- part 1
def total_loss_and_gradients(style_transfer) -> dict:
    """Each loss term of the tiny StyleTransfer and its gradient with respect to the input image."""
    from part1_cases import build_tiny

    st = build_tiny(style_transfer)
    with tf.GradientTape(persistent=True) as tape:
        losses = st.total_loss()
    out = {"losses": {k: _np(v) for k, v in losses.items()}, "grads": {}}
    for k in ("content", "style", "tv", "total"):
        if k in losses:
            out["grads"][k] = _np(tape.gradient(losses[k], st.input_img))
    return out


# ---------------------------------------------------------------------------- part 2
def transformer_net_range_and_gradients(tn, net_in) -> dict:
    """TransformerNet(seed=1)'s variable shapes, its output with the last bias pushed to +-600, the
    largest gradient of each variable (None where no gradient reaches it)."""
    net = tn.TransformerNet(seed=1)
    x = tf.constant(net_in[:, :16, :16])
    net.deconv3.bias.assign([600.0, -600.0, 0.0])
    with tf.GradientTape() as tape:
        y = net(x)
        loss = tf.reduce_mean(tf.square(y - 128.0))
    grads = tape.gradient(loss, net.trainable_variables)
    return {"shapes": [list(v.shape) for v in net.trainable_variables], "names": [v.name for v in net.trainable_variables],
            "out": _np(y), "grads": [None if g is None else float(tf.reduce_max(tf.abs(g))) for g in grads]}


def perceptual_loss_gradients(fs, style_img, content_batch, stylized_batch) -> dict:
    """The loss of a photo with itself, and the gradients w.r.t. the stylized and the content images."""
    import nst.losses
    from fast_cases import TinyVGG, loss_settings

    student_gram, fs.gram_matrix = fs.gram_matrix, nst.losses.gram_matrix   # grade TODO 7 on its own
    try:
        loss_fn = fs.PerceptualLoss(TinyVGG(), style_img, **loss_settings())
        content = tf.constant(content_batch)
        stylized = tf.Variable(stylized_batch)
        same = loss_fn(content, content)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(content)
            losses = loss_fn(content, stylized)
    finally:
        fs.gram_matrix = student_gram
    return {"same_content": float(same["content"]), "g_content": _np(tape.gradient(losses["total"], content)),
            "grads": {k: _np(tape.gradient(losses[k], stylized)) for k in ("content", "style", "tv", "total")
                      if k in losses}}


def train_step(fs, step_kernel, step_in) -> dict:
    """One ``fs.train_step`` of the one-layer TinyNet with SGD(0.5) and the stand-in loss."""
    from fast_cases import TinyNet, tiny_loss

    net = TinyNet(step_kernel)
    before = net.kernel.numpy().copy()
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.5)
    losses = fs.train_step(net, tiny_loss, optimizer, tf.constant(step_in), grad_scale=0.5)
    return {"iterations": int(optimizer.iterations), "losses": {k: float(v) for k, v in dict(losses).items()},
            "kernel_before": before, "kernel": net.kernel.numpy(), "bias": net.bias.numpy()}


# ---------------------------------------------------------------------------- part 3
def cin_and_head_gradients(arb, x, content, style) -> dict:
    """Gradients of a CIN sum on ``x`` w.r.t. gamma and beta, and of a whole-model loss on
    (``content``, ``style``) w.r.t. the head's variables."""
    from nst.arbitrary.networks import ArbitraryStyleModel, ModelConfig

    tf.random.set_seed(0)
    x = tf.constant(x)
    c = int(x.shape[-1])
    gamma, beta = tf.Variable(tf.ones((1, c)) * 1.5), tf.Variable(tf.zeros((1, c)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(arb.conditional_instance_norm(x, gamma, beta) * x)
    g_gamma, g_beta = tape.gradient(loss, [gamma, beta])
    out = {"g_gamma": _np(g_gamma), "g_beta": _np(g_beta)}
    model = ArbitraryStyleModel(ModelConfig(), arb, name="arbitrary").build_all(32)
    content, style = tf.constant(content), tf.constant(style)
    variables = model.head.trainable_variables
    with tf.GradientTape() as tape:
        y = model((content, style))
        loss = tf.reduce_mean(tf.square(y - tf.reverse(content, axis=[2])))
    out["head_grads"] = {v.path: _np(g) for v, g in zip(variables, tape.gradient(loss, variables))}
    return out


def model_shapes(arb, style, contents) -> dict:
    """The embedding of ``style``, the norm parameters and the outputs for ``contents`` of a model
    built on ``arb`` (arrays: the judge reads their shapes and checks their values itself)."""
    from nst.arbitrary.networks import ArbitraryStyleModel, ModelConfig

    model = ArbitraryStyleModel(ModelConfig(), arb, name="arbitrary")
    z = model.embed(tf.constant(style))
    params = model.head.norm_params(z)
    return {"z": _np(z), "params": {k: (_np(g), _np(b)) for k, (g, b) in dict(params).items()},
            "outputs": [_np(model.transfer(tf.constant(c), z)) for c in contents]}


def published(arb, content, style) -> dict:
    """The embedding and the stylised image (float32 0..255, before rounding) of Magenta's
    published model around ``arb``."""
    from arbitrary_cases import render_published

    z, image = render_published(arb, content, style)
    return {"z": z, "image": image}


def published_multistyle(tn, content) -> dict:
    """Part 2: the published 26-style network built on the student's blocks, ``content`` in two styles."""
    from multistyle_cases import run_published

    return run_published(tn, content)
