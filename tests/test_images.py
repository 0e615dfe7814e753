"""Image edge cases: modes, bit depths, EXIF, broken files, sizes, atomic writes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import images
from nst.errors import NstError

REPO = Path(__file__).resolve().parents[1]


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "LA", "I;16", "RGB"])
def test_modes_become_rgb(tmp_path, mode):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)
    base = Image.fromarray(rgb)
    raw16 = rng.integers(0, 65535, (12, 10)).astype(np.uint16)
    img = Image.fromarray(raw16) if mode == "I;16" else base.convert(mode)
    suffix = ".tif" if mode == "CMYK" else ".png"
    arr = images.load_image(_save(img, tmp_path / f"x{suffix}"))
    assert arr.shape == (12, 10, 3) and arr.dtype == np.float32
    grey = np.asarray(base.convert("L"), np.float32)
    expected = {  # the same pixels, in RGB order (an all-zero or channel-swapped image fails)
        "RGB": rgb, "RGBA": rgb, "CMYK": rgb, "P": np.asarray(base.convert("P").convert("RGB")),
        "L": np.stack([grey] * 3, -1), "LA": np.stack([grey] * 3, -1),
        "I;16": np.stack([raw16 / 65535.0 * 255.0] * 3, -1),
    }[mode]
    np.testing.assert_allclose(arr, np.asarray(expected, np.float32), atol=1.0, err_msg=mode)


def test_16bit_keeps_full_range(tmp_path):
    img = Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16))
    arr = images.load_image(_save(img, tmp_path / "white16.png"))
    np.testing.assert_allclose(arr, 255.0)


def test_rgba_composited_on_white(tmp_path):
    img = Image.new("RGBA", (3, 3), (0, 0, 0, 0))
    arr = images.load_image(_save(img, tmp_path / "clear.png"))
    np.testing.assert_allclose(arr, 255.0)


@pytest.mark.parametrize("orientation, top, bottom", [(6, "red", "blue"), (8, "blue", "red"), (3, None, None)])
def test_exif_orientation_is_applied(tmp_path, orientation, top, bottom):
    """Stored 20 wide x 10 high, left half red, right half blue. EXIF 6 = turn 90 degrees clockwise
    to display (the left edge goes to the top), 8 = anticlockwise, 3 = half a turn."""
    stored = np.zeros((10, 20, 3), np.uint8)
    stored[:, :10] = (220, 0, 0)
    stored[:, 10:] = (0, 0, 220)
    exif = Image.Exif()
    exif[0x0112] = orientation
    arr = images.load_image(_save(Image.fromarray(stored), tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95))
    colour = {"red": np.array([220, 0, 0]), "blue": np.array([0, 0, 220])}
    if orientation == 3:
        assert arr.shape[:2] == (10, 20)
        np.testing.assert_allclose(arr[:, :8].mean(axis=(0, 1)), colour["blue"], atol=12)
        np.testing.assert_allclose(arr[:, -8:].mean(axis=(0, 1)), colour["red"], atol=12)
        return
    assert arr.shape[:2] == (20, 10), "a quarter turn swaps width and height"
    np.testing.assert_allclose(arr[:8].mean(axis=(0, 1)), colour[top], atol=12, err_msg=f"top is {top}")
    np.testing.assert_allclose(arr[-8:].mean(axis=(0, 1)), colour[bottom], atol=12, err_msg=f"bottom is {bottom}")


def test_missing_file(tmp_path):
    with pytest.raises(NstError, match="no such file"):
        images.load_image(tmp_path / "nope.jpg")


def test_not_an_image(tmp_path):
    (tmp_path / "a.jpg").write_text("hello")
    with pytest.raises(NstError, match="not an image"):
        images.load_image(tmp_path / "a.jpg")


def test_truncated_jpeg(tmp_path):
    data = (REPO / "content" / "chelsea.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(NstError, match="cut.jpg: cannot read image"):
        images.load_image(tmp_path / "cut.jpg")


def test_pixel_budget(tmp_path):
    path = _save(Image.new("RGB", (100, 100)), tmp_path / "big.png")
    with pytest.raises(NstError, match="pixel budget"):
        images.load_image(path, max_pixels=100 * 99)


def test_sizes():
    assert images.fit_size(250, 500, max_size=100) == (50, 100)
    assert images.fit_size(250, 500, width_to=50) == (25, 50)
    for bad in (dict(max_size=0), dict(width_to=-3)):
        with pytest.raises(NstError, match="must be positive"):
            images.fit_size(10, 10, **bad)
    with pytest.raises(NstError):
        images.resize(np.zeros((4, 4, 3), np.float32), 0, 4)


def test_small_image_upscaled_with_warning_or_refused():
    small = np.zeros((8, 12, 3), np.float32)
    with pytest.warns(UserWarning, match="upscaled"):
        out = images.ensure_min_size(small, 32)
    assert min(out.shape[:2]) == 32 and out.shape[1] == 48
    with pytest.raises(NstError, match="at least 32 px"):
        images.ensure_min_size(small, 32, upscale=False)


def test_save_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    images.save_image(np.zeros((4, 4, 3)), target)
    before = target.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(OSError):
        images.save_image(np.full((4, 4, 3), 255.0), target)
    assert target.read_bytes() == before, "a failed save leaves the old file intact"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"], "no temp file left behind"


def test_preprocess_round_trip_and_preserve_colors():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (5, 6, 3)).astype(np.float32)
    np.testing.assert_array_equal(images.deprocess(images.preprocess(img)), images.to_uint8(img))
    img = 64 + img / 2  # away from 0 and 255, where clipping would change the colours
    grey = np.repeat(img.mean(axis=2, keepdims=True), 3, axis=2)
    kept = images.preserve_colors(img, grey)
    # luminance from the stylized image, chrominance from the content
    y = lambda x: images.rgb_to_yiq(x)[..., 0]  # noqa: E731
    np.testing.assert_allclose(y(kept), y(grey), atol=0.6)
    np.testing.assert_allclose(images.rgb_to_yiq(kept)[..., 1:], images.rgb_to_yiq(img)[..., 1:], atol=1.5)


def test_match_colors_gives_the_references_colour_mean_and_covariance():
    """The recoloured image takes the references' pooled mean and covariance (``--initial recolored``)."""
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, (40, 50, 3)) @ np.array([[1.0, 0.3, 0.1], [0.0, 1.0, 0.4], [0.0, 0.0, 1.0]])
    image = (120 + 12 * base).astype(np.float32)
    warm = (np.array([150.0, 110.0, 90.0]) + 10 * rng.normal(0, 1, (30, 30, 3)) @ np.array(
        [[1.0, 0.8, 0.2], [0.0, 0.6, 0.1], [0.0, 0.0, 0.5]])).astype(np.float32)
    cold = (np.array([90.0, 110.0, 140.0]) + 8 * rng.normal(0, 1, (20, 30, 3))).astype(np.float32)
    out = images.match_colors(image, [warm, cold], [3.0, 1.0])
    assert out.shape == image.shape and out.dtype == np.float32
    pixels = [warm.reshape(-1, 3).astype(np.float64), cold.reshape(-1, 3).astype(np.float64)]
    mean = (3 * pixels[0].mean(0) + pixels[1].mean(0)) / 4
    cov = sum(w * (np.cov(p.T) + np.outer(p.mean(0) - mean, p.mean(0) - mean)) for w, p in zip([3, 1], pixels)) / 4
    got = out.reshape(-1, 3).astype(np.float64)
    # no colour reaches 0 or 255 here (no clipping); measured: mean within 1e-7, covariance within 0.005 of
    # entries up to 780 (the 1e-3 regularisation of the square roots)
    np.testing.assert_allclose(got.mean(0), mean, atol=0.01)
    np.testing.assert_allclose(np.cov(got.T), cov, rtol=1e-3, atol=0.05)
    single = images.match_colors(image, [warm])
    np.testing.assert_allclose(single.reshape(-1, 3).mean(0), warm.reshape(-1, 3).mean(0), atol=0.01)
