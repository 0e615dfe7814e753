"""``nst stylize`` (Gatys et al., every option of the classic neural-style tool) and ``nst plot-losses``."""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

DEFAULT_CONTENT = "content/chelsea.jpg"
DEFAULT_STYLE = "styles/swirls.jpg"
PRESET_NAMES = ("cs20si", "neural-style", "neural-style-fast")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.replace(",", " ").split())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers, got {text!r}") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.replace(",", " ").split())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers, got {text!r}") from None


def add_parser(sub) -> None:
    p = sub.add_parser("stylize", help="Gatys et al. optimisation-based style transfer (the CS20si assignment)",
                       description="Optimise an image so its VGG19 features match CONTENT and its Gram "
                                   "matrices match the STYLE images.")
    p.add_argument("content", nargs="?", default=DEFAULT_CONTENT, help=f"content image (default {DEFAULT_CONTENT})")
    p.add_argument("--styles", nargs="+", default=[DEFAULT_STYLE], metavar="STYLE", help="one or more style images")
    p.add_argument("-o", "--output", help="output image (default outputs/<run>/final.png)")
    p.add_argument("--preset", choices=list(PRESET_NAMES), default="cs20si",
                   help="defaults to start from (options given explicitly override them): cs20si (the handout's "
                        "Adam), neural-style (anishathalye/neural-style's defaults), neural-style-fast (the same "
                        "loss, L-BFGS from the content: that loss in under a third of the CPU time)")
    add = p.add_argument
    add("--iterations", type=int)
    add("--width", type=int, help="output width; height keeps the aspect ratio")
    add("--max-size", type=int, help="longest side of the output (default 333)")
    add("--scales", type=_ints, help="multi-scale, e.g. 512,1024,2048: optimise at each longest side in turn")
    add("--scale-fractions", type=_floats, help="coarse to fine as fractions of the output size, e.g. 0.5,1")
    add("--coarse-iterations", type=_ints, help="iterations at each scale before the last (default --iterations)")
    add("--content-weight", type=float)
    add("--content-weight-blend", type=float, help="share of conv4_2 in the content loss, rest conv5_2")
    add("--style-weight", type=float)
    add("--style-layer-weight-exp", type=float, help="style layer l weighs exp^l (normalised)")
    add("--style-blend-weights", type=_floats, help="weights of the style images, e.g. 0.7,0.3")
    add("--style-scales", type=_floats, help="size of each style relative to the content, e.g. 0.5,1")
    add("--tv-weight", type=float)
    add("--learning-rate", type=float)
    add("--beta1", type=float)
    add("--beta2", type=float)
    add("--epsilon", type=float)
    add("--pooling", choices=["avg", "max"])
    add("--optimizer", choices=["adam", "lbfgs"])
    add("--preserve-colors", action="store_true", help="keep the content's colours (luminance-only transfer)")
    add("--initial", help="content, style, noise, or an image file to start from")
    add("--initial-noiseblend", type=float, help="share of noise mixed into the initial image (0..1)")
    add("--noise", choices=["uniform", "normal"], help="uniform: grey + U(-20, 20) (cs20si); "
        "normal: mean pixel + N(0, 0.256) (neural-style)")
    add("--style-fit", choices=["stretch", "width"], help="stretch: style resized to the content's size (cs20si); "
        "width: to the content's width with its own aspect ratio, cropped or mirror-tiled (neural-style)")
    add("--network", choices=["vgg19", "vgg19-mat", "vgg19-keras"], help="weights source (default vgg19)")
    add("--precision", choices=["float32", "bfloat16", "float16"],
        help="VGG compute precision; bfloat16 pays off only on CPUs with AVX512_BF16/AMX or GPUs")
    add("--xla", action=argparse.BooleanOptionalAction,
        help="compile each step with XLA (off by default: measured no faster on a 2-core CPU, "
             "1.7x the memory at 1024 px, and its first step compiles for seconds)")
    add("--checkpoint-iterations", type=int, help="save a checkpoint every N iterations (enables resume)")
    add("--checkpoint-output", help="checkpoint image pattern, %%s = iteration (default <run>/checkpoint_%%s.png)")
    add("--print-iterations", type=int, help="print a line every N iterations when not on a terminal")
    add("--image-iterations", type=int, help="TensorBoard image every N iterations")
    add("--max-pixels", type=int, help="refuse images over this many pixels (default 4096*4096)")
    add("--logdir", help="TensorBoard log folder (default <run>/logs)")
    add("--run-dir", help="run folder (default outputs/<content>-<styles>-<hash>)")
    add("--impl", choices=["assignment", "solutions"], help="whose StyleTransfer to run (default: $NST_IMPL, else solutions/ if present, else assignment/)")
    add("--seed", type=int)
    p.set_defaults(func=run)

    q = sub.add_parser("plot-losses", help="plot a run's TensorBoard loss curves to a PNG")
    q.add_argument("logdir", help="TensorBoard log folder (or a run folder containing logs/)")
    q.add_argument("-o", "--output", default="loss_curves.png")
    q.set_defaults(func=plot_losses)


