"""Part 2 library (ungraded): a new style for the published network (init: published), nst fast eval.

Tiny settings (32 px crops, batch 2, a couple of steps, real VGG16) on random photos.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.errors import NstError


def _config(tmp_path: Path, **kw):
    from nst.fast.config import TrainConfig

    tmp_path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    (tmp_path / "c").mkdir(exist_ok=True)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40 + 4 * i, 48, 3), dtype=np.uint8)).save(tmp_path / "c" / f"p{i}.png")
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(tmp_path / "style.png")
    settings = dict(style_image=str(tmp_path / "style.png"), naming="tiny", model_path=str(tmp_path / "models"),
                    content_dir=str(tmp_path / "c"), image_size=32, style_size=48, batch_size=2, checkpoint_every=5,
                    log_every=1, image_every=100, seed=3, init="published", train="norm", learning_rate=1e-2)
    settings.update(kw)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def published():
    from nst.fast.published import load_arrays

    return load_arrays()


def test_train_norm_learns_only_the_new_row(tmp_path, published):
    from nst.fast.model import read_model
    from nst.fast.multistyle import net_arrays
    from nst.fast.published import LAYERS
    from nst.fast.train import train

    result = train(_config(tmp_path), steps=2, impl="solutions")
    after = net_arrays(result["net"].net)
    for layer in LAYERS:
        np.testing.assert_array_equal(after[f"{layer}/kernel"], published[f"{layer}/kernel"], err_msg=layer)
    mean = {k: published[k].mean(axis=0) for k in published if k.endswith(("/gamma", "/beta"))}
    moved = max(np.abs(after[k][0] - mean[k]).max() for k in mean)
    assert 0 < moved <= 2 * 1.01e-2, moved   # two Adam steps of lr 1e-2 from the mean of the 26 rows
    arrays, meta = read_model(result["model"])
    assert sum(a.size for a in arrays.values()) == 990 and meta["learned_numbers"] == 990
    assert meta["network"] == "multistyle" and meta["base"] == "published" and meta["train"] == "norm"
    assert result["model"].stat().st_size < 20_000


def test_train_all_moves_the_kernels_and_saves_them(tmp_path, published):
    from nst.fast.model import read_model
    from nst.fast.train import train

    result = train(_config(tmp_path, init="published:7", train="all"), steps=1, impl="solutions")
    arrays, meta = read_model(result["model"])
    kernel = arrays["contract.0/kernel"].astype(np.float32)
    assert meta["base"] == "own" and 0 < np.abs(kernel - published["contract.0/kernel"]).max() < 0.05
    assert np.abs(arrays["contract.0/gamma"][0] - published["contract.0/gamma"][7]).max() > 0


def test_trained_style_stylizes_blends_and_evaluates(tmp_path, capsys):
    from nst.cli import main
    from nst.fast.train import train

    model = train(_config(tmp_path), steps=1, impl="solutions")["model"]
    photo = tmp_path / "c" / "p0.png"
    out = tmp_path / "out"
    assert main(["fast", "stylize", "--model", str(model), "--model", "published:4", "--style-weights", "0.5,0.5",
                 str(photo), "-o", str(out)]) == 0
    assert (out / "p0_tiny_published4.png").is_file()
    capsys.readouterr()
    assert main(["fast", "eval", "--model", str(model), "--content-dir", str(tmp_path / "c"),
                 "--style", str(tmp_path / "style.png"), "--size", "48"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) == {"p0.png", "p1.png", "p2.png", "mean"}
    # the picture, not the photo, is measured: a photo has content loss 0 against itself
    assert all(r["content"] > 1.0 and r["style"] > 0 for r in result.values()), result


def test_bad_new_style_settings_are_one_error(tmp_path):
    from nst.fast.train import train

    with pytest.raises(NstError, match="needs init: published"):
        _config(tmp_path, init=None)
    with pytest.raises(NstError, match="train must be norm or all"):
        _config(tmp_path, train="head")
    with pytest.raises(NstError, match="published:0 .. published:25"):
        train(_config(tmp_path, init="published:26"), steps=1, impl="solutions")
    assert not (tmp_path / "models" / "tiny.npz").exists()


def test_johnson_network_and_published_style_do_not_blend(tmp_path, capsys):
    from nst.cli import main
    from nst.fast.model import save_model
    from solutions.transformer_net import TransformerNet

    johnson = save_model(TransformerNet(seed=1), tmp_path / "j.npz", {"naming": "j", "steps": 1})
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photo)
    assert main(["fast", "stylize", "--model", str(johnson), "--model", "published:1", str(photo),
                 "-o", str(tmp_path / "o")]) == 2
    assert "Johnson network" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_list_shows_the_26_published_styles_and_their_contact_sheet(capsys):
    from nst.cli import main
    from nst.fast.zoo import PUBLISHED_SHEET

    assert main(["fast", "list"]) == 0
    out = capsys.readouterr().out
    assert "published:0 " in out and "published:25" in out and "published:26" not in out
    assert PUBLISHED_SHEET in out and (Path(__file__).resolve().parents[1] / PUBLISHED_SHEET).is_file()


def test_export_takes_the_multistyle_network_with_its_style_input(tmp_path):
    import tensorflow as tf

    from nst.fast.export import export
    from nst.fast.styles import load
    from nst.fast.train import train

    saved = export("published", "savedmodel", tmp_path / "ms")
    serve = tf.saved_model.load(str(saved)).signatures["serving_default"]
    x = np.random.default_rng(0).uniform(0, 255, (1, 20, 24, 3)).astype(np.float32)
    w = np.zeros(26, np.float32)
    w[3], w[19] = 0.25, 0.75
    ours, _ = load(["published:3", "published:19"], impl="solutions", weights=[0.25, 0.75])
    np.testing.assert_allclose(serve(images=x, style_weights=w)["stylized"].numpy(), ours(x).numpy(), atol=1e-3)
    model = train(_config(tmp_path / "t"), steps=1, impl="solutions")["model"]   # a trained row: style 26 of 27
    serve = tf.saved_model.load(str(export(model, "savedmodel", tmp_path / "row"))).signatures["serving_default"]
    own, _ = load(model, impl="solutions")
    np.testing.assert_allclose(serve(images=x, style_weights=np.eye(27, dtype=np.float32)[26])["stylized"].numpy(),
                               own(x).numpy(), atol=1e-3)


def test_multistyle_benchmark_times_ours_and_onnxruntime_side_by_side():
    from benchmarks.multistyle import inference, inference_table

    rows = inference(sizes=(32,), reps=1)
    assert rows[0]["ours_ms"] > 0 and rows[0]["onnxruntime_ms"] > 0 and rows[0]["x"] > 0
    assert "| 32 |" in inference_table(rows)


def test_published_style_stylizes_a_folder_like_any_model(tmp_path):
    from nst.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (20, 28, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    assert main(["fast", "stylize", "--model", "published:7", str(folder), "-o", str(tmp_path / "out"),
                 "--strength", "0.5", "--preserve-colors"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["p0_published7.png", "p1_published7.png"]
    # beside each image, which model made it (a published style is shipped: never packed as a student's own)
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "out").glob("*.model.json"))]
    assert [(r["model"], r["shipped"]) for r in records] == [("published:7", True)] * 2


def test_tflite_export_takes_the_style_input_at_any_size(tmp_path):
    """The published network as TFLite: inputs images (1, H, W, 3) 0..255 and style_weights (26,)."""
    import tensorflow as tf

    from nst.fast.export import export
    from nst.fast.styles import load

    interpreter = tf.lite.Interpreter(model_path=str(export("published", "tflite", tmp_path / "ms.tflite")))
    inputs = interpreter.get_input_details()
    image = next(d for d in inputs if len(d["shape"]) == 4)
    style = next(d for d in inputs if len(d["shape"]) == 1)
    assert "style_weights" in style["name"] and list(style["shape"]) == [26], inputs
    interpreter.resize_tensor_input(image["index"], [1, 20, 28, 3])
    interpreter.allocate_tensors()
    x = np.random.default_rng(3).uniform(0, 255, (1, 20, 28, 3)).astype(np.float32)
    w = np.zeros(26, np.float32)
    w[7] = 1.0
    interpreter.set_tensor(image["index"], x)
    interpreter.set_tensor(style["index"], w)
    interpreter.invoke()
    y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    ours, _ = load("published:7", impl="solutions")
    np.testing.assert_allclose(y, ours(x).numpy(), atol=1e-2)


def test_newstyle_benchmark_races_the_three_starts_and_reports_when_each_reaches_a_target(tmp_path):
    from benchmarks.multistyle import STARTS, newstyle, newstyle_table

    config = _config(tmp_path)
    yml = tmp_path / "bench.yml"
    yml.write_text(f"style_image: {config.style_image}\nnaming: b\nimage_size: 32\nstyle_size: 48\nbatch_size: 2\n"
                   "init: published\ntrain: norm\nlearning_rate: 1.0e-2\n")
    out = newstyle(config.style_image, steps=2, targets=(1e30, 0), window=1, config=str(yml),
                   content=(config.content_dir,), heldout_every=0)
    assert list(out["curves"]) == list(STARTS) and all(len(c) == 2 for c in out["curves"].values())
    # the norm and all starts begin from the same network (the mean published row): the same first loss
    assert out["curves"]["norm"][0][1] == pytest.approx(out["curves"]["all"][0][1], rel=1e-5)
    assert out["curves"]["random"][0][1] != pytest.approx(out["curves"]["norm"][0][1], rel=1e-2)
    reached_all, never = out["rows"]
    assert all(reached_all[f"{k}_step"] == 1 for k in STARTS) and all(never[f"{k}_step"] is None for k in STARTS)
    table = newstyle_table(out)
    assert "| 0 | not reached | not reached | not reached |" in table, table


def test_newstyle_benchmark_measures_the_held_out_loss_as_nst_fast_eval_does(tmp_path):
    """Every `heldout_every` steps and at the last, the held-out photos' mean style loss: the training
    photos' loss is not it, and at step 0 both starts from the published network agree with `nst fast eval`."""
    from benchmarks.multistyle import newstyle
    from nst.fast.evaluate import load_photos, losses
    from nst.fast.newstyle import start_network
    from nst.images import load_image

    config = _config(tmp_path)
    yml = tmp_path / "bench.yml"
    yml.write_text(f"style_image: {config.style_image}\nnaming: b\nimage_size: 32\nstyle_size: 48\nbatch_size: 2\n"
                   "init: published\ntrain: norm\nlearning_rate: 1.0e-12\nexclude_content: [p2.png]\n")
    out = newstyle(config.style_image, steps=3, targets=(1e30,), config=str(yml), content=(config.content_dir,),
                   heldout_every=2, heldout_size=40)
    assert out["heldout"] == ["p2.png"]
    assert [step for step, _, _ in out["curves"]["norm"]] == [2, 3]
    # learning rate 1e-12 for `norm`: the new row stays the mean row, so every point is the untrained network's loss
    held = {"p2.png": load_photos([config.content_dir])["p2.png"]}
    untrained = losses(start_network("published", "norm", "solutions"), held, load_image(config.style_image),
                       size=40)["mean"]["style"]
    assert [loss for _, loss, _ in out["curves"]["norm"]] == pytest.approx([untrained] * 2, rel=1e-4)
