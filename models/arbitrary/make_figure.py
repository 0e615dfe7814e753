"""Render docs/images/part3_arbitrary.png from the demo model.

    python models/arbitrary/make_figure.py [--model models/arbitrary/model.npz] [--seed 0]

Top row: photo | seen style (The Great Wave) -> result | unseen style (The Starry Night) ->
result | The Starry Night at strength 0.5 | 50/50 blend. Bottom row: the interpolation strip
from The Great Wave to The Starry Night. Tiles are rendered at --render px, shown at --tile px.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def main() -> None:
    from nst.arbitrary.checkpoint import load_model
    from nst.arbitrary.stylize import Stylizer, center_square
    from nst.images import load_image, write_atomic
    from nst.runtime import set_seed
    from solutions import arbitrary

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(REPO / "models" / "arbitrary" / "model.npz"))
    p.add_argument("--shared", default=str(REPO.parent / "shared" / "images"))
    p.add_argument("--render", type=int, default=192)
    p.add_argument("--tile", type=int, default=128)
    p.add_argument("-o", "--output", default=str(REPO / "docs" / "images" / "part3_arbitrary.png"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    set_seed(args.seed)
    shared = Path(args.shared)
    s = Stylizer(load_model(args.model, arbitrary))
    content = center_square(load_image(shared / "content" / "tubingen.jpg"), args.render)
    seen = load_image(shared / "styles" / "wave.jpg")
    unseen = load_image(shared / "styles" / "starry_night.jpg")
    square = lambda img: center_square(img, args.render).round().astype(np.uint8)
    top = [square(content), square(seen), s.stylize(content, [seen]), square(unseen), s.stylize(content, [unseen]),
           s.stylize(content, [unseen], strength=0.5), s.stylize(content, [seen, unseen], [1, 1])]
    strip = s.strip(content, seen, unseen, steps=5)
    bottom = np.split(strip, strip.shape[1] // args.render, axis=1)
    tiles = [np.asarray(Image.fromarray(t).resize((args.tile, args.tile), Image.LANCZOS)) for t in top + bottom]
    n = len(top)
    grid = np.concatenate([np.concatenate(tiles[:n], axis=1), np.concatenate(tiles[n:], axis=1)], axis=0)
    image = Image.fromarray(grid).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    write_atomic(args.output, buf.getvalue())
    print(args.output, f"{len(buf.getvalue()) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
