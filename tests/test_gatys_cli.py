"""``nst stylize`` end to end at tiny sizes: resume, errors, options, TensorBoard, plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.cli import main
from nst.gatys import optimize
from nst.summaries import read_scalars

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def pair():
    """The repository's own photo and painting (no test image mirror needed: a real painting is not the point)."""
    return str(REPO / "content" / "chelsea.jpg"), str(REPO / "styles" / "tide.jpg")


def stylize(pair, run_dir, *extra, iterations=6):
    content, style = pair
    return main(["stylize", content, "--style", style, "--max-size", "48", "--iterations", str(iterations),
                 "--run-dir", str(run_dir), "--seed", "3", "--impl", "solutions", *extra])


def killed_and_resumed(pair, tmp_path, monkeypatch) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """An uninterrupted 6-step run, and one killed after step 5 (checkpoints every 2) then rerun:
    (uninterrupted image, resumed image, the steps the rerun computed)."""
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
    steps: list[int] = []

    def counted(st, step, *args, **kwargs):
        steps.append(step)
        real(st, step, *args, **kwargs)

    monkeypatch.setattr(optimize, "_after_step", counted)
    assert stylize(pair, tmp_path / "b", "--checkpoint-iterations", "2") == 0
    return uninterrupted, np.asarray(Image.open(tmp_path / "b" / "final.png")), steps


def test_killed_run_resumes_to_the_same_image(pair, tmp_path, monkeypatch, capsys):
    uninterrupted, resumed, steps = killed_and_resumed(pair, tmp_path, monkeypatch)
    assert "at iteration 4" in capsys.readouterr().out
    # A seeded restart from scratch gives the same image too: the steps prove it resumed.
    assert steps == [5, 6], "the rerun continues after the last checkpoint (iteration 4)"
    np.testing.assert_array_equal(resumed, uninterrupted)


def test_resume_test_fails_when_restoring_is_a_no_op(pair, tmp_path, monkeypatch):
    """The test above, on a build whose restore does nothing (a restart from scratch)."""
    monkeypatch.setattr(optimize, "restore_checkpoint", lambda st: 0)
    uninterrupted, resumed, steps = killed_and_resumed(pair, tmp_path, monkeypatch)
    np.testing.assert_array_equal(resumed, uninterrupted)   # the image alone cannot tell
    assert steps == [1, 2, 3, 4, 5, 6]


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


def test_two_styles_blend_scales_preserve_colors_and_preset(pair, tmp_path):
    content, style = pair
    second = str(REPO / "styles" / "composition.jpg")
    code = main(["stylize", content, "--style", style, "--style", second, "--style-weights", "0.7,0.3",
                 "--style-scales", "0.5,1.5", "--preserve-colors", "--preset", "neural-style", "--pooling", "avg",
                 "--max-size", "48", "--iterations", "3", "--run-dir", str(tmp_path / "m"), "--seed", "1"])
    assert code == 0
    settings = json.loads((tmp_path / "m" / "settings.json").read_text())
    assert settings["style_weight"] == 500 and settings["pooling"] == "avg" and settings["normalization"] == "neural-style"
    assert Image.open(tmp_path / "m" / "final.png").size == (48, 32)  # chelsea.jpg is 451x300


YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])  # NTSC RGB -> YIQ


def _final(run_dir) -> np.ndarray:
    return np.asarray(Image.open(run_dir / "final.png"), np.float64)


def test_style_blend_weights_weigh_the_styles(tmp_path, shared_images):
    """Weights 1,0 give exactly the first style's result; 0,1 the second's; 0.5,0.5 neither. Real paintings
    (the mirror's): in 4 iterations the repository's own styles move a 48 px image too little to tell apart."""
    content = str(shared_images / "content" / "tubingen.jpg")
    style, second = (str(shared_images / "styles" / f"{name}.jpg") for name in ("starry_night", "the_scream"))
    runs = {}
    for name, styles, blend in (("a", [style], None), ("b", [second], None), ("a0", [style, second], "1,0"),
                                ("0b", [style, second], "0,1"), ("ab", [style, second], "0.5,0.5")):
        extra = ["--style-weights", blend] if blend else []
        style_args = [a for s in styles for a in ("--style", s)]
        assert main(["stylize", content, *style_args, *extra, "--max-size", "48", "--iterations", "4",
                     "--run-dir", str(tmp_path / name), "--seed", "1", "--impl", "solutions"]) == 0
        runs[name] = _final(tmp_path / name)
    assert np.abs(runs["a0"] - runs["a"]).max() <= 1, "weights 1,0: the second style counts for nothing"
    assert np.abs(runs["0b"] - runs["b"]).max() <= 1, "weights 0,1: the first style counts for nothing"
    assert np.abs(runs["ab"] - runs["a"]).mean() > 1 and np.abs(runs["ab"] - runs["b"]).mean() > 1


