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

from nst.arbitrary.config import ModelConfig, TrainConfig
from nst.blend import parse
from nst.errors import NstError
from nst.options import add_arguments, declared

DEFAULT_MODEL = "published"
IMAGE_OUT = (".png", ".jpg", ".jpeg")


def add_parser(sub) -> None:
    p = sub.add_parser("arbitrary", help="arbitrary style transfer: one network, any style image (Ghiasi et al. 2017)")
    asub = p.add_subparsers(dest="arbitrary_command", metavar="ACTION")
    asub.required = True

    def common(q, seed_default=0):
        q.add_argument("--seed", type=int, default=seed_default,
                       help="random seed (default: the config's)" if seed_default is None else "random seed (default 0)")
        q.add_argument("--impl", choices=["assignment", "solutions"], default=None,
                       help="student code to use (default: $NST_IMPL, else solutions/ if present, else assignment/)")

    t = asub.add_parser("train", help="train or fine-tune on a folder of photos and a folder of paintings")
    t.add_argument("--config", default="conf/arbitrary.yml", help="YAML settings (default conf/arbitrary.yml)")
    # every config key with a flag overrides the YAML (nst.arbitrary.config declares them once)
    add_arguments(t, TrainConfig, default_word="if the config omits it:")
    add_arguments(t, ModelConfig, default_word="if the config omits it:")
    t.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    t.add_argument("--workers", help="train on several machines: host:port of every worker, comma-separated "
                                     "(else the config's cluster: section, else TF_CONFIG; distributed.md of the docs)")
    t.add_argument("--worker-index", type=int, help="this machine's place in --workers (0 = the chief)")
    t.add_argument("--impl", choices=["assignment", "solutions"], default=None,
                   help="student code to use (default: $NST_IMPL, else solutions/ if present, else assignment/)")
    t.set_defaults(func=run_train)

    e = asub.add_parser("eval", help="style loss of a model per painting, averaged over photos (lower: closer)")
    e.add_argument("--model", default=DEFAULT_MODEL, help="`published` or a model .npz")
    e.add_argument("--content-dir", dest="content_dirs", action="append", required=True, help="photos (repeatable)")
    e.add_argument("--style", action="append", required=True, help="painting (repeatable)")
    e.add_argument("--config", default="conf/arbitrary.yml", help="loss network and style layers (default conf/arbitrary.yml)")
    e.add_argument("--size", type=int, default=256, help="centred square side of every image (default 256)")
    common(e)
    e.set_defaults(func=run_eval)

    for name, helptext in (("stylize", "render images, folders and videos in one or several styles"),
                           ("grid", "interpolation strip between two styles")):
        s = asub.add_parser(name, help=helptext)
        if name == "stylize":
            s.add_argument("inputs", nargs="+", metavar="INPUT",
                           help="image (a file or an https:// URL, downloaded once and cached), folder of images "
                                "or .mp4 video")
        else:
            s.add_argument("content", help="content image (a file or an https:// URL)")
        s.add_argument("--style", action="append", required=True, help="style image: any painting (repeatable)")
        s.add_argument("--model", default=DEFAULT_MODEL,
                       help="`published` (Magenta's model, the default) or a model/checkpoint .npz from training")
        s.add_argument("--max-size", type=int, help="resize the content to this longest side first")
        s.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                       help="bfloat16: faster on CPUs with AVX512_BF16")
        common(s)
    stylize, grid = asub.choices["stylize"], asub.choices["grid"]
    stylize.add_argument("-o", "--output", type=Path, default=Path("outputs/arbitrary"),
                         help="output folder (default outputs/arbitrary), or an image path for one input image")
    stylize.add_argument("--style-weights", help="comma-separated blend weights, one per --style")
    stylize.add_argument("--strength", type=float, default=1.0,
                         help="0 = the content's own style, 1 = the target style (default 1)")
    stylize.add_argument("--preserve-colors", action="store_true", help="keep the content's colours (luminance transfer)")
    stylize.add_argument("--max-frames", type=int, help="stylize only the first N frames of a video")
    stylize.set_defaults(func=run_stylize)
    grid.add_argument("-o", "--output", type=Path, required=True, help="output image (.png or .jpg)")
    grid.add_argument("--steps", type=int, default=5, help="images between the two styles (default 5)")
    grid.set_defaults(func=run_grid)


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

    if args.size < 32:
        raise NstError(f"--size must be at least 32, got {args.size}")
    _check_model(args.model)
    cfg = load_config(args.config if Path(args.config).is_file() else None)
    contents = collect_images(args.content_dirs)
    from nst.images import load_image

    styles = {Path(s).stem: load_image(s) for s in args.style}
    from nst.arbitrary.checkpoint import load_model
    from nst.arbitrary.train import style_losses
    from nst.impl import load
    from nst.runtime import set_seed

    set_seed(args.seed)
    model = load_model(args.model, load("arbitrary", args.impl))
    losses = style_losses(model, [load_image(c) for c in contents], styles, cfg, args.size)
    for name, value in losses.items():
        print(f"{name:<24} {value:.6g}")
    print(json.dumps(losses))
    return 0


