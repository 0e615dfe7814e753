"""Export scikit-image's public-domain / CC0 colour photographs into ``content/``.

    python -m nst.samples.photos [--dest content/] [--max-side 512] [--quality 90]
    (also ``python tools/export_content.py``; ``nst data setup`` runs it when a photo is missing)

The photographs ship inside the installed ``scikit-image`` package (``skimage/data/``),
so this needs no network. Each is resized so its long side is at most ``--max-side``
(Lanczos) and saved as a baseline JPEG; ``LICENSES.md`` beside them records where each
came from and its licence, quoted from the scikit-image docstrings. Same inputs give the
same bytes (Pillow's JPEG encoder is deterministic), and every file is written atomically.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from nst.errors import NstError
from nst.images import write_atomic

# name -> (skimage.data function, what it shows, origin, licence as scikit-image states it)
SAMPLES: dict[str, tuple[str, str, str, str]] = {
    "astronaut": ("astronaut", "Eileen Collins, NASA astronaut (portrait)",
                  "NASA Great Images database, https://flic.kr/p/r9qvLn",
                  "No known copyright restrictions, released into the public domain."),
    "coffee": ("coffee", "a cup of coffee on a wooden table, courtesy of Pikolo Espresso Bar",
               "photograph by Rachel Michetti",
               "No copyright restrictions. CC0 by the photographer (Rachel Michetti)."),
    "chelsea": ("chelsea", "Chelsea the cat",
                "photograph by Stefan van der Walt",
                "No copyright restrictions. CC0 by the photographer (Stefan van der Walt)."),
    "rocket": ("rocket", "launch of DSCOVR on a Falcon 9, Cape Canaveral",
               "SpaceX Photos, https://www.flickr.com/photos/spacexphotos/16511594820/",
               "The image was captured by SpaceX and released in the public domain."),
    "hubble_deep_field": ("hubble_deep_field", "Hubble eXtreme Deep Field",
                          "HubbleSite, http://hubblesite.org/newscenter/archive/releases/2012/37/image/a/",
                          "The image was captured by NASA and may be freely used in the public domain."),
}


def encode(rgb, *, max_side: int = 512, quality: int = 90) -> tuple[bytes, tuple[int, int]]:
    """uint8 (H, W, 3) -> JPEG bytes with the long side scaled down to ``max_side``."""
    from PIL import Image

    img = Image.fromarray(rgb).convert("RGB")
    scale = max_side / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue(), img.size


def licenses_markdown(sizes: dict[str, tuple[int, int]]) -> str:
    lines = ["# Content images: origin and licence", "",
             "Exported by `tools/export_content.py` from the sample data bundled with",
             "scikit-image (`skimage.data`, files in `skimage/data/` of the installed package).",
             "Origins and licences are as scikit-image documents them in each function's",
             "docstring (`help(skimage.data.<name>)`). Images were resized (long side <= 512 px)",
             "and re-encoded as JPEG; nothing else was changed.", "",
             "| file | size | shows | `skimage.data` | origin | licence |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, (func, what, origin, licence) in SAMPLES.items():
        w, h = sizes[name]
        lines.append(f"| {name}.jpg | {w}x{h} | {what} | `{func}()` | {origin} | {licence} |")
    return "\n".join(lines) + "\n"


def export_content(dest: Path, *, max_side: int = 512, quality: int = 90,
                   log=print) -> list[Path]:
    """Write ``dest/<name>.jpg`` for every sample and ``dest/LICENSES.md``; return the images."""
    try:
        import skimage.data
    except ImportError:
        raise NstError("the sample photos come from scikit-image, which is not installed: "
                       "pip install scikit-image (or the project's [test] extra)") from None

    written, sizes = [], {}
    for name, (func, *_rest) in SAMPLES.items():
        rgb = getattr(skimage.data, func)()
        data, sizes[name] = encode(rgb, max_side=max_side, quality=quality)
        path = dest / f"{name}.jpg"
        write_atomic(path, data)
        log(f"{path}  {sizes[name][0]}x{sizes[name][1]}  {len(data) / 1024:.0f} KB")
        written.append(path)
    write_atomic(dest / "LICENSES.md", licenses_markdown(sizes).encode())
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=Path("content"), help="output folder (default content/)")
    parser.add_argument("--max-side", type=int, default=512, help="long side in pixels (default 512)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    parser.add_argument("--seed", type=int, default=0, help="unused (nothing is random); accepted like every command")
    args = parser.parse_args(argv)
    export_content(args.dest, max_side=args.max_side, quality=args.quality)
    return 0


if __name__ == "__main__":
    sys.exit(main())
