"""Render docs/images/part3_arbitrary.png with the published model through our code.

    python tools/make_part3_figure.py [--tile 160] [--seed 0]

Photos from content/, paintings from styles/ that the published model never saw (the
project paints them itself, tools/make_styles.py). Row 0: the four paintings, a 50/50 blend
of the first and last, the last at strength 0.5. Rows 1-2: two photos and their results.
Row 3: the interpolation strip from the first painting to the last on the first photo.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PHOTOS = ("chelsea", "astronaut")
PAINTINGS = ("swirls", "stained_glass", "composition", "tide")


def main() -> None:
    from nst.arbitrary.published import load_published
    from nst.arbitrary.stylize import Stylizer, center_square
    from nst.images import load_image, write_atomic
    from nst.runtime import set_seed
    from solutions import arbitrary

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tile", type=int, default=160)
    p.add_argument("--render", type=int, default=320, help="side each result is rendered at")
    p.add_argument("-o", "--output", default=str(REPO / "docs" / "images" / "part3_arbitrary.png"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    set_seed(args.seed)
    s = Stylizer(load_published(arbitrary))
    photos = [center_square(load_image(REPO / "content" / f"{n}.jpg"), args.render) for n in PHOTOS]
    paintings = [load_image(REPO / "styles" / f"{n}.jpg") for n in PAINTINGS]
    square = lambda img: center_square(img, args.render).round().astype(np.uint8)
    first, last = paintings[0], paintings[-1]
    split = square(first).copy()
    split[:, args.render // 2:] = square(last)[:, args.render // 2:]
    faded = (0.5 * square(last) + 127.5).astype(np.uint8)
    rows = [[np.full((args.render, args.render, 3), 255, np.uint8)] + [square(x) for x in paintings] + [split, faded]]
    for photo in photos:
        rows.append([square(photo)] + [s.stylize(photo, [x]) for x in paintings]
                    + [s.stylize(photo, [first, last], [1, 1]), s.stylize(photo, [last], strength=0.5)])
    strip = s.strip(photos[0], first, last, steps=len(rows[0]) - 2)
    rows.append(np.split(strip, strip.shape[1] // args.render, axis=1))
    shrink = lambda t: np.asarray(Image.fromarray(t).resize((args.tile, args.tile), Image.LANCZOS))
    grid = np.concatenate([np.concatenate([shrink(t) for t in r], axis=1) for r in rows], axis=0)
    image = Image.fromarray(grid).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    write_atomic(args.output, buf.getvalue())
    print(args.output, f"{len(buf.getvalue()) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