def _check_model(model: str) -> None:
    if model != DEFAULT_MODEL and not Path(model).is_file():
        raise NstError(f"{model}: no such model file (use `published` or train one with `nst arbitrary train`)")


def _check_common(args: argparse.Namespace) -> None:
    if args.max_size is not None and args.max_size < 16:
        raise NstError(f"--max-size must be at least 16 pixels, got {args.max_size}")
    _check_model(args.model)


def _load(args: argparse.Namespace):
    """Style images first (cheap, and a bad one fails before the model loads), then the model."""
    from nst.arbitrary.stylize import MIN_SIDE
    from nst.images import load_image

    styles = []
    for s in args.style:
        image = load_image(s)
        if min(image.shape[:2]) < MIN_SIDE:
            raise NstError(f"{s}: style image is {image.shape[1]}x{image.shape[0]}; it needs at least {MIN_SIDE} px a side")
        styles.append(image)

    from nst.arbitrary.checkpoint import load_model
    from nst.arbitrary.stylize import Stylizer
    from nst.impl import load
    from nst.runtime import set_seed

    set_seed(args.seed)
    return styles, Stylizer(load_model(args.model, load("arbitrary", args.impl), precision=args.precision))


def run_stylize(args: argparse.Namespace) -> int:
    from nst.images import resolve_image
    from nst.media import plan

    weights = parse(args.style_weights, len(args.style), "--style image(s)")
    args.inputs = [resolve_image(spec) for spec in args.inputs]  # an http(s) URL: downloaded once, checked, cached
    if not 0.0 <= args.strength <= 1.0:
        raise NstError(f"--strength must be between 0 and 1, got {args.strength}")
    if args.max_frames is not None and args.max_frames < 1:
        raise NstError(f"--max-frames must be at least 1, got {args.max_frames}")
    _check_common(args)
    tag = "_".join(Path(s).stem for s in args.style)[:60]
    plan(args.inputs, args.output, tag)   # every input and the output checked before any work
    styles, stylizer = _load(args)
    from nst.arbitrary.stylize import MediaRunner

    runner = MediaRunner(stylizer, styles, weights, strength=args.strength, preserve_colors=args.preserve_colors,
                         max_size=args.max_size, tag=tag)
    for path in runner.run(args.inputs, args.output, max_frames=args.max_frames):
        print(path)
    return 0


def run_grid(args: argparse.Namespace) -> int:
    if len(args.style) != 2:
        raise NstError(f"grid takes exactly two --style images, got {len(args.style)}")
    if args.output.suffix.lower() not in IMAGE_OUT:
        raise NstError(f"{args.output}: output must end in .png or .jpg")
    if args.steps < 2:
        raise NstError(f"--steps must be at least 2, got {args.steps}")
    _check_common(args)
    from nst.images import fit_size, load_image, resize, resolve_image, save_image

    content = load_image(resolve_image(args.content))
    if args.max_size is not None:
        content = resize(content, *fit_size(*content.shape[:2], max_size=args.max_size))
    styles, stylizer = _load(args)
    save_image(stylizer.strip(content, styles[0], styles[1], args.steps), args.output)
    print(args.output, file=sys.stderr)
    return 0
