"""The README's contact sheet of the shipped fast styles: held-out photos at 512 px, one column per style.

    python models/make_contact_sheet.py [--out docs/images/part2_fast_styles.jpg] [--size 512]

Rows are content/ photos that no shipped model saw in training (``exclude_content`` in every
``conf/*_norm.yml``, checked here); the first column is the photo, then one column per model
of ``nst fast list`` trained with a ``conf/<name>_norm.yml`` (a row of the published 26-style
network; not the demo), each stylized at ``--size`` px on the long side (float32, strength 1).
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
HELD_OUT = ("chelsea.jpg", "coffee.jpg", "astronaut.jpg")


def check_held_out(names: list[str]) -> None:
    """Every model on the sheet must have excluded every contact-sheet photo (config and model file)."""
    from nst.fast.config import load_config
    from nst.fast.model import read_model
    from nst.fast.zoo import models_dir

    for name in names:
        conf = REPO / "conf" / f"{name}_norm.yml"
        trained = read_model(models_dir() / f"{name}.npz")[1]["config"].get("exclude_content", [])
        if not set(HELD_OUT) <= set(trained):
            raise SystemExit(f"models/{name}.npz saw a contact-sheet photo in training")
        if not set(HELD_OUT) <= set(load_config(conf).exclude_content):
            raise SystemExit(f"{conf}: exclude_content must hold {', '.join(HELD_OUT)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "part2_fast_styles.jpg")
    p.add_argument("--size", type=int, default=512, help="long side of each cell (default 512)")
    p.add_argument("--quality", type=int, default=85)
    p.add_argument("--seed", type=int, default=0, help="unused (inference is deterministic)")
    args = p.parse_args(argv)

    from nst.fast.stylize import Stylizer
    from nst.fast.zoo import models_dir, names
    from nst.images import fit_size, load_image, resize, write_atomic

    # the demo (no conf/*_norm.yml) was trained on every content/ photo: it has its own figure
    models = [m for m in names() if (REPO / "conf" / f"{m}_norm.yml").is_file()]
    check_held_out(models)
    photos = [resize(im, *fit_size(*im.shape[:2], max_size=args.size))
              for im in (load_image(REPO / "content" / n) for n in HELD_OUT)]
    label_h = 28
    widths = [args.size] * (1 + len(models))
    heights = [im.shape[0] for im in photos]
    sheet = Image.new("RGB", (sum(widths), label_h + sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    columns = [("photo (held out)", None)] + [(m, Stylizer(models_dir() / f"{m}.npz", impl="solutions")) for m in models]
    for c, (title, stylizer) in enumerate(columns):
        draw.text((c * args.size + 8, 8), title, fill="black")
        y = label_h
        for im in photos:
            out = im if stylizer is None else stylizer.stylize(im[None])[0]
            sheet.paste(Image.fromarray(np.round(out).astype(np.uint8)), (c * args.size, y))
            y += im.shape[0]
        print(f"{title}: done", file=sys.stderr, flush=True)
    buf = io.BytesIO()
    sheet.save(buf, format="JPEG", quality=args.quality, optimize=True)
    write_atomic(args.out, buf.getvalue())
    print(f"{args.out} ({sheet.width}x{sheet.height}, {len(buf.getvalue()) / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
