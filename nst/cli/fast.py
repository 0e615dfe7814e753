"""``nst fast train|stylize|eval|list|export``: Johnson et al. feed-forward style transfer."""
from __future__ import annotations

from pathlib import Path

from nst.common_options import SeedOnly, Training, add_inputs
from nst.fast.config import Eval, Export, Stylize, TrainConfig
from nst.options import add_arguments, declared, deprecated_alias, options_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("fast", help="fast style transfer: train a network per style, stylize images and video")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    t = actions.add_parser("train", help="train a transformation network for one style (YAML config)")
    t.add_argument("--config", type=Path, required=True, help="YAML file, e.g. conf/stained_glass.yml")
    t.add_argument("--steps", type=int, help="stop after this many steps in all (default: the config's epochs)")
    # every config key with a flag overrides the YAML (nst.fast.config.TrainConfig declares them once)
    add_arguments(t, TrainConfig, default_word="if the config omits it:")
    t.add_argument("--run-dir", metavar="DIR",
                   help="the run folder, as for nst stylize and nst arbitrary train: sets model_path (its parent) "
                        "and naming (its name); the model is written beside it as DIR.npz")
    t.add_argument("--devices", type=int, default=1,
                   help="train on this many devices with MirroredStrategy (GPUs if any, else logical CPUs)")
    deprecated_alias(t, "--mixed-precision", "--precision bfloat16", store="const", const="bfloat16", dest="precision")
    add_arguments(t, Training)  # --workers, --worker-index, --impl: declared once for both training commands
    t.set_defaults(func=run_train, work_pixels=train_pixels)

    s = actions.add_parser("stylize", help="stylize images, folders of images and mp4 videos with a trained model")
    add_inputs(s)
    add_arguments(s, Stylize)  # declared once in nst.fast.config (the shared ones in nst.common_options)
    s.set_defaults(func=run_stylize)

    ev = actions.add_parser("eval", help="style and content losses of a model on held-out photos (lower: closer)")
    add_arguments(ev, Eval)
    ev.set_defaults(func=run_eval)

    ls = actions.add_parser("list", help="list the shipped styles (models/*.npz) with their training, and the 26 published styles")
    add_arguments(ls, SeedOnly)
    ls.set_defaults(func=run_list)

    e = actions.add_parser("export", help="export a trained model as a SavedModel or a TFLite file")
    add_arguments(e, Export)
    e.set_defaults(func=run_export)


def train_pixels(args) -> int | None:
    """A training step's largest image, image_size squared (the crops; ``--image-size`` or the config's key),
    read before TensorFlow is imported, for :func:`nst.onednn.choose`. ``None`` (unknown: guard the cliff) when
    the config does not say, or its painting (one pass at ``style_size``) is over 512 px, the largest measured."""
    from nst.errors import NstError
    from nst.files import read_yaml_mapping

    try:
        data = read_yaml_mapping(args.config)
    except NstError:
        return None  # the command itself reports the bad config
    size = args.image_size or data.get("image_size")
    style_size = args.style_size or data.get("style_size") or size
    if not (isinstance(size, int) and size > 0 and isinstance(style_size, int) and style_size <= 512):
        return None
    return size * size


def run_train(args) -> int:
    from nst.errors import NstError
    from nst.fast.train import train
    from nst.runtime import configure_threads

    if args.steps is not None and args.steps <= 0:
        raise NstError(f"--steps must be positive, got {args.steps}")
    configure_threads()
    config = train_config(args)
    strategy = _cluster_strategy(args, config.cluster) or _strategy(args.devices)
    from nst.distribute import lost_worker_errors

    with lost_worker_errors():
        result = train(config, steps=args.steps, impl=args.impl, strategy=strategy)
    losses = " ".join(f"{k}={v:.4g}" for k, v in result["losses"].items())
    print(f"step {result['step']}: {losses}")
    print(f"model: {result['model']}")
    print(f"tensorboard --logdir {config.run_dir / 'logs'}")
    return 0


def train_config(args) -> TrainConfig:
    """The YAML config (``--config``) with every config key given as a flag over it (None: not given)."""
    from nst.fast.config import load_config

    given = {f.name: getattr(args, f.name, None) for f, _ in declared(TrainConfig)}
    if getattr(args, "run_dir", None):
        if given["model_path"] is not None or given["naming"] is not None:
            from nst.errors import NstError

            raise NstError("--run-dir sets model_path and naming: give it or them, not both")
        run_dir = Path(args.run_dir)
        given.update(model_path=str(run_dir.parent), naming=run_dir.name)
    config = load_config(args.config, **given)
    return _own_name(config, given=given["naming"] is not None)


