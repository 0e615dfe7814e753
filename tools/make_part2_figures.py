"""Render part 2's figures of the published 26-style network through our code (solutions/).

    python tools/make_part2_figures.py PHOTO_FOLDER [--sheet-photo content/chelsea.jpg]

``docs/images/part2_published_styles.jpg``: the contact sheet of ``nst fast list``, one
thumbnail per style ``published:0`` .. ``published:25`` of ``--sheet-photo`` (rendered at 384 px).
``docs/images/part2_published_sizes.jpg``: photos the published network never saw (the first
two images of PHOTO_FOLDER, sorted by name) in three styles at 512 px on the long side, and a
full-resolution 512 px crop of the same photo rendered at 1024 px, where the strokes are meant
to be seen (they keep their size in pixels, so a larger render shows more, finer strokes).
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
STYLES = (7, 13, 19)


def _jpeg(grid: np.ndarray, path: Path) -> None:
    from nst.images import write_atomic

    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, "JPEG", quality=85)
    print(write_atomic(path, buf.getvalue()))


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    img = Image.fromarray(tile)
    ImageDraw.Draw(img).rectangle((0, 0, 8 * len(text) + 6, 16), fill=(255, 255, 255))
    ImageDraw.Draw(img).text((3, 2), text, fill=(0, 0, 0))
    return np.asarray(img)


def sheet(net, photo: np.ndarray, out: Path, tile: int = 192, cols: int = 7) -> None:
    from nst.images import fit_size, resize, to_uint8

    x = resize(photo, *fit_size(*photo.shape[:2], max_size=384))
    tiles = [_label(to_uint8(resize(x, tile, tile)), "photo")]
    for k in range(26):
        w = np.eye(26, dtype=np.float32)[k]
        y = net(x[None], w).numpy()[0]
        tiles.append(_label(to_uint8(resize(y, tile, tile)), str(k)))
    tiles += [np.full((tile, tile, 3), 255, np.uint8)] * (-len(tiles) % cols)
    rows = [np.concatenate(tiles[i:i + cols], axis=1) for i in range(0, len(tiles), cols)]
    _jpeg(np.concatenate(rows, axis=0), out)


def sizes(net, photos: list[np.ndarray], out: Path, side: int = 512) -> None:
    """Rows: each photo and its three styles at 512 px (each tile scaled to 256), then the first
    style rendered at 1024 px, a 512 px crop of its centre shown at full resolution (scaled to 256)."""
    from nst.images import fit_size, resize, to_uint8

    tile = side // 2
    rows = []
    for photo in photos:
        small = resize(photo, *fit_size(*photo.shape[:2], max_size=side))
        large = resize(photo, *fit_size(*photo.shape[:2], max_size=2 * side))
        cells = [_label(to_uint8(resize(small, tile, tile)), "photo")]
        for k in STYLES:
            y = net(small[None], np.eye(26, dtype=np.float32)[k]).numpy()[0]
            cells.append(_label(to_uint8(resize(y, tile, tile)), f"{k} @512"))
        y = net(large[None], np.eye(26, dtype=np.float32)[STYLES[0]]).numpy()[0]
        h, w = y.shape[:2]
        crop = y[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2]
        cells.append(_label(to_uint8(resize(crop, tile, tile)), f"{STYLES[0]} @1024 crop"))
        rows.append(np.concatenate(cells, axis=1))
    _jpeg(np.concatenate(rows, axis=0), out)


def main() -> None:
    from nst.fast.multistyle import MultiStyleNet, assign_published
    from nst.fast.published import load_arrays
    from nst.images import list_images, load_image
    from solutions import transformer_net

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photos", type=Path, help="folder of photos the published network never saw")
    p.add_argument("--sheet-photo", type=Path, default=REPO / "content" / "chelsea.jpg")
    p.add_argument("--out-dir", type=Path, default=REPO / "docs" / "images")
    args = p.parse_args()
    files = list_images(args.photos)[:2]
    if not files:
        raise SystemExit(f"{args.photos}: no images")
    net = MultiStyleNet(transformer_net, 26)
    assign_published(net, load_arrays())
    sheet(net, load_image(args.sheet_photo), args.out_dir / "part2_published_styles.jpg")
    sizes(net, [load_image(f) for f in files], args.out_dir / "part2_published_sizes.jpg")


if __name__ == "__main__":
    main()
