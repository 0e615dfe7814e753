"""``nst stylize`` end to end at tiny sizes: resume, errors, options, TensorBoard, plots."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from nst import optimize
from nst.cli import main
from nst.summaries import read_scalars


@pytest.fixture
def pair(shared_images):
    return str(shared_images / "content" / "tubingen.jpg"), str(shared_images / "styles" / "starry_night.jpg")


def stylize(pair, run_dir, *extra, iterations=6):
    content, style = pair
    return main(["stylize", content, "--styles", style, "--max-size", "48", "--iterations", str(iterations),
                 "--run-dir", str(run_dir), "--seed", "3", "--impl", "solutions", *extra])


def test_killed_run_resumes_to_the_same_image(pair, tmp_path, monkeypatch):
    assert stylize(pair, tmp_path / "a", "--checkpoint-iterations", "2") == 0
    uninterrupted = np.asarray(Image.open(tmp_path / "a" / "final.png"))

    real = optimize._after_step

    def killed_at_5(st, step, *args, **kwargs):
        if step == 5:
            raise KeyboardInterrupt
        real(st, step, *args, **kwargs)

    monkeypatch.setattr(optimize, "_after_step", killed_at_5)
    assert stylize(pair, tmp_path / "b", "--checkpoint-iterations", "2") == 130
    assert not (tmp_path / "b" / "final.png").exists()
    assert (tmp_path / "b" / "checkpoint_00004.png").exists()
    monkeypatch.setattr(optimize, "_after_step", real)

    assert stylize(pair, tmp_path / "b", "--checkpoint-iterations", "2") == 0
    resumed = np.asarray(Image.open(tmp_path / "b" / "final.png"))
    np.testing.assert_array_equal(resumed, uninterrupted)


def test_outputs_settings_and_tensorboard(pair, tmp_path, capsys):
    assert stylize(pair, tmp_path / "r", "--tv-weight", "0.01", "-o", str(tmp_path / "out.jpg")) == 0
    assert Image.open(tmp_path / "out.jpg").size[0] == 48
    settings = json.loads((tmp_path / "r" / "settings.json").read_text())
    assert settings["tv_weight"] == 0.01 and settings["iterations"] == 6 and settings["seed"] == 3
    assert settings["xla"] is False  # XLA is opt-in
    scalars = read_scalars(tmp_path / "r" / "logs")
    assert set(scalars) >= {"loss/content", "loss/style", "loss/tv", "loss/total"}
    steps = [s for s, _ in scalars["loss/total"]]
    assert steps == list(range(1, 7))
    assert main(["plot-losses", str(tmp_path / "r"), "-o", str(tmp_path / "curves.png")]) == 0
    assert Image.open(tmp_path / "curves.png").size[0] > 400


def test_lbfgs_lowers_the_loss(pair, tmp_path):
    assert stylize(pair, tmp_path / "l", "--optimizer", "lbfgs", iterations=5) == 0
    total = [v for _, v in read_scalars(tmp_path / "l" / "logs")["loss/total"]]
    assert len(total) >= 3 and total[-1] < 0.8 * total[0]


def test_two_styles_blend_scales_preserve_colors_and_preset(pair, tmp_path, shared_images):
    content, style = pair
    second = str(shared_images / "styles" / "the_scream.jpg")
    code = main(["stylize", content, "--styles", style, second, "--style-blend-weights", "0.7,0.3",
                 "--style-scales", "0.5,1.5", "--preserve-colors", "--preset", "neural-style", "--pooling", "avg",
                 "--max-size", "48", "--iterations", "3", "--run-dir", str(tmp_path / "m"), "--seed", "1"])
    assert code == 0
    settings = json.loads((tmp_path / "m" / "settings.json").read_text())
    assert settings["style_weight"] == 500 and settings["pooling"] == "avg" and settings["normalization"] == "neural-style"
    assert Image.open(tmp_path / "m" / "final.png").size == (48, 36)


@pytest.mark.parametrize("argv, message", [
    (["stylize", "missing.jpg", "--styles", "x.jpg"], "missing.jpg: no such file"),
    (["stylize", "{content}", "--styles", "{content}", "--max-size", "0"], "--max-size must be positive"),
    (["stylize", "{content}", "--styles", "{style}", "--style-blend-weights", "1,2"], "1 style images but 2"),
    (["stylize", "{text}", "--styles", "{style}"], "not an image file"),
    (["stylize", "{content}", "--styles", "{style}", "--initial-noiseblend", "2"], "--initial-noiseblend must be in"),
])
def test_bad_input_is_one_clear_line(pair, tmp_path, capsys, argv, message):
    (tmp_path / "t.jpg").write_text("not a picture")
    argv = [a.format(content=pair[0], style=pair[1], text=tmp_path / "t.jpg") for a in argv]
    assert main(argv + ["--run-dir", str(tmp_path / "e"), "--iterations", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (tmp_path / "e" / "final.png").exists()


def test_nan_loss_stops_with_advice(pair, tmp_path, capsys):
    code = stylize(pair, tmp_path / "n", "--learning-rate", "1e38", "--checkpoint-iterations", "1", iterations=4)
    assert code == 2
    err = capsys.readouterr().err
    assert "smaller --learning-rate" in err and "checkpoint" in err
    assert not (tmp_path / "n" / "final.png").exists()


def test_unknown_choice_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["stylize", "--network", "vgg11"])
    assert e.value.code == 2
    assert "invalid choice: 'vgg11'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, xla", [([], False), (["--xla"], True), (["--no-xla"], False)])
def test_xla_is_opt_in(argv, xla):
    from nst.cli import build_parser
    from nst.cli.gatys import config_from_args

    assert config_from_args(build_parser().parse_args(["stylize", *argv])).xla is xla
