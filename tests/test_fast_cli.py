"""Part 2 library (ungraded): model files, stylizing images/folders/video, export, the CLI.

An untrained network (seed 0) stands in for a trained one: these tests check plumbing
(shapes, sizes, frame rates and counts, atomic outputs, errors), not looks.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.errors import NstError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    from nst.fast.model import save_model
    from solutions.transformer_net import TransformerNet

    path = tmp_path_factory.mktemp("model") / "untrained.npz"
    return save_model(TransformerNet(seed=0), path, {"naming": "untrained"}, dtype="float16")


@pytest.fixture(scope="module")
def stylizer(model_file):
    from nst.fast.stylize import Stylizer

    return Stylizer(model_file, impl="solutions", max_size=40)


def _image(path: Path, w: int, h: int) -> Path:
    rng = np.random.default_rng(w * h)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def test_model_round_trip_float16(model_file):
    from nst.fast.model import load_model, named_variables
    from solutions.transformer_net import TransformerNet

    assert model_file.stat().st_size < 4_000_000, "a float16 model fits in 4 MB"
    net, meta = load_model(model_file, impl="solutions")
    assert meta == {"naming": "untrained"}
    ref = named_variables(TransformerNet(seed=0))
    for name, v in named_variables(net).items():
        np.testing.assert_allclose(v.numpy(), ref[name].numpy(), rtol=1e-3, atol=1e-4, err_msg=name)


def test_load_model_assigns_the_files_weights(tmp_path):
    """Weights unlike any constructor's (seed 0 plus noise) come back from the file, to float16 rounding."""
    from nst.fast.model import load_model, named_variables, save_model
    from solutions.transformer_net import TransformerNet

    net, rng = TransformerNet(seed=0), np.random.default_rng(4)
    for v in named_variables(net).values():
        v.assign(v.numpy() + rng.normal(0.0, 0.5, v.shape).astype(np.float32))
    saved = {k: v.numpy() for k, v in named_variables(net).items()}
    loaded, _ = load_model(save_model(net, tmp_path / "noisy.npz", {}, dtype="float16"), impl="solutions")
    for name, v in named_variables(loaded).items():   # float16: relative spacing 2^-11 = 4.9e-4
        np.testing.assert_allclose(v.numpy(), saved[name], rtol=1e-3, atol=1e-3, err_msg=name)


def test_model_errors(tmp_path):
    from nst.fast.model import load_model

    with pytest.raises(NstError, match="no such model"):
        load_model(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(NstError, match="not a model file"):
        load_model(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(NstError, match="not a fast style model"):
        load_model(tmp_path / "other.npz")


def test_stylize_any_size_strength_and_colors(stylizer, model_file):
    from nst.fast.stylize import Stylizer

    x = np.random.default_rng(0).uniform(0, 255, (2, 23, 30, 3)).astype(np.float32)
    y = stylizer.stylize(x)
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 255
    np.testing.assert_allclose(Stylizer(model_file, impl="solutions", strength=0.0).stylize(x), x, atol=1e-3)
    half = Stylizer(model_file, impl="solutions", strength=0.5).stylize(x)
    np.testing.assert_allclose(half, 0.5 * (x + y), atol=1e-2)
    kept = Stylizer(model_file, impl="solutions", preserve_colors=True).stylize(x)
    assert kept.shape == x.shape
    yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])  # NTSC
    inside = np.all((kept > 0) & (kept < 255), axis=-1)   # not clipped back into the RGB cube
    assert inside.mean() > 0.5
    k, styl, photo = (np.asarray(a, np.float64)[inside] @ yiq.T for a in (kept, y, x))
    np.testing.assert_allclose(k[:, 0], styl[:, 0], atol=0.5, err_msg="preserve_colors: the stylized luminance Y")
    np.testing.assert_allclose(k[:, 1:], photo[:, 1:], atol=0.5, err_msg="preserve_colors: the photo's I and Q")
    with pytest.raises(NstError, match="strength"):
        Stylizer(model_file, strength=1.5)