def config_from_args(args):
    from nst.gatys import PRESETS, Config

    values = dict(PRESETS[args.preset])
    fields = {f.name for f in dataclasses.fields(Config)}
    for name, value in vars(args).items():
        if name in fields and value is not None:
            values[name] = value
    return Config(**values)


def _check_inputs(args, config) -> None:
    """Every refusal happens here, before the run folder exists: files, ranges, image sizes."""
    from nst import gatys, images
    from nst.errors import NstError

    for path in [args.content] + list(args.styles):
        if not images.is_url(path) and not Path(path).is_file():
            hint = " (run `nst data setup` to create the default images)" if path in (DEFAULT_CONTENT, DEFAULT_STYLE) else ""
            raise NstError(f"{path}: no such file{hint}")
    if args.output:
        images.check_output_image(args.output)  # before any work: a bad -o is refused, not found at the end
    if config.checkpoint_output:
        images.check_output_image(config.checkpoint_output.replace("%s", "0"))
    gatys.validate(config, len(args.styles))
    for size, fraction, _ in gatys.stages_of(config):  # decodes every image, checks each scale's pixel budget
        content, styles = gatys.prepare_images(args.content, args.styles, config, size=size, fraction=fraction)
    gatys.initial_image(content, styles, config)


def run(args) -> int:
    from nst import gatys, images
    from nst.impl import default_impl

    config = config_from_args(args)
    args.impl = args.impl or default_impl()  # what runs, recorded in settings.json
    args.content = str(images.resolve_image(args.content))  # an http(s) URL: downloaded once, cached
    args.styles = [str(images.resolve_image(s)) for s in args.styles]
    _check_inputs(args, config)
    run_dir = Path(config.run_dir) if config.run_dir else gatys.run_dir_for(args.content, args.styles, config)
    config.run_dir = str(run_dir)
    config.logdir = config.logdir or str(run_dir / "logs")
    fresh = not run_dir.exists()
    created = images.first_missing_folder(run_dir)  # run_dir or a parent (outputs/): removed if the run stops early
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = {"content": args.content, "styles": args.styles, "preserve_colors": args.preserve_colors,
                "impl": args.impl, **dataclasses.asdict(config)}
    images.write_atomic(run_dir / "settings.json", json.dumps(settings, indent=2))
    print(f"run folder: {run_dir}", flush=True)

    try:
        result = gatys.stylize(args.content, args.styles, config, impl=args.impl)
    except BaseException:
        # a run that stopped before its first checkpoint (a stub's TODO, bad input, Ctrl-C) leaves nothing behind
        if fresh and created is not None and not (run_dir / "checkpoint.npz").exists():
            shutil.rmtree(created, ignore_errors=True)
        raise
    if args.preserve_colors:
        content = images.load_image(args.content, max_pixels=config.max_pixels)
        result = images.preserve_colors(images.resize(content, *result.shape[:2]), result)
    final = images.save_image(result, run_dir / "final.png")
    if args.output:
        final = images.save_image(result, args.output)
    print(f"saved {final}")
    return 0


def plot_losses(args) -> int:
    from nst.summaries import plot_loss_curves

    print(plot_loss_curves(args.logdir, args.output))
    return 0
