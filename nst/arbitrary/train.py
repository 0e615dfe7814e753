"""Training loop: content x style batches, the perceptual loss, checkpoints and TensorBoard.

For each batch (c, s): x = T(c, P(s)); the loss network (VGG16 in the paper) gives the
features, and the student's ``transfer_loss`` weighs content, style (Gram) and total
variation. Adam updates the transfer network and the predictor head; the predictor's
backbone stays frozen. Gradients are averaged over devices by ``tf.distribute``, and over
machines under ``MultiWorkerMirroredStrategy`` (``TF_CONFIG`` naming several workers, see
:mod:`nst.distribute`): each worker reads its slice of every global batch, only the chief writes.

``init: published`` (``--init published``) starts from Magenta's published model and so
fine-tunes it on the user's paintings; ``init: FILE.npz`` starts from a model we trained.
"""
from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from types import ModuleType

import keras
import numpy as np
import tensorflow as tf

from nst.checkpoint import CHECKPOINT
from nst.distribute import local_replicas, multi_worker_strategy, output_root, shard
from nst.errors import NstError
from nst.images import load_image
from nst.interrupt import stop_at_step_boundary
from nst.losses import gram_matrix
from nst.progress import Progress
from nst.runfolder import (
    CONFIG,
    GRADIENT,
    check_finite,
    logs_dir,
    settings_record,
    write_settings,
)
from nst.runtime import resolve_precision, set_seed
from nst.vgg import VGGFeatures

from .checkpoint import (
    assign_weights,
    checkpoint_config,
    export_model,
    restore_checkpoint,
    save_checkpoint,
)
from .config import ModelConfig, TrainConfig
from .data import collect_images, make_dataset
from .networks import ArbitraryStyleModel
from .stylize import Stylizer


def make_strategy(devices: list[str] | None) -> tf.distribute.Strategy:
    """Several workers (TF_CONFIG): MultiWorkerMirroredStrategy; else MirroredStrategy over
    ``devices``, or over all GPUs when there are several; else the default (one device)."""
    cluster = multi_worker_strategy()
    if cluster is not None:
        if devices:
            raise NstError("devices: is for one machine; each worker of a cluster uses all its GPUs (or one CPU)")
        return cluster
    if devices:
        return tf.distribute.MirroredStrategy(devices)
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def initial_model(cfg: TrainConfig, impl: ModuleType) -> ArbitraryStyleModel:
    """A built model: random weights, the published model (``init: published``) or a model file."""
    if cfg.init is None:
        return ArbitraryStyleModel(cfg.model, impl, name="arbitrary").build_all()
    if cfg.init == "published":
        from .published import PUBLISHED_CONFIG, assign_published, load_arrays

        arrays = load_arrays()
        cfg.model = ModelConfig.from_dict(PUBLISHED_CONFIG)
        model = ArbitraryStyleModel(cfg.model, impl, name="arbitrary").build_all()
        assign_published(model, arrays)
        return model
    path = Path(cfg.init)
    meta = checkpoint_config(path)
    cfg.model = ModelConfig.from_dict(meta["model"])
    model = ArbitraryStyleModel(cfg.model, impl, name="arbitrary").build_all()
    assign_weights(model, path)
    return model


