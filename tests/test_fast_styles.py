"""Part 2 library (ungraded): the shipped styles, fine-tuning with ``init``, content augmentation.

Tiny settings (32 px crops, batch 2, a few steps, real VGG16) so the file runs in well under a
minute on two cores. The shipped models themselves are checked as files (they load, are
float16 and small, say how they were trained, and are documented), not for looks.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.errors import NstError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.stem for p in (REPO / "models").glob("*.npz"))


def _photos(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        w, h = 48 + 9 * i, 40 + 5 * i
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def _config(tmp_path: Path, **kw):
    from nst.fast.config import TrainConfig

    tmp_path.mkdir(parents=True, exist_ok=True)
    style = tmp_path / "style.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(style)
    settings = dict(style_image=str(style), naming="tiny", model_path=str(tmp_path / "models"),
                    content_dir=str(_photos(tmp_path / "c")), image_size=32, style_size=48, batch_size=2,
                    checkpoint_every=2, log_every=1, image_every=100, seed=3)
    settings.update(kw)
    return TrainConfig(**settings)


def _weights(net) -> dict[str, np.ndarray]:
    from nst.fast.model import named_variables

    return {k: v.numpy() for k, v in named_variables(net).items()}


@pytest.fixture(scope="module")
def init_model(tmp_path_factory) -> Path:
    """A 'trained' network to start from: seed 7 weights, saved as float16 like the shipped ones."""
    from nst.fast.model import save_model
    from solutions.transformer_net import TransformerNet

    path = tmp_path_factory.mktemp("init") / "base.npz"
    return save_model(TransformerNet(seed=7), path, {"naming": "base", "steps": 5}, dtype="float16")


# -- augmentation and held-out photos -------------------------------------------------------

def test_augmentation_zooms_flips_and_stays_a_function_of_seed_and_position(tmp_path):
    from nst.fast.data import ContentImages, load_crop

    folder = _photos(tmp_path / "c", n=3)
    plain = ContentImages(folder, image_size=32, batch_size=2, seed=5)
    aug = ContentImages(folder, image_size=32, batch_size=2, seed=5, scale_range=(32, 96), flip=True)
    whole = [b.numpy() for b, _ in aug.dataset().take(3)]
    again = [b.numpy() for b, _ in aug.dataset(start=4).take(1)]
    np.testing.assert_array_equal(whole[2], again[0])
    assert not np.array_equal(whole[0], next(iter(plain.dataset()))[0].numpy())
    # flip: the same generator state gives the mirror image when the coin says so
    path = folder / "p1.png"
    seeds = range(40)
    flipped = unflipped = 0
    for s in seeds:
        a = load_crop(path, 32, np.random.default_rng(s), None, flip=True)
        b = load_crop(path, 32, np.random.default_rng(s), None, flip=False)
        if np.array_equal(a, b[:, ::-1]) and not np.array_equal(a, b):
            flipped += 1
        elif np.array_equal(a, b):
            unflipped += 1
    assert flipped >= 10 and unflipped >= 10 and flipped + unflipped == len(seeds)
    # zoom: a shorter side of 96 px then a 32 px crop shows a third of the photo's height
    rng = np.random.default_rng(0)
    zoomed = load_crop(path, 32, rng, (96, 96))
    assert zoomed.shape == (32, 32, 3) and zoomed.dtype == np.uint8


def test_bad_augmentation_and_exclusions_are_clear_errors(tmp_path):
    from nst.fast.data import ContentImages

    folder = _photos(tmp_path / "c", n=3)
    with pytest.raises(NstError, match="scale_range"):
        ContentImages(folder, image_size=32, scale_range=(16, 64))
    with pytest.raises(NstError, match="scale_range"):
        ContentImages(folder, image_size=32, scale_range=(64, 40))
    data = ContentImages(folder, image_size=32, exclude=["p1.png"])
    assert [p.name for p in data.files] == ["p0.png", "p2.png"]
    with pytest.raises(NstError, match="exclude_content: p9.png not found"):
        ContentImages(folder, image_size=32, exclude=["p9.png"])
    with pytest.raises(NstError, match="no images"):
        ContentImages(folder, image_size=32, exclude=["p0.png", "p1.png", "p2.png"])


# -- init: fine-tuning from a trained network ----------------------------------------------

def test_init_starts_from_the_weights_with_a_fresh_optimizer(tmp_path, init_model):
    from nst.fast.model import load_model
    from nst.fast.train import train

    start = _weights(load_model(init_model, impl="solutions")[0])
    frozen = train(_config(tmp_path / "a", init=str(init_model), optimizer="sgd", learning_rate=0.0),
                   steps=1, impl="solutions", save=False)
    for name, w in _weights(frozen["net"]).items():
        np.testing.assert_array_equal(w, start[name], err_msg=name)
    # one Adam step from a fresh optimizer moves each weight by at most ~lr (bias-corrected m/sqrt(v))
    lr = 1e-3
    moved = train(_config(tmp_path / "b", init=str(init_model), learning_rate=lr), steps=1, impl="solutions",
                  save=False)
    deltas = [np.abs(w - start[name]).max() for name, w in _weights(moved["net"]).items()]
    assert 0 < max(deltas) <= 1.01 * lr, max(deltas)
    scratch = train(_config(tmp_path / "c", learning_rate=lr), steps=1, impl="solutions", save=False)
    assert max(np.abs(w - start[n]).max() for n, w in _weights(scratch["net"]).items()) > 10 * lr


def test_init_run_resumes_from_its_checkpoint_and_records_the_init(tmp_path, init_model):
    from nst.fast.model import read_model
    from nst.fast.train import train

    whole = train(_config(tmp_path / "whole", init=str(init_model)), steps=4, impl="solutions")
    config = _config(tmp_path / "parts", init=str(init_model))
    train(config, steps=2, impl="solutions")
    resumed = train(config, steps=4, impl="solutions")  # resumes: the checkpoint wins over init
    a, b = _weights(whole["net"]), _weights(resumed["net"])
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=1e-6, err_msg=name)
    _, meta = read_model(resumed["model"])
    assert meta["init"] == str(init_model) and meta["init_steps"] == 5 and meta["resumed_from"] == 2
    assert meta["steps"] == 4 and meta["seconds"] > 0


def test_bad_init_is_one_error_before_any_work(tmp_path, init_model):
    from nst.fast.model import save_model
    from nst.fast.train import train

    with pytest.raises(NstError, match="no such model file"):
        train(_config(tmp_path, init=str(tmp_path / "missing.npz")), steps=1, impl="solutions")
    with pytest.raises(NstError, match="no shipped style of that name"):
        train(_config(tmp_path, init="no_such_style"), steps=1, impl="solutions")
    import tensorflow as tf

    class Other(tf.Module):
        def __init__(self):
            self.conv1 = tf.Variable(tf.zeros([3, 3]), name="kernel")

    foreign = save_model(Other(), tmp_path / "foreign.npz", {})
    with pytest.raises(NstError, match="do not fit the network"):
        train(_config(tmp_path, init=str(foreign)), steps=1, impl="solutions")
    with pytest.raises(NstError, match="is a style of the published 26-style network: start a new style with init: published"):
        train(_config(tmp_path, init="the_scream"), steps=1, impl="solutions")   # shipped: a row, not a Johnson network
    assert not (tmp_path / "models" / "tiny.npz").exists()


def test_cli_init_flag_and_yaml_key(tmp_path, init_model, capsys):
    from nst.cli import main
    from nst.fast.model import read_model

    config = _config(tmp_path)
    yml = tmp_path / "tiny.yml"
    keys = ("style_image", "naming", "model_path", "content_dir", "image_size", "style_size", "batch_size", "seed")
    yml.write_text("".join(f"{k}: {json.dumps(getattr(config, k))}\n" for k in keys) + "init: null\n")
    assert main(["fast", "train", "--config", str(yml), "--steps", "1", "--init", str(init_model),
                 "--naming", "mine"]) == 0
    out = capsys.readouterr().out
    assert f"starting from the weights of {init_model}" in out
    assert read_model(tmp_path / "models" / "mine.npz")[1]["init"] == str(init_model)
    assert not (tmp_path / "models" / "tiny.npz").exists()


def test_fast_train_switches_onednn_on_for_small_crops_and_the_device_line_says_so(tmp_path, monkeypatch):
    """`nst fast train` reads its crop size before TensorFlow's import: small crops switch oneDNN on (the faster
    path there, nst/onednn.py); 512 px crops get what any command gets on this CPU (off without AVX512)."""
    from nst import onednn
    from nst.cli import main
    from nst.runtime import describe_devices

    config = _config(tmp_path)
    yml = tmp_path / "tiny.yml"
    keys = ("style_image", "naming", "model_path", "content_dir", "image_size", "style_size", "batch_size", "seed")
    yml.write_text("".join(f"{k}: {json.dumps(getattr(config, k))}\n" for k in keys))
    for size, pixels in ((None, 32 * 32), (512, None)):
        expected = onednn.choose({}, pixels=pixels)   # "1" then "0" on x86 without AVX512; else None, None
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
        flags = ["--image-size", str(size), "--naming", f"at{size}"] if size else []
        assert main(["fast", "train", "--config", str(yml), "--steps", "1", *flags]) == 0
        assert os.environ.get("TF_ENABLE_ONEDNN_OPTS") == expected
        assert ("oneDNN on" in describe_devices(), "oneDNN off" in describe_devices()) == (expected == "1", expected == "0")
    # a painting over 512 px (one pass through VGG at that size, never measured with oneDNN here): the guard
    from nst.cli import build_parser
    from nst.cli.fast import train_pixels

    big = tmp_path / "big.yml"
    big.write_text(yml.read_text().replace("style_size: 48", "style_size: 1024"))
    assert train_pixels(build_parser().parse_args(["fast", "train", "--config", str(yml)])) == 32 * 32
    assert train_pixels(build_parser().parse_args(["fast", "train", "--config", str(big)])) is None


# -- the shipped styles: by name --------------------------------------------------------------

def test_models_by_name_list_and_stylize(tmp_path, init_model, monkeypatch, capsys):
    import shutil

    from nst.cli import main
    from nst.fast.zoo import names, resolve

    zoo = tmp_path / "zoo"
    zoo.mkdir()
    shutil.copy(init_model, zoo / "base.npz")
    (zoo / "arbitrary").mkdir()
    monkeypatch.setenv("NST_MODELS_DIR", str(zoo))
    assert names() == ["base"] and resolve("base") == zoo / "base.npz"
    assert resolve(str(init_model)) == init_model
    with pytest.raises(NstError, match=r"no shipped style of that name \(shipped: base"):
        resolve("nope")
    assert main(["fast", "list"]) == 0
    out = capsys.readouterr().out
    assert "base" in out.splitlines()[1] and " 5 " in out.splitlines()[1]
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 30, 3), dtype=np.uint8)).save(photo)
    assert main(["fast", "stylize", "--model", "base", str(photo), "-o", str(tmp_path / "out")]) == 0
    with Image.open(tmp_path / "out" / "photo_base.png") as img:
        assert img.size == (30, 24)
    assert main(["fast", "stylize", "--model", "nope", str(photo), "-o", str(tmp_path / "out2")]) == 2
    assert "error: nope: no such model file" in capsys.readouterr().err and not (tmp_path / "out2").exists()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_is_small_documented_and_reproducible(name):
    from nst.fast.config import load_config
    from nst.fast.model import read_model

    path = REPO / "models" / f"{name}.npz"
    weights, meta = read_model(path)
    assert meta["steps"] > 0 and meta["naming"] == name
    readme = (REPO / "models" / "README.md").read_text()
    assert f"`{name}.npz`" in readme
    if name == "stained_glass_demo":  # a Johnson network, float16; it predates the CPU configs (conf/demo_cpu.yml)
        assert path.stat().st_size < 4 * 2**20
        assert {w.dtype for w in weights.values()} == {np.dtype("float16")}
        return
    # a new row of the published 26-style network: its gamma/beta only (990 numbers), from conf/<name>_norm.yml
    assert (meta["network"], meta["base"], meta["train"]) == ("multistyle", "published", "norm")
    assert path.stat().st_size < 32 * 2**10 and sum(w.size for w in weights.values()) == 990
    assert not any(k.endswith("/kernel") for k in weights)
    config = load_config(REPO / "conf" / f"{name}_norm.yml")
    for key in ("naming", "style_image", "style_weight", "learning_rate", "image_size", "train", "init"):
        assert meta["config"][key] == getattr(config, key), key
        held_out = {"chelsea.jpg", "coffee.jpg", "astronaut.jpg"}  # the README's contact sheet
        assert held_out <= set(config.exclude_content) and held_out <= set(meta["config"]["exclude_content"])
        assert name in (REPO / "docs" / "part2_fast.md").read_text()


# Held-out style loss (nst.fast.evaluate: VGG16, the part 2 layers and layer weights) of content/chelsea.jpg
# at 256 px, measured with solutions/ on the 2-core AMD EPYC (AVX2 only): the shipped model / the same
# network untrained (the four rows: the published network's mean row, where training starts; the demo: a
# Johnson network of seed 0). The bound is 1.5x the shipped model's own loss (inference is deterministic;
# the margin covers other CPUs and float16 weights), and below the untrained one's, so a shipped file
# replaced by untrained weights fails.
PAINTING_LOSS = {  # name: (painting, shipped, untrained)
    "starry_night": ("starry_night.jpg", 484, 3893),
    "the_scream": ("the_scream.jpg", 353, 2159),
    "wave": ("wave.jpg", 211, 1270),
    "composition": ("composition.jpg", 4682, 28445),
    "stained_glass_demo": ("stained_glass.jpg", 28238, 105862),
}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_renders_its_painting_not_a_tint(name, request):
    from nst.fast.evaluate import losses
    from nst.fast.styles import load
    from nst.images import load_image

    painting, shipped, untrained = PAINTING_LOSS[name]
    bound = 1.5 * shipped
    assert bound < untrained
    path = REPO / "styles" / painting
    if not path.is_file():
        path = request.getfixturevalue("shared_images") / "styles" / painting
    net, _ = load(REPO / "models" / f"{name}.npz", impl="solutions")
    loss = losses(net, {"chelsea.jpg": load_image(REPO / "content" / "chelsea.jpg")}, load_image(path), size=256)
    assert loss["chelsea.jpg"]["style"] < bound, (name, loss)


def test_shipped_models_include_four_styles_besides_the_demo():
    assert len([n for n in SHIPPED if n != "stained_glass_demo"]) >= 4, SHIPPED


def test_fast_configs_name_no_shared_folder():
    for path in sorted((REPO / "conf").glob("*.yml")):
        if path.name != "arbitrary.yml":  # the part 3 config has its own owner and test
            assert "../shared" not in path.read_text(), path


def test_callback_stops_the_run_and_the_finetune_benchmark_compares_both_starts(tmp_path, init_model):
    from benchmarks.fast import finetune, finetune_table
    from nst.fast.train import train

    seen = []
    result = train(_config(tmp_path / "cb"), steps=10, impl="solutions", save=False,
                   callback=lambda step, losses: seen.append(losses["style"]) or step == 2)
    assert result["step"] == 2 and len(seen) == 2
    config = _config(tmp_path / "bench")
    yml = tmp_path / "bench.yml"
    yml.write_text(f"style_image: {config.style_image}\nnaming: b\nimage_size: 32\nstyle_size: 48\nbatch_size: 2\n")
    out = finetune(style=config.style_image, init=str(init_model), steps=2, targets=(1e30, 0), window=1,
                   config=str(yml), content=(config.content_dir,))
    assert [len(out["curves"][k]) for k in ("random", "init")] == [2, 2]
    # the --init run starts from the init model: its first loss is that of a plain run from it
    from nst.fast.config import load_config

    first = []
    cfg = load_config(str(yml), style_image=config.style_image, content_dir=[config.content_dir], naming="b",
                      init=str(init_model), seed=0)
    train(cfg, steps=1, impl="solutions", save=False, callback=lambda step, losses: first.append(losses["style"]))
    init_first, random_first = out["curves"]["init"][0][1], out["curves"]["random"][0][1]
    # measured (2-core AVX2 EPYC): equal to the last bit; the random start's first loss differs by
    # 1.9e-3 (8325.86 vs 8341.89: both starts are untrained nets), so rel 1e-4 tells them apart 19x
    assert init_first == pytest.approx(first[0], rel=1e-4), "the --init run did not start from the init model"
    assert random_first != pytest.approx(init_first, rel=1e-4)
    hit, never = out["rows"]
    assert hit["random_step"] == 1 and hit["init_step"] == 1 and hit["init_s"] > 0
    assert never["random_step"] is None and never["init_step"] is None
    text = finetune_table(out)
    assert "random init" in text and "not reached" in text