def _own_name(config, given: bool):
    """A trained model never takes a shipped model's name (its outputs would pass for the shipped model's):
    a config's ``naming`` that is one becomes ``<naming>_mine``; a --naming that is one is refused."""
    import dataclasses

    from nst.errors import NstError
    from nst.fast.zoo import models_dir, names

    if config.naming not in names():
        return config
    shipped = models_dir() / f"{config.naming}.npz"
    if given:
        raise NstError(f"--naming {config.naming}: a shipped model has that name ({shipped}); choose another")
    own = f"{config.naming}_mine"
    print(f"note: {config.naming} is a shipped model's name ({shipped}); your model is named {own} "
          "(--naming chooses another)")
    return dataclasses.replace(config, naming=own)


def _cluster_strategy(args, cluster: dict | None):
    """MultiWorkerMirroredStrategy when --workers, cluster: or TF_CONFIG name several workers, else None."""
    from nst.distribute import configure, multi_worker_strategy
    from nst.errors import NstError

    configure(args.workers, args.worker_index, cluster)
    strategy = multi_worker_strategy()
    if strategy is not None and args.devices != 1:
        raise NstError("--devices is for one machine; each worker of a cluster uses all its GPUs (or one CPU)")
    return strategy


def _strategy(devices: int):
    import tensorflow as tf

    from nst.errors import NstError

    if devices < 1:
        raise NstError(f"--devices must be at least 1, got {devices}")
    if devices == 1:
        return None
    gpus = tf.config.list_logical_devices("GPU")
    pool = gpus or tf.config.list_logical_devices("CPU")
    if len(pool) < devices:
        raise NstError(f"--devices {devices}: only {len(pool)} device(s) visible")
    return tf.distribute.MirroredStrategy([d.name for d in pool[:devices]])


def _record(specs: list[str]) -> dict:
    """The provenance of outputs made by ``specs``: a published style counts as shipped; a blend is
    shipped when any of its styles is (it is then never packed as the student's own)."""
    from nst.fast.styles import is_published
    from nst.fast.zoo import models_dir, resolve
    from nst.provenance import model_record

    records = [{"model": str(s), "sha256": None, "shipped": True, "name": str(s)} if is_published(s)
               else model_record(resolve(s), models_dir()) for s in specs]
    if len(records) == 1:
        return records[0]
    return {**records[0], "shipped": any(r["shipped"] for r in records), "blend": records}


def run_stylize(args) -> int:
    from nst.blend import normalised
    from nst.errors import NstError
    from nst.fast.styles import is_published
    from nst.fast.stylize import Stylizer
    from nst.fast.zoo import resolve
    from nst.images import resolve_image
    from nst.media import plan
    from nst.provenance import write_sidecar
    from nst.runtime import configure_threads, set_seed

    o = options_from_args(Stylize, args)  # every option checked against its declaration
    inputs = [resolve_image(spec) for spec in args.inputs]  # an http(s) URL: downloaded once, checked, cached
    if o.style_weights is not None:
        normalised(o.style_weights, len(o.model), "--model style(s)")
    for spec in o.model:
        if not is_published(spec) and not resolve(spec).is_file():
            raise NstError(f"{spec}: no such model file (published:K, a shipped style's name or a .npz "
                           "from `nst fast train`)")
    output = Path(o.output)
    plan(inputs, output, "check")  # every input and the output folder checked before any work
    set_seed(o.seed)
    configure_threads()
    stylizer = Stylizer(o.model, impl=o.impl, precision=o.precision, max_size=o.max_size,
                        preserve_colors=o.preserve_colors, strength=o.strength, batch_size=o.batch_size,
                        style_weights=o.style_weights and list(o.style_weights))
    record = _record(o.model)  # which model made each output: <output>.model.json
    for path in stylizer.run(inputs, output, max_frames=o.max_frames):
        write_sidecar(path, record)
        print(path)
    return 0


def run_eval(args) -> int:
    import json

    from nst.blend import normalised
    from nst.fast.evaluate import load_photos, losses
    from nst.fast.styles import load
    from nst.images import load_image
    from nst.runtime import configure_threads, set_seed

    o = options_from_args(Eval, args)
    if o.style_weights is not None:
        normalised(o.style_weights, len(o.model), "--model style(s)")
    style = load_image(o.style)
    photos = load_photos(o.content_dir)
    set_seed(o.seed)
    configure_threads()
    net, _ = load(o.model, o.impl, weights=o.style_weights and list(o.style_weights))
    result = losses(net, photos, style, size=o.size)
    print(f"{'photo':<24} {'style':>10} {'content':>10}")
    for name, row in result.items():
        print(f"{name:<24} {row['style']:>10.4g} {row['content']:>10.4g}")
    print(json.dumps(result))
    return 0


def run_list(args) -> int:
    from nst.fast.zoo import describe, published_table, table

    print(table(describe()))
    print()
    print(published_table())
    return 0


def run_export(args) -> int:
    from nst.fast.export import export
    from nst.fast.styles import is_published
    from nst.fast.zoo import resolve

    o = options_from_args(Export, args)
    model = o.model if o.model == "published" or is_published(o.model) else resolve(o.model)
    print(export(model, o.format, o.output and Path(o.output)))
    return 0
