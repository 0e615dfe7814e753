"""The Gatys optimisation loop: Adam or L-BFGS, progress, TensorBoard, checkpoints, resume.

``run(st, n)`` drives a built ``StyleTransfer`` (student or reference): it calls
``st.train_step()`` for Adam, or ``st.total_loss()`` through scipy's L-BFGS-B.

A checkpoint (``<run_dir>/checkpoint.npz``) holds the image, the optimiser's state and
the step, so a killed run started again with the same arguments continues where it
stopped and ends with the same image as an uninterrupted run.
"""
from __future__ import annotations

import io
import math
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst.errors import NstError
from nst.images import MEAN_RGB, deprocess, save_image, write_atomic


class Progress:
    """A tqdm bar on a terminal; plain lines every ``every`` steps in logs."""

    def __init__(self, total: int, initial: int, every: int, desc: str = "stylize"):
        self.total, self.every, self.start_time, self.start_step = total, max(1, every), time.time(), initial
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="it", dynamic_ncols=True)

    def update(self, step: int, losses: dict[str, float]) -> None:
        text = " ".join(f"{k} {v:.3g}" for k, v in losses.items())
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(text, refresh=False)
        elif step % self.every == 0 or step == self.total:
            rate = (step - self.start_step) / max(time.time() - self.start_time, 1e-9)
            eta = (self.total - step) / rate if rate > 0 else float("nan")
            print(f"iteration {step}/{self.total}  {text}  {rate:.2f} it/s  eta {eta:.0f}s", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _checkpoint_path(st) -> Path | None:
    return Path(st.config.run_dir) / "checkpoint.npz" if st.config.run_dir else None


def save_checkpoint(st, step: int) -> None:
    """Image, optimiser state and step, written atomically."""
    path = _checkpoint_path(st)
    if path is None:
        return
    state = {"step": np.array(step), "image": st.input_img.numpy()}
    if hasattr(st, "opt"):
        for i, v in enumerate(st.opt.variables):
            state[f"opt_{i}"] = v.numpy()
    buf = io.BytesIO()
    np.savez(buf, **state)
    write_atomic(path, buf.getvalue())
    pattern = st.config.checkpoint_output or str(path.parent / "checkpoint_%s.png")
    save_image(deprocess(st.input_img.numpy()), pattern.replace("%s", f"{step:05d}"))


def restore_checkpoint(st) -> int:
    """Load the run's checkpoint if there is one; return the step to continue from."""
    path = _checkpoint_path(st)
    if path is None or not path.is_file():
        return 0
    with np.load(path) as z:
        if tuple(z["image"].shape) != tuple(st.input_img.shape):
            raise NstError(f"{path} is for an image of another size; delete it to start over")
        st.input_img.assign(z["image"])
        if hasattr(st, "opt"):
            for i, v in enumerate(st.opt.variables):
                if f"opt_{i}" in z:
                    v.assign(z[f"opt_{i}"])
        step = int(z["step"])
    if hasattr(st, "gstep"):
        st.gstep.assign(step)
    print(f"resuming from {path} at iteration {step}", flush=True)
    return step


def _log(st, step: int, losses: dict[str, float]) -> None:
    writer = getattr(st, "writer", None)
    if writer is None:
        return
    with writer.as_default(step=step):
        for k, v in losses.items():
            tf.summary.scalar(f"loss/{k}", v)
        every = st.config.image_iterations
        if every and (step % every == 0 or step == 1):
            tf.summary.image("generated", deprocess(st.input_img.numpy())[None])


def weighted(st, losses) -> dict[str, float]:
    """The losses as neural-style reports them: content, style and tv each times its weight; total.

    ``content_weight * L_content + style_weight * L_style + tv_weight * L_tv = total``, so the
    printed and logged terms add up to the total the optimiser minimises.
    """
    c = st.config
    weights = {"content": c.content_weight, "style": c.style_weight, "tv": c.tv_weight}
    return {k: float(v) * weights.get(k, 1.0) for k, v in losses.items()}


def traced(st, fn, *args, name: str = "train_step", step: int = 0):
    """``fn(*args)``, recording the graph it runs into the run's TensorBoard log (the GRAPHS tab).

    ``tf.summary.trace_on(graph=True)`` before the call, ``trace_export`` after it: one
    optimisation step's graph (VGG, the losses, the gradient, the update) in the event file.
    """
    writer = getattr(st, "writer", None)
    if writer is None:
        return fn(*args)
    tf.summary.trace_on(graph=True, profiler=False)
    try:
        return fn(*args)
    finally:
        with writer.as_default():
            tf.summary.trace_export(name=name, step=step)


def _check_finite(st, step: int, losses: dict[str, float]) -> None:
    if all(math.isfinite(v) for v in losses.values()):
        return
    ck = _checkpoint_path(st)
    kept = f"; the last good checkpoint is {ck}" if ck and ck.is_file() else ""
    raise NstError(f"the loss became {losses['total']} at iteration {step}: try a smaller --learning-rate "
                   f"(now {st.config.learning_rate}){kept}")


def _start(st) -> int:
    writer = getattr(st, "writer", None)
    if writer is not None:
        with writer.as_default(step=0):
            tf.summary.text("settings", "```\n" + st.config.to_json() + "\n```")
    return restore_checkpoint(st)


def run(st, n_iters: int, on_step=None) -> np.ndarray:
    """Optimise ``st.input_img`` for ``n_iters`` iterations in total; return the image as uint8 RGB.

    ``on_step(step, losses)``, if given, is called after every iteration (benchmarks time it).
    """
    if n_iters < 0:
        raise NstError(f"--iterations must be >= 0, got {n_iters}")
    step = _start(st)
    if st.config.optimizer == "lbfgs":
        _lbfgs(st, n_iters, step, on_step)
    elif st.config.optimizer == "adam":
        _adam(st, n_iters, step, on_step)
    else:
        raise NstError(f"--optimizer must be adam or lbfgs, got {st.config.optimizer!r}")
    if getattr(st, "writer", None) is not None:
        st.writer.flush()
    return deprocess(st.input_img.numpy())


def _after_step(st, step: int, n_iters: int, losses: dict[str, float], progress: Progress, on_step=None) -> None:
    _check_finite(st, step, losses)
    if on_step is not None:
        on_step(step, losses)
    _log(st, step, losses)
    progress.update(step, losses)
    every = st.config.checkpoint_iterations
    if every and (step % every == 0 or step == n_iters):
        save_checkpoint(st, step)


def _xla_step(st):
    """``st.train_step`` compiled whole by XLA (the student's ``@tf.function`` re-wrapped, traced once)."""
    if getattr(st, "_xla_train_step", None) is None:
        fn = getattr(st.train_step, "python_function", st.train_step)
        st._xla_train_step = tf.function(fn, jit_compile=True)
    return st._xla_train_step


def _adam(st, n_iters: int, step: int, on_step=None) -> None:
    progress = Progress(n_iters, step, st.config.print_iterations)
    train_step = _xla_step(st) if st.config.xla else st.train_step
    start = step
    try:
        while step < n_iters:
            out = traced(st, train_step, step=step) if step == start else train_step()
            losses = weighted(st, out)
            step += 1
            _after_step(st, step, n_iters, losses, progress, on_step)
    finally:
        progress.close()


def _loss_and_grad(st):
    """``f(x) -> (losses, dL/dx)`` for the image ``x`` as float64, traced once per StyleTransfer."""
    if getattr(st, "_loss_and_grad", None) is None:
        var = st.input_img

        @tf.function(jit_compile=st.config.xla)
        def loss_and_grad(x):
            with tf.name_scope("input/"):  # TensorBoard groups the graph as the handout: input, vgg, losses, ...
                var.assign(tf.reshape(tf.cast(x, tf.float32), var.shape))
            with tf.GradientTape() as tape:
                losses = st.total_loss()
            return losses, tape.gradient(losses["total"], var)

        st._loss_and_grad = loss_and_grad
    return st._loss_and_grad


def _lbfgs(st, n_iters: int, step: int, on_step=None) -> None:
    """L-BFGS-B over the pixels (as in Gatys et al.), gradients from TensorFlow, pixels kept in [0, 255].

    After the run ``st.lbfgs_result`` is scipy's OptimizeResult (``nit`` iterations, ``nfev`` evaluations).
    """
    import scipy.optimize

    var = st.input_img
    shape = var.shape
    loss_and_grad = _loss_and_grad(st)

    progress = Progress(n_iters, step, st.config.print_iterations)
    state = {"step": step, "losses": {}, "first": True}

    def fun(x):
        if state.pop("first", False):
            losses, grad = traced(st, loss_and_grad, tf.constant(x), name="loss_and_grad", step=step)
        else:
            losses, grad = loss_and_grad(tf.constant(x))
        state["losses"] = weighted(st, losses)
        _check_finite(st, state["step"] + 1, state["losses"])
        return state["losses"]["total"], grad.numpy().astype(np.float64).ravel()

    def callback(xk):
        var.assign(xk.reshape(shape).astype(np.float32))
        state["step"] += 1
        _after_step(st, state["step"], n_iters, state["losses"], progress, on_step)

    low = np.broadcast_to(-MEAN_RGB, shape).ravel()
    bounds = scipy.optimize.Bounds(low, low + 255.0)
    try:
        if n_iters > step:
            result = scipy.optimize.minimize(
                fun, var.numpy().astype(np.float64).ravel(), jac=True, method="L-BFGS-B", bounds=bounds,
                callback=callback, options={"maxiter": n_iters - step, "maxfun": 2 * (n_iters - step) + 20})
            var.assign(result.x.reshape(shape).astype(np.float32))
            st.lbfgs_result = result
    finally:
        progress.close()
