"""``nst data``: the sample images.

    nst data list                      what is in content/ and styles/
    nst data setup                     export the content photos, paint the generated styles
    nst data fetch-classics [--only starry_night wave] [--force] [--mirror DIR]
    nst data sample-video [--source content/chelsea.jpg] [-o content/video/sample.mp4]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_parser(sub) -> None:
    from nst.data import CLASSICS, DEFAULT_MAX_SIZE

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=0,
                        help="random seed (only `setup` uses it, for the generated styles; default 0)")
    p = sub.add_parser("data", help="sample images: list them, set them up, fetch the classic paintings")
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")
    actions.required = True

    ls = actions.add_parser("list", parents=[common], help="list the images in content/ and styles/ with sizes")
    ls.add_argument("--content", type=Path, default=Path("content"), help="content folder (default content/)")
    ls.add_argument("--styles", type=Path, default=Path("styles"), help="styles folder (default styles/)")
    ls.set_defaults(func=run_list)

    st = actions.add_parser("setup", parents=[common],
                            help="export the CC0 photos into content/ and paint the styles into styles/, if missing")
    st.add_argument("--content", type=Path, default=Path("content"), help="content folder (default content/)")
    st.add_argument("--styles", type=Path, default=Path("styles"), help="styles folder (default styles/)")
    st.add_argument("--force", action="store_true", help="make them again even if present")
    st.set_defaults(func=run_setup)

    fc = actions.add_parser(
        "fetch-classics", parents=[common],
        help="download the public-domain paintings (Starry Night, The Scream, ...) from Wikimedia Commons",
        description="Download the classic paintings from Wikimedia Commons (or copy them from a local "
                    "mirror: --mirror DIR or $NST_DATA_MIRROR). $NST_DATA_BASE_URL replaces the "
                    "Commons Special:FilePath URL.")
    fc.add_argument("--dest", type=Path, default=Path("styles"), help="output folder (default styles/)")
    fc.add_argument("--only", nargs="+", choices=list(CLASSICS), metavar="NAME",
                    help=f"fetch only these: {', '.join(CLASSICS)}")
    fc.add_argument("--force", action="store_true", help="fetch again even if the file exists")
    fc.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE,
                    help=f"scale down to this long side in pixels (default {DEFAULT_MAX_SIZE})")
    fc.add_argument("--mirror", type=Path, default=None,
                    help="copy from this folder (DIR/styles/<name>.jpg or DIR/<name>.jpg) instead of downloading; "
                         "default $NST_DATA_MIRROR")
    fc.add_argument("--timeout", type=float, default=60, help="seconds to wait for a server (default 60)")
    fc.set_defaults(func=run_fetch)

    sv = actions.add_parser("sample-video", parents=[common],
                            help="make a short sample video (a pan across a photo) to try video stylization on")
    sv.add_argument("--source", type=Path, default=Path("content/chelsea.jpg"),
                    help="photo to film (default content/chelsea.jpg)")
    sv.add_argument("-o", "--output", type=Path, default=Path("content/video/sample.mp4"),
                    help="the .mp4 to write (default content/video/sample.mp4)")
    sv.add_argument("--frames", type=int, default=36, help="number of frames (default 36: 3 s at 12 fps)")
    sv.add_argument("--fps", type=float, default=12.0, help="frames per second (default 12)")
    sv.add_argument("--size", type=int, default=256, help="long side in pixels (default 256)")
    sv.add_argument("--force", action="store_true", help="make it again even if it exists")
    sv.set_defaults(func=run_video)


def run_fetch(args) -> int:
    from nst.data import fetch_classics

    mirror = args.mirror or (Path(os.environ["NST_DATA_MIRROR"]) if os.environ.get("NST_DATA_MIRROR") else None)
    report = fetch_classics(args.dest, names=args.only, force=args.force, max_size=args.max_size,
                            mirror=mirror, timeout=args.timeout, log=lambda line: print(line, flush=True))
    print(f"{len(report.fetched)} fetched, {len(report.skipped)} already there, "
          f"{len(report.failures)} failed -> {args.dest}")
    for failure in report.failures:
        print(f"error: {failure}", file=sys.stderr)
    return 2 if report.failures else 0


def run_list(args) -> int:
    from nst.data import CLASSICS, inventory

    for folder in (args.content, args.styles):
        if not folder.is_dir():
            print(f"{folder}/: missing (run `nst data setup`)")
            continue
        rows = inventory(folder)
        print(f"{folder}/: {len(rows)} image(s)")
        for path, size, nbytes in rows:
            dims = f"{size[0]}x{size[1]}" if size else "unreadable"
            print(f"  {path.name:<28} {dims:>11} {nbytes / 1024:>8.0f} KB")
    missing = [c.filename for c in CLASSICS.values() if not (args.styles / c.filename).exists()]
    if missing:
        print(f"classic paintings not fetched: {', '.join(missing)} (run `nst data fetch-classics`)")
    return 0


def run_setup(args) -> int:
    from nst.data import setup

    written = setup(args.content, args.styles, seed=args.seed, force=args.force,
                    log=lambda line: print(line, flush=True))
    print(f"{len(written)} file(s) written")
    return 0


def run_video(args) -> int:
    from nst.data import sample_video

    if args.output.exists() and not args.force:
        print(f"{args.output}: exists, kept (--force to make it again)")
        return 0
    path = sample_video(args.source, args.output, frames=args.frames, fps=args.fps, size=args.size, seed=args.seed)
    print(f"wrote {path} ({args.frames} frames at {args.fps:g} fps, {path.stat().st_size / 1024:.0f} KB)")
    return 0
