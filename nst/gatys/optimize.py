"""The Gatys optimisation loop: Adam or L-BFGS, progress, TensorBoard, checkpoints, resume.

``run(st, n)`` drives a built ``StyleTransfer`` (student or reference), through the contract
:class:`nst.gatys.contract.StyleTransferModel`: it calls ``st.train_step()`` for Adam, or
``st.total_loss()`` through L-BFGS (:mod:`nst.gatys.lbfgs`). What the loop keeps (the XLA-compiled step, the
traced L-BFGS function, the optimiser's result) lives on its own :class:`Loop`, never on the student's object.

A checkpoint (``<run_dir>/checkpoint.npz``) holds the image, the optimiser's state and
the step, so a killed run started again with the same arguments continues where it
stopped and ends with the same image as an uninterrupted run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from threadpoolctl import threadpool_limits

from nst import checkpoint
from nst.errors import NstError
from nst.gatys import lbfgs
from nst.gatys.contract import StyleTransferModel, optional_parts
from nst.gatys.twin import float32_losses, float32_twin
from nst.images import MEAN_RGB, deprocess, save_image
from nst.progress import Progress
from nst.runfolder import check_finite
from nst.runtime import resolve_precision


class Loop:
    """One optimisation of a built StyleTransfer ``st``, and what it keeps between :meth:`run` calls.

    ``opt``, ``gstep`` and ``writer`` are the optional parts of the contract (None when absent);
    ``xla_train_step`` and ``loss_and_grad`` are traced once per Loop; ``lbfgs_result`` is
    :class:`nst.gatys.lbfgs.Result` after an L-BFGS run (``nit`` iterations, ``nfev`` evaluations).
    """

    def __init__(self, st: StyleTransferModel):
        self.st, self.config = st, st.config
        self.opt, self.gstep, self.writer = optional_parts(st)
        self.xla_train_step = None
        self.loss_and_grad = None
        self.lbfgs_result = None
        self.twin = None            # float32 twin when st steps in another precision (nst.gatys.twin)
        self.twin_loss_and_grad = None
        self.finishing = False      # L-BFGS's iterations left run on the twin (see _lbfgs)
        self.shown: dict[str, float] | None = None   # the float32 losses printed and logged as loss/*

    def run(self, n_iters: int, on_step=None) -> np.ndarray:
        """Optimise ``st.input_img`` for ``n_iters`` iterations in total; return the image as uint8 RGB.

        ``on_step(step, losses)``, if given, is called after every iteration (benchmarks time it).
        """
        if n_iters < 0:
            raise NstError(f"--iterations must be >= 0, got {n_iters}")
        step = _start(self)
        # NumPy's BLAS on one thread: its idle threads spin after each call (L-BFGS's dot products) and
        # take the cores TensorFlow's threads need: bfloat16 L-BFGS ran 0.13 s per evaluation, not 0.095
        with threadpool_limits(limits=1, user_api="blas"):
            if self.config.optimizer == "lbfgs":
                _lbfgs(self, n_iters, step, on_step)
            elif self.config.optimizer == "adam":
                _adam(self, n_iters, step, on_step)
            else:
                raise NstError(f"--optimizer must be adam or lbfgs, got {self.config.optimizer!r}")
        if self.writer is not None:
            self.writer.flush()
        return deprocess(self.st.input_img.numpy())


def run(st: StyleTransferModel, n_iters: int, on_step=None) -> np.ndarray:
    """``Loop(st).run(n_iters, on_step)``: a fresh loop (hold a :class:`Loop` to keep its traced functions)."""
    return Loop(st).run(n_iters, on_step)


def _checkpoint_path(loop: Loop) -> Path | None:
    return Path(loop.config.run_dir) / checkpoint.CHECKPOINT if loop.config.run_dir else None


def save_checkpoint(loop: Loop, step: int) -> None:
    """Image, optimiser state and step (:mod:`nst.checkpoint`), and the image so far as a PNG."""
    path = _checkpoint_path(loop)
    if path is None:
        return
    checkpoint.save(path, "gatys", step, {"image": loop.st.input_img.numpy()},
                    loop.opt.variables if loop.opt is not None else ())
    pattern = loop.config.checkpoint_output or str(path.parent / "checkpoint_%s.png")
    save_image(deprocess(loop.st.input_img.numpy()), pattern.replace("%s", f"{step:05d}"))


def restore_checkpoint(loop: Loop) -> int:
    """Load the run's checkpoint if there is one; return the step to continue from."""
    path = _checkpoint_path(loop)
    if path is None or not path.is_file():
        return 0
    saved = checkpoint.load(path, "gatys")
    if tuple(saved.arrays["image"].shape) != tuple(loop.st.input_img.shape):
        raise NstError(f"{path} is for an image of another size; delete it to start over")
    loop.st.input_img.assign(saved.arrays["image"])
    if loop.opt is not None and saved.optimizer:
        if not getattr(loop.opt, "built", True):  # a student's optimizer that is built by its first step
            loop.opt.build([loop.st.input_img])
        saved.assign_optimizer(loop.opt.variables)
    if loop.gstep is not None:
        loop.gstep.assign(saved.step)
    print(f"resuming from {path} at iteration {saved.step}", flush=True)
    return saved.step


