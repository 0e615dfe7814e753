"""Paint the project's own style images: procedural, deterministic, free to reuse.

    python -m nst.samples.paintings [--seed 0] [--dest styles/] [--size 512] [--only NAME ...]
    (also ``python tools/make_styles.py``; ``nst data setup`` runs it when a style is missing)

Four painters, each a small function of a NumPy random generator:

* ``stained_glass`` -- a rose window: Voronoi cells of jewel-coloured glass, mottled and
  lit from behind, held together by dark lead came;
* ``swirls`` -- thousands of short curved brush strokes that follow a vortex flow field
  (a night sky of spiralling stars over hills, after the manner of Van Gogh);
* ``composition`` -- a hand-ruled grid of warm colour blocks, hatched and dotted, with a
  sun and roofs (after Paul Klee's squares and Mondrian's black lines);
* ``tide`` -- flat bands of ocean colour twisted into curling crests with foam (after
  Japanese woodblock prints).

Style transfer copies texture statistics (Gram matrices of VGG features), so each image
has strong colour contrast and texture at several scales: strokes, cells, grain. Same
``--seed`` gives the same bytes. Uses only NumPy, SciPy and Pillow.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.spatial import cKDTree

from nst.images import write_atomic

QUALITY = 90


# ----------------------------------------------------------------------------- helpers
def fractal_noise(rng: np.random.Generator, size: int, scales=(64, 16, 4), weights=(1.0, 0.5, 0.25)) -> np.ndarray:
    """Sum of smooth random fields with feature sizes ``scales`` (pixels); zero mean, unit std."""
    out = np.zeros((size, size), np.float32)
    for scale, weight in zip(scales, weights):
        n = max(2, size // scale + 2)
        grid = rng.standard_normal((n, n)).astype(np.float32)
        out += weight * ndimage.zoom(grid, size / (n - 1), order=3)[:size, :size]
    return (out - out.mean()) / (out.std() + 1e-6)


def hex_palette(*codes: str) -> np.ndarray:
    return np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in codes], np.float32)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def canvas_grain(rng: np.random.Generator, size: int, strength: float = 6.0) -> np.ndarray:
    """Fine woven-canvas texture, (size, size, 1), to add to an RGB image."""
    yy, xx = np.mgrid[0:size, 0:size]
    weave = np.sin(xx * 1.9) * np.sin(yy * 1.9)
    fibre = ndimage.gaussian_filter(rng.standard_normal((size, size)), (0.6, 2.5))
    return (strength * (0.5 * weave + 2.0 * fibre))[..., None].astype(np.float32)


def draw_strokes(draw: ImageDraw.ImageDraw, paths: np.ndarray, colors: np.ndarray, widths: np.ndarray,
                 rng: np.random.Generator, shade: float = 0.72, light: float = 1.25) -> None:
    """Paint each polyline as a brush stroke: dark body, the colour, then a thin highlight.

    ``paths`` is (N, steps, 2) in pixel coordinates; ``colors`` (N, 3); ``widths`` (N,).
    """
    for path, color, width in zip(paths, colors, widths):
        pts = [tuple(p) for p in path.round(1).tolist()]
        w = int(width)
        draw.line(pts, fill=tuple(int(c) for c in np.clip(color * shade, 0, 255)), width=w + 2)
        draw.line(pts, fill=tuple(int(c) for c in np.clip(color, 0, 255)), width=w)
        offset = rng.uniform(-0.3, 0.3, 2) * w
        hi = [(x + offset[0], y + offset[1]) for x, y in pts[1:-1]]
        if len(hi) > 1:
            draw.line(hi, fill=tuple(int(c) for c in np.clip(color * light, 0, 255)), width=max(1, w // 3))


def trace(field_angle: np.ndarray, starts: np.ndarray, steps: int, step_len: np.ndarray) -> np.ndarray:
    """Follow the direction field ``field_angle`` (radians per pixel) from ``starts`` (N, 2 as x, y)."""
    size = field_angle.shape[0]
    pts = np.empty((len(starts), steps, 2), np.float32)
    p = starts.astype(np.float32).copy()
    for i in range(steps):
        pts[:, i] = p
        ix = np.clip(p[:, 0].astype(int), 0, size - 1)
        iy = np.clip(p[:, 1].astype(int), 0, size - 1)
        a = field_angle[iy, ix]
        p = p + step_len[:, None] * np.stack([np.cos(a), np.sin(a)], axis=1)
    return pts


def finish(img: np.ndarray, size: int) -> Image.Image:
    out = Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8))
    return out if out.size == (size, size) else out.resize((size, size), Image.LANCZOS)


# ----------------------------------------------------------------------------- painters
def stained_glass(rng: np.random.Generator, size: int = 512) -> Image.Image:
    """Rose window: rings of cells around the centre, random cells in the spandrels."""
    c = size / 2
    seeds, ring_of = [], []
    radius = size * 0.44
    for k, (r, n) in enumerate([(0.0, 1), (0.09, 8), (0.17, 16), (0.25, 16), (0.33, 32), (0.40, 32)]):
        phase = rng.uniform(0, 2 * np.pi) if k % 2 else 0.0
        for j in range(n):
            a = phase + 2 * np.pi * j / n
            jit = rng.normal(0, 0.006 * size, 2) if k > 2 else 0
            seeds.append(np.array([c + r * size * np.cos(a), c + r * size * np.sin(a)]) + jit)
            ring_of.append(k)
    while len(seeds) < 260:
        p = rng.uniform(0, size, 2)
        if np.hypot(*(p - c)) > radius + 0.03 * size:
            seeds.append(p)
            ring_of.append(6)
    seeds, ring_of = np.array(seeds), np.array(ring_of)

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    pix = np.stack([xx.ravel(), yy.ravel()], 1)
    dist, idx = cKDTree(seeds).query(pix, k=2)  # nearest and second-nearest seed of each pixel
    d1, d2, i1 = dist[:, 0], dist[:, 1], idx[:, 0]
    gap = np.linalg.norm(seeds[i1] - seeds[idx[:, 1]], axis=1)
    # distance from a pixel to the bisector of its two nearest seeds, i.e. to the cell border
    edge = ((d2 ** 2 - d1 ** 2) / (2 * gap + 1e-6)).reshape(size, size)
    label, d1 = i1.reshape(size, size), d1.reshape(size, size)
    r = np.hypot(xx - c, yy - c)
    edge = np.minimum(edge, np.abs(r - radius) - 2.5)  # the window's rim: a heavier lead ring

    jewels = hex_palette("#9b111e", "#0047ab", "#00805a", "#ffb000", "#6a2c91", "#0096a0",
                         "#e8c547", "#c2185b", "#1e3a8a", "#f26b1d", "#2e7d32", "#4fc3f7")
    ring_colors = rng.integers(0, len(jewels), 7)
    per_cell = np.where(ring_of < 6, ring_colors[ring_of], rng.integers(0, len(jewels), len(seeds)))
    per_cell = np.where((ring_of == 6) & (rng.random(len(seeds)) < 0.55),
                        rng.choice([1, 8, 5, 11], len(seeds)), per_cell)  # cool spandrels
    alt = (ring_of < 6) & (np.arange(len(seeds)) % 2 == 1) & (ring_of >= 4)
    per_cell = np.where(alt, ring_colors[(ring_of + 3) % 7], per_cell)
    base = jewels[per_cell][label]

    cell_r = ndimage.maximum(d1, label, index=np.arange(len(seeds)))[label] + 1e-6
    bulge = 1.15 - 0.45 * (d1 / cell_r) ** 1.5  # glass is brighter in the middle of a pane
    mottle = 0.13 * fractal_noise(rng, size, (48, 12, 3), (1.0, 0.6, 0.35))
    streaks = ndimage.gaussian_filter(rng.standard_normal((size, size)), (0.7, 9)) * 2.2
    glow = 0.8 + 0.45 * np.exp(-(r / (0.5 * size)) ** 2)  # light behind the window
    shade = (bulge + mottle + 0.08 * streaks) * glow
    img = base * shade[..., None]
    img += 70 * np.clip(mottle - 0.18, 0, None)[..., None]  # bright flecks in the glass

    lead = smoothstep(1.6, 3.2, edge)[..., None]
    came = np.array([28, 24, 22], np.float32) + 25 * smoothstep(0.0, 1.6, edge)[..., None]
    img = img * lead + came * (1 - lead)
    return finish(img + canvas_grain(rng, size, 2.0), size)


def swirls(rng: np.random.Generator, size: int = 512) -> Image.Image:
    """Spiralling sky over hills: short strokes along a vortex flow field, large to small."""
    s = 2 * size  # paint at 2x, then downsample: smoother strokes
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    vx, vy = np.full((s, s), 0.55, np.float32), 0.12 * np.sin(xx / s * 5 * np.pi).astype(np.float32)
    stars = []
    for i in range(7):
        cx, cy = (i + rng.uniform(0.1, 0.9)) / 7 * s, rng.uniform(0.06, 0.5) * s
        rad = rng.uniform(0.035, 0.075) * s if i else 0.1 * s  # star 0 is the moon
        stars.append((cx, cy, rad))
        dx, dy = xx - cx, yy - cy
        fall = np.exp(-(dx ** 2 + dy ** 2) / (2 * (1.8 * rad) ** 2)) * rng.choice([-1, 1]) * 3.0 * s / rad / 10
        vx += -dy / rad * fall
        vy += dx / rad * fall
    hills = 0.66 * s + 0.06 * s * np.sin(xx / s * 2 * np.pi * 1.3 + rng.uniform(0, 6)) + 0.03 * s * np.sin(xx / s * 13)
    ground = yy > hills
    vy = np.where(ground, 0.25 * np.cos(xx / s * 8 * np.pi), vy)
    vx = np.where(ground, 1.0, vx)
    cyp_x = rng.uniform(0.12, 0.3) * s
    cypress = (np.abs(xx - cyp_x) < 0.09 * s * np.clip((yy / s - 0.15) / 0.85, 0, 1) ** 0.8) & (yy > 0.15 * s)
    vx, vy = np.where(cypress, 0.15 * np.sin(yy / 25), vx), np.where(cypress, -1.0, vy)
    wobble = 0.35 * fractal_noise(rng, s, (256, 64), (1.0, 0.5))
    angle = np.arctan2(vy, vx) + wobble

    star_glow = np.zeros((s, s), np.float32)
    for cx, cy, rad in stars:
        dist = np.hypot(xx - cx, yy - cy) / rad
        rings = 0.5 + 0.5 * np.cos(dist * 2 * np.pi)  # concentric halo rings
        star_glow = np.maximum(star_glow, np.where(dist < 0.45, 1.0, np.exp(-dist ** 2) * rings))
    sky = hex_palette("#0a1a4a", "#14378a", "#1f57b0", "#3c7dd0", "#7db4e6", "#dceaf5")
    gold = hex_palette("#f7d046", "#f2b705", "#fff3b0", "#e8891c")
    land = hex_palette("#0d1f3c", "#1f3d5c", "#2f5d50", "#46664a", "#12263f")
    trees = hex_palette("#10261a", "#1d3b22", "#3b2a1a", "#2c4a2b", "#5a4a2a")

    def color_at(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        ix, iy = np.clip(px.astype(int), 0, s - 1), np.clip(py.astype(int), 0, s - 1)
        n = len(px)
        # deep blue at the top, lighter towards the horizon, pale accents anywhere
        tone = np.clip(py / (0.66 * s) * 3.2 + rng.normal(0, 0.8, n), 0, 4).astype(int)
        tone = np.where(rng.random(n) < 0.1, 5, tone)
        out = sky[tone]
        glow = star_glow[iy, ix]
        out = np.where((rng.random(n) < glow * 1.2)[:, None], gold[rng.integers(0, 4, n)], out)
        out = np.where((rng.random(n) < 0.025)[:, None], gold[rng.integers(0, 3, n)], out)  # stray sparks
        out = np.where(ground[iy, ix][:, None], land[rng.integers(0, 5, n)], out)
        out = np.where(cypress[iy, ix][:, None], trees[rng.integers(0, 5, n)], out)
        return out * rng.uniform(0.85, 1.15, (n, 1))

    base = sky[1] * (1 - yy / s)[..., None] + sky[0] * (yy / s)[..., None]
    canvas = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    f = size / 512  # stroke sizes and counts are set for 512 px
    for count, steps, width, step in [(900, 14, 30, 9.0), (4000, 12, 16, 6.0), (9000, 9, 9, 4.0)]:
        count, width, step = int(count * f * f), max(2, round(width * f)), step * f
        starts = rng.uniform(-0.02 * s, 1.02 * s, (count, 2))
        paths = trace(angle, starts, steps, rng.uniform(0.7, 1.3, count) * step)
        mid = paths[:, steps // 2]
        draw_strokes(draw, paths, color_at(mid[:, 0], mid[:, 1]), rng.integers(width // 2, width + 1, count), rng)
    img = np.asarray(canvas.resize((size, size), Image.LANCZOS), np.float32)
    return finish(img + canvas_grain(rng, size, 3.0), size)


def composition(rng: np.random.Generator, size: int = 512) -> Image.Image:
    """Recursively split rectangles, fill them with hatched colour, rule wobbly dark lines."""
    s, f = 2 * size, size / 512  # paint at 2x; stroke sizes are set for 512 px
    rects, todo = [], [(0.0, 0.0, float(s), float(s), 0)]
    while todo:
        x0, y0, x1, y1, depth = todo.pop()
        w, h = x1 - x0, y1 - y0
        if depth >= 3 and (max(w, h) < s * 0.1 or rng.random() < 0.06 * depth):
            rects.append((x0, y0, x1, y1))
            continue
        f = rng.uniform(0.3, 0.7)
        if w > h * rng.uniform(0.7, 1.4):
            todo += [(x0, y0, x0 + f * w, y1, depth + 1), (x0 + f * w, y0, x1, y1, depth + 1)]
        else:
            todo += [(x0, y0, x1, y0 + f * h, depth + 1), (x0, y0 + f * h, x1, y1, depth + 1)]
    palette = hex_palette("#d0452a", "#f0a030", "#f5d48a", "#3d8a9c", "#24528f", "#9c3a6a",
                          "#e77d45", "#8aa038", "#ece4cf", "#c2281f", "#f5c518", "#20204a")
    canvas = Image.new("RGB", (s, s), (235, 225, 200))
    draw = ImageDraw.Draw(canvas)
    for x0, y0, x1, y1 in rects:
        color = palette[rng.integers(0, len(palette))]
        draw.rectangle((x0, y0, x1, y1), fill=tuple(int(c) for c in color))
        # hatching: short parallel strokes in a slightly varied tone of the cell's colour
        horizontal = rng.random() < 0.5
        n = int((x1 - x0) * (y1 - y0) / (180 * f * f))
        px, py = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
        length = rng.uniform(10, 34, n) * f
        tilt = rng.normal(0, 0.15, n) + (0 if horizontal else np.pi / 2)
        for x, y, l, t in zip(px, py, length, tilt):
            tone = np.clip(color * rng.uniform(0.82, 1.18) + rng.normal(0, 10, 3), 0, 255)
            draw.line((x, y, np.clip(x + l * np.cos(t), x0, x1), np.clip(y + l * np.sin(t), y0, y1)),
                      fill=tuple(int(c) for c in tone), width=max(1, round(rng.integers(3, 8) * f)))
    # hand-ruled lines along the rectangle borders
    for x0, y0, x1, y1 in rects:
        for a, b in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x0, y1), (x1, y1)), ((x0, y0), (x0, y1))):
            t = np.linspace(0, 1, 12)[:, None]
            pts = np.array(a) * (1 - t) + np.array(b) * t + rng.normal(0, 2.0 * f, (12, 2))
            draw.line([tuple(p) for p in pts], fill=(28, 24, 26), width=max(2, round(rng.integers(6, 16) * f)), joint="curve")
    # roofs on a few blocks and a sun (Klee's castles)
    ink = (30, 22, 20)
    for i in rng.choice(len(rects), 5, replace=False):
        x0, y0, x1, _ = rects[i]
        if y0 > 0.25 * s:
            draw.polygon([(x0, y0), (x1, y0), ((x0 + x1) / 2, y0 - 0.6 * (x1 - x0))],
                         fill=tuple(int(c) for c in palette[rng.integers(0, len(palette))]), outline=ink, width=max(2, round(8 * f)))
    cx, cy, r = rng.uniform(0.2, 0.8) * s, rng.uniform(0.1, 0.25) * s, 0.075 * s
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(222, 52, 30), outline=ink, width=max(2, round(10 * f)))
    img = np.asarray(canvas.resize((size, size), Image.LANCZOS), np.float32)
    # pointillist dots over everything (Klee's "Ad Parnassum"): lighter and darker flecks
    n = size * size // 30
    dots = np.zeros((size, size), np.float32)
    ix, iy = rng.integers(0, size, n), rng.integers(0, size, n)
    dots[iy, ix] = rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 1.0, n)
    dots = ndimage.gaussian_filter(dots, 0.9) * 110
    return finish(img + dots[..., None] + 14 * fractal_noise(rng, size, (128, 32), (1, 0.5))[..., None]
                  + canvas_grain(rng, size, 4.0), size)


def tide(rng: np.random.Generator, size: int = 512) -> Image.Image:
    """Bands of sea colour, curled by twirls around a few centres, foam on the white crests."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    horizon = 0.3 * size
    u, v = xx.copy(), yy.copy()
    for i in range(4):  # twirl: rotate coordinates by an angle that fades with distance
        cx = (i + rng.uniform(0.2, 0.8)) / 4 * size
        cy = rng.uniform(0.45, 0.8) * size
        rad = (0.2 if i == 0 else rng.uniform(0.08, 0.14)) * size  # one big curling wave
        dx, dy = u - cx, v - cy
        turn = -rng.uniform(2.0, 3.0) * np.exp(-(dx ** 2 + dy ** 2) / (2 * rad ** 2))
        u, v = cx + dx * np.cos(turn) - dy * np.sin(turn), cy + dx * np.sin(turn) + dy * np.cos(turn)
    h = (v + 0.04 * size * np.sin(u / size * 2 * np.pi * 2.2 + rng.uniform(0, 6))
         + 0.02 * size * np.sin(u / size * 2 * np.pi * 7 + rng.uniform(0, 6))
         + 3.0 * fractal_noise(rng, size, (64, 16), (1, 0.4)))
    band_w = size / 30
    band = np.floor(h / band_w).astype(int)
    frac = h / band_w - band
    # one wave = deep to light blue, then a white crest
    sea = hex_palette("#0a1f3d", "#123766", "#1b5490", "#2f78b7", "#6aa7d8", "#f3efe2")
    k = band % len(sea)
    img = sea[k] * (0.82 + 0.3 * frac)[..., None]  # printed gradation within each band
    outline = smoothstep(0.0, 0.1, frac) * smoothstep(0.0, 0.1, 1 - frac)
    img = img * (0.3 + 0.7 * outline)[..., None]
    # sky: woodblock "bokashi" gradient, cloud bands, a snowy mountain on the horizon
    line = horizon + 0.01 * size * np.sin(xx / size * 9)
    sky = np.array([238, 224, 192], np.float32) * (0.78 + 0.22 * smoothstep(0, horizon, yy))[..., None]
    clouds = smoothstep(0.55, 0.8, np.sin(yy / size * 2 * np.pi * 6 + 2 * fractal_noise(rng, size, (128,), (1,))))
    sky = sky * (1 - 0.12 * clouds)[..., None]
    mx, mw = rng.uniform(0.55, 0.8) * size, 0.22 * size
    peak = line - 0.13 * size * np.clip(1 - np.abs(xx - mx) / mw, 0, 1) ** 0.8
    mountain = yy > peak
    snow = yy < peak + 0.035 * size + 0.01 * size * np.sin(xx / 6)
    sky = np.where(mountain[..., None], np.where(snow[..., None], [245.0, 244.0, 238.0], [31.0, 56.0, 96.0]), sky)
    sky += 7 * fractal_noise(rng, size, (32, 8), (1, 0.5))[..., None]
    sky_mask = smoothstep(-1.5, 1.5, line - yy)[..., None]
    img = img * (1 - sky_mask) + sky * sky_mask
    # foam: white beads along the top edge of each crest band
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    crest_y, crest_x = np.nonzero((k == len(sea) - 1) & (frac < 0.12) & (yy > line + 4))
    pick = rng.choice(len(crest_y), min(len(crest_y), 900), replace=False)
    for y, x in zip(crest_y[pick], crest_x[pick]):
        r = rng.uniform(1.5, 4.0)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(248, 246, 238), outline=(18, 55, 102))
    img = np.asarray(canvas, np.float32)
    return finish(img + canvas_grain(rng, size, 5.0), size)


PAINTERS = {"stained_glass": stained_glass, "swirls": swirls, "composition": composition, "tide": tide}


# ----------------------------------------------------------------------------- output
def make_styles(dest: Path, *, seed: int = 0, size: int = 512, names: list[str] | None = None,
                log=print) -> list[Path]:
    """Paint ``dest/<name>.jpg`` for each painter (all by default); painter k uses seed ``seed*1000+k``."""
    written = []
    for k, (name, painter) in enumerate(PAINTERS.items()):
        if names and name not in names:
            continue
        image = painter(np.random.default_rng(seed * 1000 + k), size)
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=QUALITY, optimize=True)
        path = dest / f"{name}.jpg"
        write_atomic(path, buf.getvalue())
        log(f"{path}  {image.width}x{image.height}  {buf.tell() / 1024:.0f} KB")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0: the committed images)")
    parser.add_argument("--dest", type=Path, default=Path("styles"), help="output folder (default styles/)")
    parser.add_argument("--size", type=int, default=512, help="side in pixels (default 512)")
    parser.add_argument("--only", nargs="+", choices=list(PAINTERS), help="paint only these")
    args = parser.parse_args(argv)
    make_styles(args.dest, seed=args.seed, size=args.size, names=args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