def test_stylize_images_and_folders(stylizer, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _image(folder / "a.jpg", 64, 48)
    _image(folder / "b.png", 30, 50)
    single = _image(tmp_path / "c.bmp", 20, 20)
    outs = list(stylizer.run([folder, single], tmp_path / "out"))
    assert [p.name for p in outs] == ["a_untrained.jpg", "b_untrained.png", "c_untrained.png"]
    assert Image.open(outs[0]).size == (40, 30), "--max-size 40 keeps the aspect ratio"
    assert Image.open(outs[1]).size == (24, 40)
    assert not list((tmp_path / "out").glob(".*")), "no temp files left behind"


def test_stylize_video_keeps_fps_and_frame_count(stylizer, tmp_path):
    import imageio_ffmpeg

    from nst.data import sample_video
    from nst.video import read_video

    # a pan across the repository's own square photo (nst data sample-video), 30 frames at 10 fps
    src = sample_video(REPO / "content" / "astronaut.jpg", tmp_path / "fox.mp4", frames=30, fps=10.0, size=64)
    info, _ = read_video(src)
    (out,) = stylizer.run([src], tmp_path)
    assert out.name == "fox_untrained.mp4"
    meta = next(imageio_ffmpeg.read_frames(str(out)))
    assert meta["fps"] == pytest.approx(info["fps"], rel=1e-3)
    assert meta["size"] == (40, 40)
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == info["frames"] == 30
    (short,) = stylizer.run([src], tmp_path / "short", max_frames=7)
    assert imageio_ffmpeg.count_frames_and_secs(str(short))[0] == 7


def test_export_savedmodel_round_trip(model_file, tmp_path):
    import tensorflow as tf

    from nst.fast.export import export
    from nst.fast.stylize import Stylizer

    out = export(model_file, "savedmodel", tmp_path / "sm", impl="solutions")
    loaded = tf.saved_model.load(str(out))
    x = np.random.default_rng(1).uniform(0, 255, (1, 20, 28, 3)).astype(np.float32)
    y = loaded.signatures["serving_default"](images=tf.constant(x))["stylized"].numpy()
    np.testing.assert_allclose(y, Stylizer(model_file, impl="solutions").stylize(x), rtol=1e-4, atol=1e-3)
    assert export(model_file, "savedmodel", tmp_path / "sm", impl="solutions") == out, "exporting again replaces it"


@pytest.mark.slow
def test_export_tflite_runs_at_any_size(model_file, tmp_path):
    import tensorflow as tf

    from nst.fast.export import export
    from nst.fast.stylize import Stylizer

    out = export(model_file, "tflite", tmp_path / "m.tflite", impl="solutions")
    interpreter = tf.lite.Interpreter(model_path=str(out))
    interpreter.resize_tensor_input(0, [1, 20, 28, 3])
    interpreter.allocate_tensors()
    x = np.random.default_rng(2).uniform(0, 255, (1, 20, 28, 3)).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(y, Stylizer(model_file, impl="solutions").stylize(x), rtol=1e-4, atol=1e-2)


def _cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "nst", "fast", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["stylize", "--model", "{model}", "{tmp}/missing.jpg", "-o", "{tmp}/out"], "no such file"),
    (["stylize", "--model", "{tmp}/missing.npz", "{tmp}/x.png", "-o", "{tmp}/out"], "no such model"),
    (["stylize", "--model", "{model}", "{tmp}/x.png", "{tmp}/notes.txt", "-o", "{tmp}/out"], "unknown file type"),
    (["stylize", "--model", "{model}", "--strength", "2", "{tmp}/x.png", "-o", "{tmp}/out"], "strength"),
    (["stylize", "--model", "{model}", "{tmp}/x.png", "{tmp}/x.png", "-o", "{tmp}/out.jpg"], "exactly one input image"),
    (["stylize", "--model", "{model}", "{tmp}/x.png", "-o", "{tmp}/notes.txt/out.png"], "is a file, not a folder"),
    (["train", "--config", "{tmp}/missing.yml"], "no such config"),
    (["train", "--config", "{tmp}/empty.yml", "--content-dir", "{tmp}/empty"], "no images"),
    (["export", "--model", "{tmp}/notes.txt"], "not a model file"),
])
def test_cli_bad_input_is_one_error_line(args, message, model_file, tmp_path, capsys):
    """In-process (the same ``main`` as the console script) to save a TensorFlow start per case."""
    from nst.cli import main

    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    _image(tmp_path / "x.png", 16, 16)
    (tmp_path / "empty.yml").write_text(f"style_image: {tmp_path / 'x.png'}\nnaming: e\nmodel_path: {tmp_path}\n")
    before = sorted(tmp_path.rglob("*"))
    code = main(["fast", *[a.format(model=model_file, tmp=tmp_path) for a in args]])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert sorted(tmp_path.rglob("*")) == before, "no output (file or folder) for a failed run"


def test_cli_error_from_a_subprocess(tmp_path):
    """The real console entry: exit status 2, one error line, no traceback."""
    proc = _cli("stylize", "--model", tmp_path / "missing.npz", tmp_path / "x.jpg", "-o", tmp_path / "out")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if not _tf_log(line)]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no such model" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def _tf_log(line: str) -> bool:
    """Start-up lines that are not errors: nst's device banner ("nst: TensorFlow 2.x on ...") and
    TensorFlow's own C++ logging."""
    return line.startswith(("nst: TensorFlow ", "WARNING: All log messages before absl", "I0000 ", "W0000 ",
                            "E0000 ", "To enable the following instructions")) or "cpu_feature_guard" in line


def test_cli_stylize_writes_the_output(model_file, tmp_path):
    src = _image(tmp_path / "photo.jpg", 36, 28)
    proc = _cli("stylize", "--model", model_file, src, "-o", tmp_path / "out", "--precision", "bfloat16", "--seed", 1)
    assert proc.returncode == 0, proc.stderr
    out = Path(proc.stdout.strip().splitlines()[-1])
    assert out.is_file() and Image.open(out).size == (36, 28)


def test_cli_stylize_one_image_to_an_image_path_as_the_other_stylize_commands_do(model_file, tmp_path, capsys):
    """``-o photo_out.png`` (one input image) writes that file, as ``nst stylize`` and ``nst arbitrary stylize`` do."""
    from nst.cli import main

    src = _image(tmp_path / "photo.jpg", 36, 28)
    assert main(["fast", "stylize", "--model", str(model_file), str(src), "-o", str(tmp_path / "mine" / "out.png")]) == 0
    out = tmp_path / "mine" / "out.png"
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    assert Image.open(out).size == (36, 28) and Image.open(out).format == "PNG"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.png", "out.png.model.json"]
