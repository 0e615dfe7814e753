"""`nst arbitrary`: train, stylize and grid for arbitrary style transfer (Ghiasi et al. 2017)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nst.errors import NstError

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "arbitrary" / "model.npz"


def add_parser(sub) -> None:
    p = sub.add_parser("arbitrary", help="arbitrary style transfer: one network, any style image (Ghiasi et al. 2017)")
    asub = p.add_subparsers(dest="arbitrary_command", metavar="ACTION")
    asub.required = True

    def common(q, seed_default=0):
        q.add_argument("--seed", type=int, default=seed_default,
                       help="random seed (default: the config's)" if seed_default is None else "random seed (default 0)")
        q.add_argument("--impl", choices=["assignment", "solutions"], default=None,
                       help="student code to use (default: $NST_IMPL or solutions)")

    t = asub.add_parser("train", help="train on a folder of photos and a folder of paintings")
    t.add_argument("--config", default="conf/arbitrary.yml", help="YAML settings (default conf/arbitrary.yml)")
    t.add_argument("--out", dest="out_dir", help="output folder (checkpoint.npz, model.npz, tb/)")
    t.add_argument("--content-dir", dest="content_dirs", action="append", help="photo folder (repeatable)")
    t.add_argument("--style-dir", dest="style_dirs", action="append", help="painting folder (repeatable)")
    t.add_argument("--steps", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--predictor", choices=["vgg19", "inception_v3"])
    t.add_argument("--inception-weights", help="Keras weights file for --predictor inception_v3")
    t.add_argument("--mixed-precision", choices=["none", "bfloat16", "float16"])
    t.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    common(t, seed_default=None)
    t.set_defaults(func=run_train)

    for name, helptext in (("stylize", "render CONTENT in one or several styles"),
                           ("grid", "interpolation strip between two styles")):
        s = asub.add_parser(name, help=helptext)
        s.add_argument("content", help="content image")
        s.add_argument("--style", action="append", required=True, help="style image (repeatable)")
        s.add_argument("-o", "--output", required=True, help="output image (.png or .jpg)")
        s.add_argument("--model", default=str(DEFAULT_MODEL), help="model or checkpoint .npz (default: the demo model)")
        s.add_argument("--max-size", type=int, help="resize the content to this longest side first")
        s.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
        common(s)
    stylize, grid = asub.choices["stylize"], asub.choices["grid"]
    stylize.add_argument("--style-weights", help="comma-separated blend weights, one per --style")
    stylize.add_argument("--strength", type=float, default=1.0,
                         help="0 = the content's own style, 1 = the target style (default 1)")
    stylize.set_defaults(func=run_stylize)
    grid.add_argument("--steps", type=int, default=5, help="images between the two styles (default 5)")
    grid.set_defaults(func=run_grid)


def run_train(args: argparse.Namespace) -> int:
    from nst.arbitrary.config import load_config

    model = {k: v for k, v in (("predictor", args.predictor), ("inception_weights", args.inception_weights)) if v}
    cfg = load_config(args.config, out_dir=args.out_dir, content_dirs=args.content_dirs, style_dirs=args.style_dirs,
                      steps=args.steps, batch_size=args.batch_size, mixed_precision=args.mixed_precision,
                      seed=args.seed, model=model)
    from nst.arbitrary.train import train
    from nst.impl import load

    impl = load("arbitrary", args.impl)
    result = train(cfg, impl, resume=not args.no_resume)
    print(json.dumps(result, default=str))
    return 0


def _weights(text: str | None, n: int) -> list[float] | None:
    if text is None:
        return None
    try:
        weights = [float(w) for w in text.split(",")]
    except ValueError:
        raise NstError(f"--style-weights must be comma-separated numbers, got {text!r}") from None
    if len(weights) != n:
        raise NstError(f"{n} --style image(s) but {len(weights)} --style-weights")
    return weights


def _prepare(args: argparse.Namespace):
    """Validate cheap things first, then load images and the model (imports TensorFlow)."""
    from nst.images import fit_size, load_image, resize

    if Path(args.output).suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise NstError(f"{args.output}: output must end in .png or .jpg")
    if not Path(args.model).is_file():
        raise NstError(f"{args.model}: no such model file (train one with `nst arbitrary train`)")
    content = load_image(args.content)
    styles = [load_image(s) for s in args.style]
    if args.max_size is not None:
        content = resize(content, *fit_size(*content.shape[:2], max_size=args.max_size))

    from nst.arbitrary.checkpoint import load_model
    from nst.arbitrary.stylize import Stylizer
    from nst.impl import load
    from nst.runtime import set_seed

    set_seed(args.seed)
    return content, styles, Stylizer(load_model(args.model, load("arbitrary", args.impl), precision=args.precision))


def run_stylize(args: argparse.Namespace) -> int:
    weights = _weights(args.style_weights, len(args.style))
    if not 0.0 <= args.strength <= 1.0:
        raise NstError(f"--strength must be between 0 and 1, got {args.strength}")
    content, styles, stylizer = _prepare(args)
    from nst.images import save_image

    save_image(stylizer.stylize(content, styles, weights, args.strength), args.output)
    print(args.output, file=sys.stderr)
    return 0


def run_grid(args: argparse.Namespace) -> int:
    if len(args.style) != 2:
        raise NstError(f"grid takes exactly two --style images, got {len(args.style)}")
    content, styles, stylizer = _prepare(args)
    from nst.images import save_image

    save_image(stylizer.strip(content, styles[0], styles[1], args.steps), args.output)
    print(args.output, file=sys.stderr)
    return 0