def _log(loop: Loop, step: int, scalars: dict[str, dict[str, float]]) -> None:
    """TensorBoard: ``{group: {name: value}}`` as ``group/name`` scalars, and the image every few steps."""
    if loop.writer is None:
        return
    with loop.writer.as_default(step=step):
        for group, losses in scalars.items():
            for k, v in losses.items():
                tf.summary.scalar(f"{group}/{k}", v)
        every = loop.config.image_iterations
        if every and (step % every == 0 or step == 1):
            tf.summary.image("generated", deprocess(loop.st.input_img.numpy())[None])


def _shown(loop: Loop, step: int, n_iters: int, losses: dict[str, float]) -> dict[str, dict[str, float]]:
    """What is printed (``loss``) and logged: the step's own losses for a float32 run; for another precision,
    the float32 losses of the current image (:mod:`nst.gatys.twin`) every ``print_iterations`` steps and at
    the last (``loss/*``, shown in between), and the step's own under ``loss_<precision>/*`` every step."""
    if loop.twin is None:
        return {"loss": losses}
    if loop.finishing:        # stepping the float32 twin itself: the step's own losses are the float32 ones
        loop.shown = losses
        return {"loss": losses}
    scalars = {f"loss_{resolve_precision(loop.config.precision)}": losses}
    if loop.shown is None or step % loop.config.print_iterations == 0 or step == n_iters:
        loop.shown = scalars["loss"] = weighted(loop, float32_losses(loop.twin, loop.st))
    return scalars


def weighted(st, losses) -> dict[str, float]:
    """The losses as neural-style reports them: content, style and tv each times its weight; total.

    ``content_weight * L_content + style_weight * L_style + tv_weight * L_tv = total``, so the
    printed and logged terms add up to the total the optimiser minimises. ``st``: anything with ``config``.
    """
    c = st.config
    weights = {"content": c.content_weight, "style": c.style_weight, "tv": c.tv_weight}
    return {k: float(v) * weights.get(k, 1.0) for k, v in losses.items()}


def traced(loop: Loop, fn, *args, name: str = "train_step", step: int = 0):
    """``fn(*args)``, recording the graph it runs into the run's TensorBoard log (the GRAPHS tab).

    ``tf.summary.trace_on(graph=True)`` before the call, ``trace_export`` after it: one
    optimisation step's graph (VGG, the losses, the gradient, the update) in the event file.
    """
    if loop.writer is None:
        return fn(*args)
    tf.summary.trace_on(graph=True, profiler=False)
    try:
        return fn(*args)
    finally:
        with loop.writer.as_default():
            tf.summary.trace_export(name=name, step=step)


def _check_finite(loop: Loop, step: int, losses: dict[str, float]) -> None:
    check_finite(losses, step, f"try a smaller --learning-rate (now {loop.config.learning_rate})",
                 kept=_checkpoint_path(loop))


def _start(loop: Loop) -> int:
    if loop.writer is not None:
        with loop.writer.as_default(step=0):
            tf.summary.text("settings", "```\n" + loop.config.to_json() + "\n```")
    if loop.twin is None:
        loop.twin = float32_twin(loop.st)
    return restore_checkpoint(loop)


def _after_step(loop: Loop, step: int, n_iters: int, losses: dict[str, float], progress: Progress,
                on_step=None) -> None:
    _check_finite(loop, step, losses)
    if on_step is not None:
        on_step(step, losses)
    scalars = _shown(loop, step, n_iters, losses)
    _log(loop, step, scalars)
    progress.update(step, loop.shown or losses)
    every = loop.config.checkpoint_iterations
    if every and (step % every == 0 or step == n_iters):
        save_checkpoint(loop, step)


def _xla_step(loop: Loop):
    """``st.train_step`` compiled whole by XLA (the student's ``@tf.function`` re-wrapped, traced once)."""
    if loop.xla_train_step is None:
        fn = getattr(loop.st.train_step, "python_function", loop.st.train_step)
        loop.xla_train_step = tf.function(fn, jit_compile=True)
    return loop.xla_train_step


def _adam(loop: Loop, n_iters: int, step: int, on_step=None) -> None:
    progress = Progress(n_iters, step, loop.config.print_iterations, label="iteration")
    train_step = _xla_step(loop) if loop.config.xla else loop.st.train_step
    start = step
    try:
        while step < n_iters:
            out = traced(loop, train_step, step=step) if step == start else train_step()
            losses = weighted(loop, out)
            step += 1
            _after_step(loop, step, n_iters, losses, progress, on_step)
    finally:
        progress.close()