def test_style_scales_change_the_style_the_optimiser_sees(pair, tmp_path):
    from nst import gatys
    from nst.images import resize

    content, style = pair
    for name, scale in (("one", "1"), ("two", "2")):
        assert stylize(pair, tmp_path / name, "--style-scales", scale, iterations=4) == 0
    assert np.abs(_final(tmp_path / "one") - _final(tmp_path / "two")).mean() > 1, "--style-scales must matter"
    rng = np.random.default_rng(0)
    art = rng.uniform(0, 255, (30, 40, 3)).astype(np.float32)
    np.testing.assert_array_equal(gatys.fit_style(art, 36, 48, 1.0), resize(art, 36, 48))
    big = resize(art, 72, 96)                        # scale 2: the centre of the twice-as-large style
    np.testing.assert_array_equal(gatys.fit_style(art, 36, 48, 2.0), big[18:54, 24:72])
    half = resize(art, 18, 24)                       # scale 0.5: the half-size style, mirror-tiled
    tiled = gatys.fit_style(art, 36, 48, 0.5)
    np.testing.assert_array_equal(tiled[:18, :24], half)
    np.testing.assert_array_equal(tiled[18:, :24], half[::-1])
    np.testing.assert_array_equal(tiled[:, 24:], tiled[:, :24][:, ::-1])


def test_preserve_colors_keeps_the_contents_colours(pair, tmp_path):
    """The result's luminance Y is the stylized one; its chrominance I, Q the content's (YIQ)."""
    from nst.images import load_image, resize

    assert stylize(pair, tmp_path / "plain", iterations=4) == 0
    assert stylize(pair, tmp_path / "kept", "--preserve-colors", iterations=4) == 0
    plain, kept = _final(tmp_path / "plain") @ YIQ.T, _final(tmp_path / "kept") @ YIQ.T
    photo = resize(load_image(pair[0]), *kept.shape[:2]).astype(np.float64) @ YIQ.T
    inside = np.all((_final(tmp_path / "kept") > 0) & (_final(tmp_path / "kept") < 255), axis=-1)
    assert inside.mean() > 0.9
    np.testing.assert_allclose(kept[inside][:, 1:], photo[inside][:, 1:], atol=2.0, err_msg="I, Q of the content")
    np.testing.assert_allclose(kept[inside][:, 0], plain[inside][:, 0], atol=2.0, err_msg="Y of the stylized image")
    assert np.abs(plain[..., 1:] - photo[..., 1:]).mean() > 2, "without the option the colours change"


@pytest.mark.parametrize("argv, message", [
    (["stylize", "missing.jpg", "--style", "x.jpg"], "missing.jpg: no such file"),
    (["stylize", "{content}", "--style", "{content}", "--max-size", "0"], "--max-size must be positive"),
    (["stylize", "{content}", "--style", "{style}", "--style-weights", "1,2"], "1 style images but 2"),
    (["stylize", "{text}", "--style", "{style}"], "not an image file"),
    (["stylize", "{content}", "--style", "{style}", "--initial-noiseblend", "2"], "--initial-noiseblend must be in"),
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


def test_a_run_stopped_at_a_stub_leaves_no_run_folder(pair, tmp_path, capsys):
    """The stubs stop at a TODO before the first checkpoint: the run folder they made is removed."""
    content, style = pair
    run_dir = tmp_path / "run"
    code = main(["stylize", content, "--style", style, "--max-size", "48", "--iterations", "2",
                 "--run-dir", str(run_dir), "--impl", "assignment"])
    assert code == 2 and "TODO" in capsys.readouterr().err
    assert not run_dir.exists()
    assert stylize(pair, run_dir, iterations=2) == 0 and (run_dir / "final.png").is_file()  # a real run keeps it
