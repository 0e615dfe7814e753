"""``nst stylize`` (Gatys et al., every option of the classic neural-style tool) and ``nst plot-losses``."""
from __future__ import annotations

import shutil
from pathlib import Path

DEFAULT_CONTENT = "content/chelsea.jpg"
DEFAULT_STYLE = "styles/swirls.jpg"


def add_parser(sub) -> None:
    from nst.common_options import IMPLS
    from nst.gatys import PRESETS, Config
    from nst.options import add_arguments, deprecated_alias

    p = sub.add_parser("stylize", help="Gatys et al. optimisation-based style transfer (the CS20si assignment)",
                       description="Optimise an image so its VGG19 features match CONTENT and its Gram "
                                   "matrices match the STYLE images.")
    p.add_argument("content", nargs="?", default=DEFAULT_CONTENT, help=f"content image (default {DEFAULT_CONTENT})")
    p.add_argument("--style", action="append", metavar="STYLE",
                   help=f"a style image (file or URL); repeat for several (default {DEFAULT_STYLE})")
    deprecated_alias(p, "--styles", "--style A --style B", store="extend", dest="style", nargs="+")
    p.add_argument("-o", "--output", help="output image (default outputs/<run>/final.png)")
    p.add_argument("--preset", choices=list(PRESETS), default="cs20si",
                   help="defaults to start from (options given explicitly override them): cs20si (the handout's "
                        "Adam), neural-style (anishathalye/neural-style's defaults), neural-style-fast (the same "
                        "loss, L-BFGS from the content: the fastest to a good image, benchmarks.md of the docs)")
    p.add_argument("--preserve-colors", action="store_true", help="keep the content's colours (luminance-only transfer)")
    p.add_argument("--impl", choices=IMPLS,
                   help="whose StyleTransfer to run (default: $NST_IMPL, else solutions/ if present, else assignment/)")
    add_arguments(p, Config, PRESETS)   # every setting of a run, declared once on nst.gatys.Config
    p.set_defaults(func=run)

    q = sub.add_parser("plot-losses", help="plot a run's TensorBoard loss curves to a PNG")
    q.add_argument("logdir", help="TensorBoard log folder (or a run folder containing logs/)")
    q.add_argument("-o", "--output", default="loss_curves.png")
    q.set_defaults(func=plot_losses)


def _styles(args) -> list[str]:
    return args.style or [DEFAULT_STYLE]


def config_from_args(args):
    """The run's Config: the preset's values, then every option given on the command line."""
    from nst.gatys import PRESETS, Config
    from nst.options import settings_from_args

    return settings_from_args(Config, args, PRESETS, args.preset)


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
    from nst.runfolder import logs_dir

    args.styles = _styles(args)
    config = config_from_args(args)
    args.impl = args.impl or default_impl()  # what runs, recorded in settings.json
    args.content = str(images.resolve_image(args.content))  # an http(s) URL: downloaded once, cached
    args.styles = [str(images.resolve_image(s)) for s in args.styles]
    _check_inputs(args, config)
    run_dir = Path(config.run_dir) if config.run_dir else gatys.run_dir_for(args.content, args.styles, config)
    config.run_dir = str(run_dir)
    config.logdir = config.logdir or str(logs_dir(run_dir))
    fresh = not run_dir.exists()
    created = images.first_missing_folder(run_dir)  # run_dir or a parent (outputs/): removed if the run stops early
    run_dir.mkdir(parents=True, exist_ok=True)
    gatys.write_settings(run_dir, args.content, args.styles, config, impl=args.impl,
                         preserve_colors=args.preserve_colors)
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