def _loss_and_grad(loop: Loop, model=None):
    """``f(x) -> (losses, dL/dx)`` for the image ``x`` as float64, traced once per Loop and model (the run's
    ``st``, or its float32 twin finishing an L-BFGS run: ``twin_loss_and_grad``)."""
    twin = model is not None and model is not loop.st
    if (loop.twin_loss_and_grad if twin else loop.loss_and_grad) is None:
        fn = _TracedLossAndGrad(model if twin else loop.st, loop.config.xla)
        if twin:
            loop.twin_loss_and_grad = fn
        else:
            loop.loss_and_grad = fn
    return loop.twin_loss_and_grad if twin else loop.loss_and_grad


class _TracedLossAndGrad:
    """``st``'s loss and gradient as one ``tf.function``, traced without AutoGraph: converting the class's
    code took 0.4 s of a 20 s run. A class whose Python control flow depends on tensors (``if loss > 0:``)
    cannot be traced so; for it the function is traced again with AutoGraph."""

    def __init__(self, st, xla: bool):
        self.st, self.xla = st, xla
        self.fn, self.converted = self._make(autograph=False), False

    def _make(self, autograph: bool):
        st, var = self.st, self.st.input_img

        @tf.function(jit_compile=self.xla, autograph=autograph)
        def loss_and_grad(x):
            with tf.name_scope("input/"):  # TensorBoard groups the graph as the handout: input, vgg, losses, ...
                var.assign(tf.reshape(tf.cast(x, tf.float32), var.shape))
            with tf.GradientTape() as tape:
                losses = st.total_loss()
            return losses, tape.gradient(losses["total"], var)
        return loss_and_grad

    def __call__(self, x):
        try:
            return self.fn(x)
        except tf.errors.OperatorNotAllowedInGraphError:
            if self.converted:
                raise
            self.fn, self.converted = self._make(autograph=True), True
            return self.fn(x)

    def experimental_get_tracing_count(self) -> int:
        return self.fn.experimental_get_tracing_count()


def _lbfgs(loop: Loop, n_iters: int, step: int, on_step=None) -> None:
    """L-BFGS over the pixels (as in Gatys et al.; :mod:`nst.gatys.lbfgs`), gradients from TensorFlow, pixels
    kept in [0, 255].

    In another precision than float32 the line search can stop early: with bfloat16 activations the loss
    stops falling along the search direction (rounding) short of where float32 goes on. The iterations left
    then run in float32 on the run's twin (:mod:`nst.gatys.twin`), from the image where it stopped."""
    progress = Progress(n_iters, step, loop.config.print_iterations, label="iteration")
    try:
        step = _minimize(loop, loop.st, n_iters, step, on_step, progress)
        if step < n_iters and loop.twin is not None:
            print(f"L-BFGS in {resolve_precision(loop.config.precision)} stopped at iteration {step} "
                  f"({str(loop.lbfgs_result.message).lower()}): iterations {step + 1}-{n_iters} in float32",
                  flush=True)
            loop.finishing = True
            loop.twin.input_img.assign(loop.st.input_img)
            _minimize(loop, loop.twin, n_iters, step, on_step, progress)   # keeps st.input_img in step
    finally:
        progress.close()


def _minimize(loop: Loop, model, n_iters: int, step: int, on_step, progress: Progress) -> int:
    """L-BFGS (:mod:`nst.gatys.lbfgs`) on ``model.input_img`` from ``step`` up to ``n_iters``; the step it ended at."""
    var = model.input_img
    shape = var.shape
    loss_and_grad = _loss_and_grad(loop, model)
    state = {"step": step, "losses": {}, "first": model is loop.st}

    def fun(x):
        if state.pop("first", False):
            losses, grad = traced(loop, loss_and_grad, tf.constant(x), name="loss_and_grad", step=step)
        else:
            losses, grad = loss_and_grad(tf.constant(x))
        state["losses"] = weighted(loop, losses)
        _check_finite(loop, state["step"] + 1, state["losses"])
        return state["losses"]["total"], grad.numpy().astype(np.float64).ravel()

    def callback(xk):
        var.assign(xk.reshape(shape).astype(np.float32))
        if model is not loop.st:
            loop.st.input_img.assign(var)
        state["step"] += 1
        _after_step(loop, state["step"], n_iters, state["losses"], progress, on_step)

    low = np.broadcast_to(-MEAN_RGB, shape).ravel()
    if n_iters > step:
        result = lbfgs.minimize(fun, var.numpy().astype(np.float64).ravel(), low, low + 255.0,
                                maxiter=n_iters - step, callback=callback)
        var.assign(result.x.reshape(shape).astype(np.float32))
        if model is not loop.st:
            loop.st.input_img.assign(var)
        loop.lbfgs_result = result
    return state["step"]
