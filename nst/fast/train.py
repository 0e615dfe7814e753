"""Train a transformation network for one style (``nst fast train --config conf/<style>.yml``).

The loop: photos from :class:`nst.fast.data.ContentImages`, one ``train_step`` of the student
code (``<impl>.fast_style``) per batch, under a ``tf.distribute`` strategy (one device, or
``MirroredStrategy`` over several: each replica takes an equal slice of the global batch).
Every ``checkpoint_every`` steps the weights, the Adam state, the step and the data position
are checkpointed in ``<model_path>/<naming>/checkpoint.npz`` (:mod:`nst.checkpoint`); starting again with the same
config resumes from the last one; Ctrl-C finishes the step in progress, checkpoints it and
stops (:mod:`nst.interrupt`). ``init`` (YAML, or ``--init``) starts a new run from the
weights of a trained model instead of random ones (fine-tuning to a new style: a few hundred
steps instead of tens of thousands); only the weights are taken, the optimizer starts fresh at
step 0, and a resumed run takes everything from its checkpoint as before. ``init: published``
(or ``published:K``) with ``train: norm`` learns one new style row of the published 26-style
network instead, everything else frozen (``nst.fast.newstyle``); ``train: all`` fine-tunes it all. Losses and a stylized test photo go to TensorBoard in
``<model_path>/<naming>/logs``; the trained model is written to ``<model_path>/<naming>.npz``.

Several machines: under ``MultiWorkerMirroredStrategy`` (``TF_CONFIG`` naming several workers,
:mod:`nst.distribute`) worker w of W reads the photos ``k = w (mod W)``, B/W per step; only the
chief writes, the others write into a scratch folder that is removed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from pathlib import Path

import tensorflow as tf

from nst import checkpoint
from nst.distribute import (
    all_max,
    local_replicas,
    multi_worker_strategy,
    output_root,
    shard,
)
from nst.errors import NstError
from nst.fast.config import TrainConfig
from nst.fast.data import ContentImages
from nst.fast.model import assign_weights, named_variables, read_model, save_model
from nst.fast.zoo import resolve as resolve_model
from nst.images import fit_size, load_image, resize
from nst.impl import load as load_impl
from nst.interrupt import stop_at_step_boundary
from nst.progress import Progress
from nst.runfolder import (
    CONFIG,
    check_finite,
    logs_dir,
    settings_record,
    write_settings,
)
from nst.runtime import resolve_precision, set_seed
from nst.vgg import VGGFeatures


def _split(strategy, images: tf.Tensor):
    """This worker's batch as slices for its local replicas (equal sizes; replica ids are global,
    numbered worker by worker, so the local one is the id modulo the local count)."""
    if strategy.num_replicas_in_sync == 1:
        return images
    n = local_replicas(strategy)
    if images.shape[0] % n:
        raise NstError(f"batch_size {images.shape[0]} (per worker) must be a multiple of the {n} devices")
    per = images.shape[0] // n
    return strategy.experimental_distribute_values_from_function(
        lambda ctx: images[(ctx.replica_id_in_sync_group % n) * per:(ctx.replica_id_in_sync_group % n + 1) * per])


def train(config: TrainConfig, *, steps: int | None = None, impl: str | None = None,
          strategy: tf.distribute.Strategy | None = None,
          save: bool = True, callback=None, probe=None, probe_every: int = 0) -> dict:
    """Train (or resume) and return {"step", "losses", "model", "skipped", "seconds"}.

    ``steps`` caps the total number of steps (default: ``epochs`` passes over the photos).
    ``config.precision`` bfloat16 computes the transformation network and VGG in bfloat16 (no loss
    scaling needed), variables and losses in float32; float16 is refused by :class:`TrainConfig`.
    ``callback(step, losses)`` is called after every step; a true return value stops the run
    there (checkpointed and saved as at the end); benchmarks use it to time a loss target.
    ``probe(net)`` returns more numbers ({name: float}, e.g. held-out losses) merged into the step's
    losses every ``probe_every`` steps and at the last one, before the callback sees them.
    """
    strategy = strategy or multi_worker_strategy() or tf.distribute.get_strategy()  # first: TF's rule for workers
    set_seed(config.seed)
    style_net, style_lib = load_impl("transformer_net", impl), load_impl("fast_style", impl)
    dtype = tf.as_dtype(resolve_precision(config.precision))
    data = ContentImages(config.content_dir, config.image_size, config.batch_size, config.seed,
                         exclude=config.exclude_content, scale_range=config.scale_range, flip=config.flip)
    from nst.fast.newstyle import is_multistyle_init, start_network

    multistyle = is_multistyle_init(config.init)
    init_weights, init_meta = (read_model(resolve_model(config.init)) if config.init and not multistyle
                               else (None, {}))
    if init_meta.get("base") == "published":   # a row of the published network, not a Johnson network
        raise NstError(f"init {config.init} is a style of the published 26-style network: start a new style "
                       "with init: published (train: norm or all), or give a Johnson network to fine-tune")
    total = steps or max(1, config.epochs * len(data) // config.batch_size)

    style = load_image(config.style_image)
    style = resize(style, *fit_size(*style.shape[:2], max_size=config.style_size or config.image_size))
    vgg = VGGFeatures(config.loss_model, pooling="max", dtype=dtype)
    loss_fn = style_lib.PerceptualLoss(
        vgg, style, content_layers=config.content_layers, style_layers=config.style_layers,
        content_weight=config.content_weight, style_weight=config.style_weight, tv_weight=config.tv_weight,
        style_layer_weights=config.style_layer_weights)
    with strategy.scope():
        net = (start_network(config.init, config.train, impl, dtype) if multistyle
               else style_net.TransformerNet(seed=config.seed, compute_dtype=dtype))
        optimizer = (tf.keras.optimizers.Adam(config.learning_rate) if config.optimizer == "adam"
                     else tf.keras.optimizers.SGD(config.learning_rate))
        if init_weights is not None:
            assign_weights(net, init_weights, config.init)
        optimizer.build(net.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    next_index = tf.Variable(0, dtype=tf.int64, trainable=False, name="next_index")
    scratch = contextlib.ExitStack()  # where this worker writes: model_path on the chief, else scratch
    root = scratch.enter_context(output_root(config.model_path, strategy))
    chief, run_dir = root == Path(config.model_path), root / config.naming
    latest = config.run_dir / checkpoint.CHECKPOINT  # the chief's: every worker resumes from it
    if save and latest.is_file():
        saved = checkpoint.load(latest, "fast")
        assign_weights(net, saved.arrays, latest)
        saved.assign_optimizer(optimizer.variables)
        step.assign(saved.step)
        next_index.assign(saved.meta["next_index"])
        print(f"resuming from step {int(step)} ({latest})", flush=True)
    elif save and (config.run_dir / "checkpoints").is_dir():
        raise NstError(f"{config.run_dir / 'checkpoints'}: a checkpoint of an older nst; delete that folder to "
                       "start over")
    elif multistyle:
        from nst.fast.newstyle import count

        print(f"a new style of the published network from {config.init}: train {config.train} "
              f"({count(net)} numbers learned)", flush=True)
    elif config.init:
        print(f"starting from the weights of {config.init} ({init_meta.get('naming', '?')}, "
              f"{init_meta.get('steps', '?')} steps)", flush=True)
    if save:
        write_settings(run_dir, settings_record(config), CONFIG)

    grad_scale = 1.0 / strategy.num_replicas_in_sync

    @tf.function
    def distributed_step(images):
        per_replica = strategy.run(lambda x: style_lib.train_step(net, loss_fn, optimizer, x, grad_scale),
                                   args=(images,))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}

    writer = tf.summary.create_file_writer(str(logs_dir(run_dir))) if save else tf.summary.create_noop_writer()
    test = None
    if config.test_image:
        test = load_image(config.test_image)
        test = tf.constant(resize(test, *fit_size(*test.shape[:2], max_size=config.image_size * 2))[None])

    progress = Progress(total, int(step), config.log_every)
    iterator = iter(data.dataset(int(next_index), shard=shard(strategy)))
    losses, start, t0 = {}, int(step), time.perf_counter()
    alone = shard(strategy)[1] == 1  # a cluster checkpoints together or not at all: there Ctrl-C stays immediate
    interrupt = scratch.enter_context(stop_at_step_boundary(save and alone))  # restored by scratch.close()
    try:
        while int(step) < total:
            try:
                images, after = next(iterator)
            except tf.errors.OpError as e:
                if len(data.skipped) == len(data):
                    raise NstError(f"none of the {len(data)} content images could be read") from None
                raise NstError(f"reading the content images failed: {e.message.splitlines()[0]}") from None
            out = distributed_step(_split(strategy, images))
            step.assign_add(1)
            next_index.assign(all_max(strategy, after))  # workers read k = w (mod W): resume after the last
            s = int(step)
            losses = {k: float(v) for k, v in out.items()}
            check_finite(losses, s, "lower learning_rate or the loss weights", kept=run_dir / checkpoint.CHECKPOINT)
            if probe is not None and (s % max(probe_every, 1) == 0 or s == total):
                losses.update(probe(net))
            progress.update(s, losses)
            with writer.as_default(step=s):
                if s % config.log_every == 0 or s == total:
                    for k, v in losses.items():
                        tf.summary.scalar(f"loss/{k}", v)
                    tf.summary.scalar("steps_per_second", (s - start) / (time.perf_counter() - t0))
                if test is not None and (s % config.image_every == 0 or s == total):
                    tf.summary.image("stylized_test_image", net(test) / 255.0)
            stop = bool(callback(s, losses)) if callback is not None else False
            if save and (s % config.checkpoint_every == 0 or s == total or stop or interrupt.requested):
                checkpoint.save(run_dir / checkpoint.CHECKPOINT, "fast", s,
                                {k: v.numpy() for k, v in named_variables(net).items()}, optimizer.variables,
                                next_index=int(next_index))
            if interrupt.requested:
                print(f"interrupted: checkpoint at step {s}; run the same command to resume", file=sys.stderr)
                raise KeyboardInterrupt
            if stop:
                break
    finally:
        progress.close()
        writer.flush()
        scratch.close()  # removes a worker's scratch folder (the chief writes the model below)
    if data.skipped:
        print(f"skipped {len(data.skipped)} unreadable image(s) of {len(data)}", file=sys.stderr)
    meta = {"style_image": str(config.style_image), "naming": config.naming, "steps": int(step),
            "config": dataclasses.asdict(config),
            "devices": strategy.num_replicas_in_sync, "workers": shard(strategy)[1],
            "seconds": round(time.perf_counter() - t0, 1),
            "resumed_from": start, "init": str(config.init) if config.init else None,
            "init_steps": init_meta.get("steps")}
    if multistyle:
        from nst.fast.newstyle import count
        from nst.fast.styles import save_style

        meta["learned_numbers"] = count(net)
        model = save_style(net.net, config.model_file, meta, config.train) if save and chief else None
    else:
        model = save_model(net, config.model_file, meta) if save and chief else None
    return {"step": int(step), "losses": losses, "model": model, "skipped": len(data.skipped),
            "seconds": time.perf_counter() - t0, "net": net}
