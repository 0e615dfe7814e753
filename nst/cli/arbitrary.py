"""`nst arbitrary`: train, stylize and grid for arbitrary style transfer (Ghiasi et al. 2017).

The default model is Magenta's published one (``published``: fetched with
``nst weights fetch magenta-arbitrary`` on first use), run by our networks around the
student's conditional instance norm and style head (``--impl``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nst.arbitrary.config import Eval, Grid, ModelConfig, Stylize, TrainConfig
from nst.blend import normalised
from nst.common_options import PRECISIONS, Training, add_inputs
from nst.errors import NstError
from nst.options import add_arguments, declared, deprecated_alias, options_from_args

DEFAULT_MODEL = "published"


def add_parser(sub) -> None:
    p = sub.add_parser("arbitrary", help="arbitrary style transfer: one network, any style image (Ghiasi et al. 2017)")
    asub = p.add_subparsers(dest="arbitrary_command", metavar="ACTION")
    asub.required = True

    t = asub.add_parser("train", help="train or fine-tune on a folder of photos and a folder of paintings")
    t.add_argument("--config", default="conf/arbitrary.yml", help="YAML settings (default conf/arbitrary.yml)")
    # every config key with a flag overrides the YAML (nst.arbitrary.config declares them once)
    add_arguments(t, TrainConfig, default_word="if the config omits it:")
    add_arguments(t, ModelConfig, default_word="if the config omits it:")
    t.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    add_arguments(t, Training)  # --workers, --worker-index, --impl: declared once for both training commands
    deprecated_alias(t, "--mixed-precision", "--precision", dest="precision", type=_legacy_precision,
                     choices=["none", *PRECISIONS])
    t.set_defaults(func=run_train)

    e = asub.add_parser("eval", help="style loss of a model per painting, averaged over photos (lower: closer)")
    add_arguments(e, Eval)
    e.set_defaults(func=run_eval)

    s = asub.add_parser("stylize", help="render images, folders and videos in one or several styles")
    add_inputs(s)
    add_arguments(s, Stylize)  # declared once in nst.arbitrary.config (the shared ones in nst.common_options)
    s.set_defaults(func=run_stylize)

    g = asub.add_parser("grid", help="interpolation strip between two styles")
    g.add_argument("content", help="content image (a file or an https:// URL)")
    add_arguments(g, Grid)
    g.set_defaults(func=run_grid)


def _legacy_precision(value: str) -> str:
    """--mixed-precision's values before 2026-12: none is float32."""
    return "float32" if value == "none" else value


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The YAML config (``--config``) with every key given as a flag over it (None: not given)."""
    from nst.arbitrary.config import load_config

    model = {f.name: getattr(args, f.name) for f, _ in declared(ModelConfig) if getattr(args, f.name, None) is not None}
    return load_config(args.config, model=model,
                       **{f.name: getattr(args, f.name, None) for f, _ in declared(TrainConfig)})


def run_train(args: argparse.Namespace) -> int:
    cfg = train_config(args)
    from nst.distribute import configure, lost_worker_errors

    configure(args.workers, args.worker_index, cfg.cluster)  # before TensorFlow: bad settings fail fast
    from nst.arbitrary.train import train
    from nst.impl import load

    impl = load("arbitrary", args.impl)
    with lost_worker_errors():
        result = train(cfg, impl, resume=not args.no_resume)
    print(json.dumps(result, default=str))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from nst.arbitrary.config import load_config
    from nst.arbitrary.data import collect_images

    o = options_from_args(Eval, args)
    _check_model(o.model)
    cfg = load_config(o.config if Path(o.config).is_file() else None)
    contents = collect_images(o.content_dir)
    from nst.images import load_image

    styles = {Path(s).stem: load_image(s) for s in o.style}
    from nst.arbitrary.checkpoint import load_model
    from nst.arbitrary.train import style_losses
    from nst.impl import load
    from nst.runtime import set_seed

    set_seed(o.seed)
    model = load_model(o.model, load("arbitrary", o.impl))
    losses = style_losses(model, [load_image(c) for c in contents], styles, cfg, o.size)
    for name, value in losses.items():
        print(f"{name:<24} {value:.6g}")
    print(json.dumps(losses))
    return 0


def _check_model(model: str) -> None:
    if model != DEFAULT_MODEL and not Path(model).is_file():
        raise NstError(f"{model}: no such model file (use `published` or train one with `nst arbitrary train`)")


def _load(o: Stylize | Grid):
    """Style images first (cheap, and a bad one fails before the model loads), then the model."""
    from nst.arbitrary.stylize import MIN_SIDE
    from nst.images import load_image

    styles = []
    for s in o.style:
        image = load_image(s)
        if min(image.shape[:2]) < MIN_SIDE:
            raise NstError(f"{s}: style image is {image.shape[1]}x{image.shape[0]}; it needs at least {MIN_SIDE} px a side")
        styles.append(image)

    from nst.arbitrary.checkpoint import load_model
    from nst.arbitrary.stylize import Stylizer
    from nst.impl import load
    from nst.runtime import set_seed

    set_seed(o.seed)
    return styles, Stylizer(load_model(o.model, load("arbitrary", o.impl), precision=o.precision))


def run_stylize(args: argparse.Namespace) -> int:
    from nst.images import resolve_image
    from nst.media import plan

    o = options_from_args(Stylize, args)  # every option checked against its declaration
    weights = None if o.style_weights is None else list(o.style_weights)
    if weights is not None:
        normalised(weights, len(o.style), "--style image(s)")
    inputs = [resolve_image(spec) for spec in args.inputs]  # an http(s) URL: downloaded once, checked, cached
    _check_model(o.model)
    tag = "_".join(Path(s).stem for s in o.style)[:60]
    output = Path(o.output)
    plan(inputs, output, tag)   # every input and the output checked before any work
    styles, stylizer = _load(o)
    from nst.arbitrary.stylize import MediaRunner

    runner = MediaRunner(stylizer, styles, weights, strength=o.strength, preserve_colors=o.preserve_colors,
                         max_size=o.max_size, tag=tag)
    for path in runner.run(inputs, output, max_frames=o.max_frames):
        print(path)
    return 0


def run_grid(args: argparse.Namespace) -> int:
    from nst.media import OUTPUT_IMAGE

    o = options_from_args(Grid, args)
    if len(o.style) != 2:
        raise NstError(f"grid takes exactly two --style images, got {len(o.style)}")
    output = Path(o.output)
    if output.suffix.lower() not in OUTPUT_IMAGE:
        raise NstError(f"{output}: output must end in .png or .jpg")
    _check_model(o.model)
    from nst.images import fit_size, load_image, resize, resolve_image, save_image

    content = load_image(resolve_image(args.content))
    if o.max_size is not None:
        content = resize(content, *fit_size(*content.shape[:2], max_size=o.max_size))
    styles, stylizer = _load(o)
    save_image(stylizer.strip(content, styles[0], styles[1], o.steps), output)
    print(output, file=sys.stderr)
    return 0
