"""The shipped styles: trained models in the checkout's ``models/`` folder, by name.

``nst fast list`` prints them and the 26 styles of the published network (``published:K``); ``nst fast stylize --model NAME`` and ``nst fast train --init NAME``
take a name (``starry_night``) where they take a file. A name is the file's stem:
``models/<name>.npz``. ``$NST_MODELS_DIR`` points somewhere else (tests, a second collection).
"""
from __future__ import annotations

import os
from pathlib import Path

from nst.errors import NstError
from nst.fast.model import read_model

REPO = Path(__file__).resolve().parents[2]


def models_dir() -> Path:
    """``$NST_MODELS_DIR`` if set, else ``models/`` of the source checkout."""
    return Path(os.environ.get("NST_MODELS_DIR") or REPO / "models")


def names() -> list[str]:
    """The shipped styles' names, sorted (``models/*.npz``; sub-folders such as ``arbitrary/`` are not fast models)."""
    folder = models_dir()
    return sorted(p.stem for p in folder.glob("*.npz") if p.is_file()) if folder.is_dir() else []


def resolve(model: str | Path) -> Path:
    """``model`` itself if it is a file or looks like a path (``x.npz``, ``dir/x``: the model reader
    then reports a missing file); else ``models/<model>.npz``; else one clear NstError."""
    path = Path(model)
    if path.is_file() or path.suffix or len(path.parts) > 1:
        return path
    named = models_dir() / f"{model}.npz"
    if named.is_file():
        return named
    raise NstError(f"{model}: no such model file and no shipped style of that name "
                   f"(shipped: {', '.join(names()) or 'none'}; see `nst fast list`)")


def describe() -> list[dict]:
    """One row per shipped model: name, path, style, steps (from ``init``, if any), training crop, wall minutes, bytes."""
    rows = []
    for name in names():
        path = models_dir() / f"{name}.npz"
        _, meta = read_model(path)
        config = meta.get("config", {})
        minutes = meta.get("wall_minutes", meta["seconds"] / 60 if "seconds" in meta else None)
        init = meta.get("init")
        if meta.get("network") == "multistyle":   # a style of the published network (nst.fast.styles)
            init = f"{init} ({meta.get('train')})"
        elif init:
            init = Path(init).stem
        rows.append({"name": name, "path": path, "style": Path(str(meta.get("style_image", "?"))).name,
                     "steps": meta.get("steps"), "init": init,
                     "crop": config.get("image_size"), "minutes": minutes, "bytes": path.stat().st_size})
    return rows


def table(rows: list[dict]) -> str:
    """``nst fast list``'s text: one line per model."""
    if not rows:
        return f"no shipped styles in {models_dir()}"
    lines = [f"{'name':<20} {'style image':<22} {'steps':>6} {'from':<16} {'crop':>4} {'min':>5} {'size':>7}"]
    for r in rows:
        minutes = f"{r['minutes']:.0f}" if isinstance(r["minutes"], (int, float)) else "?"
        size = f"{r['bytes'] / 2**20:.1f} MB" if r["bytes"] >= 2**20 else f"{r['bytes'] / 2**10:.0f} KB"
        lines.append(f"{r['name']:<20} {r['style']:<22} {r['steps'] or '?':>6} {r['init'] or 'random':<16} "
                     f"{r['crop'] or '?':>4} {minutes:>5} {size:>7}")
    lines.append(f"use: nst fast stylize --model NAME photo.jpg   (files in {models_dir()})")
    return "\n".join(lines)


PUBLISHED_SHEET = "docs/images/part2_published_styles.jpg"


def published_table() -> str:
    """``nst fast list``'s second part: the 26 styles of the published network (one line each)."""
    from nst.fast.published import NUM_STYLES

    sheet = f"; thumbnails: {PUBLISHED_SHEET}" if (REPO / PUBLISHED_SHEET).is_file() else ""
    lines = [f"published styles (Dumoulin et al. 2017, `nst weights fetch magenta-multistyle`{sheet}):"]
    names = [f"published:{k}" for k in range(NUM_STYLES)]
    for i in range(0, NUM_STYLES, 7):
        lines.append("  " + "  ".join(f"{n:<12}" for n in names[i:i + 7]).rstrip())
    lines.append("use: nst fast stylize --model published:7 photo.jpg; blend: --model published:3 --model "
                 "published:19 --style-weights 0.6,0.4")
    return "\n".join(lines)