class Trainer:
    """Builds model, optimizer and loss network under one strategy; ``step(c, s)`` trains one batch."""

    def __init__(self, cfg: TrainConfig, impl: ModuleType):
        self.cfg, self.impl = cfg, impl
        self.strategy = make_strategy(cfg.devices)  # first: TF's rule for several workers
        set_seed(cfg.seed)
        keras.utils.set_random_seed(cfg.seed)
        precision = resolve_precision(cfg.precision)
        policy = "float32" if precision == "float32" else f"mixed_{precision}"
        keras.mixed_precision.set_dtype_policy(policy)
        with self.strategy.scope():
            self.model = initial_model(cfg, impl)
            opt = (keras.optimizers.Adam(cfg.learning_rate) if cfg.optimizer == "adam"
                   else keras.optimizers.SGD(cfg.learning_rate))
            self.optimizer = keras.mixed_precision.LossScaleOptimizer(opt) if precision == "float16" else opt
            self.optimizer.build(self.model.trainable_variables)
        loss_dtype = tf.as_dtype(precision)
        self.loss_net = VGGFeatures(cfg.loss_network, dtype=loss_dtype)
        self.loss_net.check_layers(cfg.content_layers + cfg.style_layers)
        self.step_fn = tf.function(self._distributed_step)

    def losses(self, content: tf.Tensor, style: tf.Tensor) -> tuple[dict, tf.Tensor]:
        cfg = self.cfg
        image = tf.cast(self.model((content, style)), tf.float32)
        stylized = self.loss_net.features(image, set(cfg.content_layers + cfg.style_layers))
        losses = self.impl.transfer_loss(
            stylized, self.loss_net.features(content, cfg.content_layers),
            self.loss_net.features(style, cfg.style_layers), image,
            content_weight=cfg.content_weight, style_weight=cfg.style_weight, tv_weight=cfg.tv_weight)
        return losses, image

    def _replica_step(self, content, style):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            losses, _ = self.losses(content, style)
            # each replica holds batch/n images; the optimizer sums gradients across replicas
            scaled = losses["total"] / self.strategy.num_replicas_in_sync
            if isinstance(self.optimizer, keras.mixed_precision.LossScaleOptimizer):
                scaled = self.optimizer.scale_loss(scaled)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        # the guard watches the gradient too: a diverged network can keep a finite loss where ReLU maps
        # NaN to 0 (oneDNN on AVX512 CPUs), and would train on silently with NaN weights
        return {**losses, GRADIENT: tf.linalg.global_norm(grads)}

    def _distributed_step(self, content, style):
        per_replica = self.strategy.run(self._replica_step, args=(content, style))
        mean = tf.distribute.ReduceOp.MEAN
        return {k: self.strategy.reduce(mean, v, axis=None) for k, v in per_replica.items()}

    def dataset(self, start_step: int):
        cfg = self.cfg
        contents = collect_images(cfg.content_dirs)
        styles = collect_images(cfg.style_dirs, exclude=cfg.exclude_styles)
        workers = shard(self.strategy)

        def worker_dataset(ctx=None):  # this worker's slice of every global batch
            return make_dataset(contents, styles, batch_size=cfg.batch_size, crop=cfg.crop, scale_range=cfg.scale_range,
                                style_scale_range=cfg.style_scale_range, seed=cfg.seed, start_step=start_step,
                                steps=cfg.steps, shard=workers)

        if workers[1] == 1:
            return self.strategy.experimental_distribute_dataset(worker_dataset())
        local = local_replicas(self.strategy)
        per = cfg.batch_size // workers[1]
        if per % local:
            raise NstError(f"batch_size {cfg.batch_size} must be a multiple of the "
                           f"{self.strategy.num_replicas_in_sync} devices of the {workers[1]} workers")
        # each local replica takes the next per/local images of the slice
        return self.strategy.distribute_datasets_from_function(
            lambda ctx: worker_dataset().unbatch().batch(per // local, drop_remainder=True) if local > 1
            else worker_dataset())


def train(cfg: TrainConfig, impl: ModuleType, *, resume: bool = True, progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train (or resume) into ``cfg.out_dir``; return the last losses and timings.

    Writes ``checkpoint.npz`` every ``checkpoint_every`` steps and at the end, ``model.npz``
    (float16 weights for ``nst arbitrary stylize``) at the end, and TensorBoard logs under
    ``logs/``. ``stop_after`` ends the run early after that many steps (simulating an interruption). Ctrl-C
    finishes the step in progress, checkpoints it and raises KeyboardInterrupt (:mod:`nst.interrupt`).
    Several workers: every one restores from the chief's ``checkpoint.npz`` (a shared folder);
    the others write into a scratch folder that is removed at the end.
    """
    out = Path(cfg.out_dir)
    trainer = Trainer(cfg, impl)
    ckpt = out / CHECKPOINT
    start = restore_checkpoint(ckpt, trainer.model, trainer.optimizer) if resume and ckpt.exists() else 0
    if start >= cfg.steps:
        return {"step": start, "resumed_from": start}
    scratch = contextlib.ExitStack()  # where this worker writes: out_dir on the chief, else scratch
    root = scratch.enter_context(output_root(out, trainer.strategy))
    chief = root == out
    root.mkdir(parents=True, exist_ok=True)
    write_settings(root, settings_record(cfg.to_dict()), CONFIG)
    writer = tf.summary.create_file_writer(str(logs_dir(root)))
    grid_images = [[load_image(p) for p in cfg.grid_contents], [load_image(p) for p in cfg.grid_styles]]
    bar = Progress(cfg.steps, start, cfg.log_every, enabled=progress)
    step, losses, t0, times = start, {}, time.perf_counter(), []
    alone = chief and shard(trainer.strategy)[1] == 1  # a cluster checkpoints together: Ctrl-C stays immediate
    interrupt = scratch.enter_context(stop_at_step_boundary(alone))  # restored by scratch.close()
    try:
        for content, style in trainer.dataset(start):
            tick = time.perf_counter()
            losses = {k: float(v) for k, v in trainer.step_fn(content, style).items()}
            step += 1
            times.append(time.perf_counter() - tick)
            check_finite(losses, step, "lower learning_rate or the loss weights", kept=ckpt)
            losses.pop(GRADIENT)
            bar.update(step, losses)
            with writer.as_default(step=step):
                for k, v in losses.items():
                    tf.summary.scalar(f"loss/{k}", v)
                if chief and grid_images[0] and grid_images[1] and (step % cfg.image_every == 0 or step == cfg.steps):
                    grid = Stylizer(trainer.model).grid(*grid_images)
                    tf.summary.image("content_x_style", grid[None], max_outputs=1)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps or interrupt.requested:
                save_checkpoint(root / ckpt.name, trainer.model, trainer.optimizer, step, cfg.to_dict())
            if interrupt.requested:
                print(f"interrupted: checkpoint at step {step}; run the same command to resume", file=sys.stderr)
                raise KeyboardInterrupt
            if stop_after is not None and step - start >= stop_after:
                break
    finally:
        bar.close()
        writer.flush()
        scratch.close()  # removes a worker's scratch folder
    if step == cfg.steps and chief:
        export_model(out / "model.npz", trainer.model, notes={"steps": step, "seed": cfg.seed})
    first = times[1:] or times
    return {"step": step, "resumed_from": start, "losses": losses, "seconds": time.perf_counter() - t0,
            "seconds_per_step": float(np.median(first)) if first else None}


def style_losses(model: ArbitraryStyleModel, contents: list[np.ndarray], styles: dict[str, np.ndarray],
                 cfg: TrainConfig, size: int = 256) -> dict[str, float]:
    """{style name: mean over ``contents`` of the style term of ``transfer_loss``} (lower: closer).

    Every content is its centred ``size`` x ``size`` square; the style term uses the
    training's loss network and style layers (``cfg``) against the style's own square.
    """
    from nst.images import preprocess

    from .stylize import Stylizer, center_square

    loss_net = VGGFeatures(cfg.loss_network)
    loss_net.check_layers(cfg.style_layers)
    stylizer = Stylizer(model)
    out = {}
    for name, style in styles.items():
        target = loss_net.features(tf.constant(preprocess(center_square(style, size))), cfg.style_layers)
        z = stylizer.embed(style)
        terms = []
        for content in contents:
            image = tf.constant(preprocess(stylizer.decode(center_square(content, size), z).astype(np.float32)))
            feats = loss_net.features(image, cfg.style_layers)
            terms.append(float(tf.add_n([tf.reduce_mean(tf.square(gram_matrix(feats[l]) - gram_matrix(target[l])))
                                         for l in cfg.style_layers])))
        out[name] = float(np.mean(terms))
    return out
