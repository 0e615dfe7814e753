"""`--preset neural-style` is anishathalye/neural-style's defaults; the CLI refuses bad input; the graph is logged.

neural-style's formulas (its stylize.py), recomputed here in NumPy from VGG features:
  content = w_c * sum_l b_l * 2 l2(F_l - P_l) / |P_l|                 l2(x) = sum(x^2) / 2
  style   = w_s * sum_s v_s sum_l u_l * 2 l2(G_l - A_l) / |A_l|       G = F^T F / |F|, u_l = exp^l normalised
  tv      = w_tv * 2 (l2(dy) / |dy| + l2(dx) / |dx|)                  on the mean-subtracted image
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nst import gatys, images
from nst.cli import main

REPO = Path(__file__).resolve().parents[1]

tf = pytest.importorskip("tensorflow")


def _l2(x: np.ndarray) -> float:
    return float(np.sum(x.astype(np.float64) ** 2) / 2)


def _neural_style_losses(vgg, x, content, styles, cfg: gatys.Config) -> dict[str, float]:
    """The formulas above, in float64, from the same VGG's activations."""
    def feats(img):
        out = vgg.features(tf.constant(img), ["conv4_2", "conv5_2", *gatys.STYLE_LAYERS])
        return {k: v.numpy().astype(np.float64) for k, v in out.items()}

    fx, fc = feats(x), feats(content)
    blend = {"conv4_2": cfg.content_weight_blend, "conv5_2": 1 - cfg.content_weight_blend}
    c = cfg.content_weight * sum(b * 2 * _l2(fx[l] - fc[l]) / fc[l].size for l, b in blend.items())
    raw = [cfg.style_layer_weight_exp ** i for i in range(len(gatys.STYLE_LAYERS))]
    u = [w / sum(raw) for w in raw]

    def gram(f):
        f = f.reshape(-1, f.shape[-1])
        return f.T @ f / f.size

    blends = np.array(cfg.style_blend_weights) / sum(cfg.style_blend_weights)
    s = 0.0
    for v, style in zip(blends, styles):
        fs = feats(style)
        s += cfg.style_weight * v * sum(w * 2 * _l2(gram(fx[l]) - gram(fs[l])) / gram(fs[l]).size
                                        for w, l in zip(u, gatys.STYLE_LAYERS))
    dy, dx = x[:, 1:] - x[:, :-1], x[:, :, 1:] - x[:, :, :-1]
    t = cfg.tv_weight * 2 * (_l2(dy) / dy.size + _l2(dx) / dx.size)
    return {"content": c, "style": s, "tv": t, "total": c + s + t}


@pytest.mark.parametrize("overrides", [{}, {"content_weight_blend": 0.7, "style_layer_weight_exp": 2.0}])
def test_our_reported_losses_are_neural_styles_formulas(overrides):
    from nst.gatys import optimize
    from nst.images import preprocess
    from nst.vgg import VGGFeatures
    from solutions.style_transfer import StyleTransfer

    rng = np.random.default_rng(0)
    content = rng.uniform(0, 255, (40, 48, 3)).astype(np.float32)
    styles = [np.clip(np.cumsum(rng.normal(0, 30, (40, 48, 3)), axis=1), 0, 255).astype(np.float32),
              rng.uniform(0, 255, (40, 48, 3)).astype(np.float32)]
    cfg = gatys.Config(**{**gatys.PRESETS["neural-style"], "style_blend_weights": (0.3, 0.7), **overrides})
    st = StyleTransfer(content, styles, cfg)
    st.build()
    ours = optimize.weighted(st, st.total_loss())
    x = preprocess(gatys.initial_image(content, styles, cfg))
    theirs = _neural_style_losses(VGGFeatures("vgg19", pooling="max"), x, preprocess(content),
                                  [preprocess(s) for s in styles], cfg)
    for key in ("content", "style", "tv", "total"):
        assert ours[key] == pytest.approx(theirs[key], rel=2e-4), key
    assert ours["content"] + ours["style"] + ours["tv"] == pytest.approx(ours["total"], rel=1e-6)


def test_neural_style_preset_is_its_defaults_and_starts_from_its_noise():
    from nst.images import MEAN_RGB

    p = gatys.PRESETS["neural-style"]
    assert (p["content_weight"], p["content_weight_blend"], p["style_weight"], p["tv_weight"]) == (5.0, 1.0, 500.0, 100.0)
    assert (p["learning_rate"], p["beta1"], p["beta2"], p["epsilon"]) == (10.0, 0.9, 0.999, 1e-8)
    assert (p["style_layer_weight_exp"], p["pooling"], p["iterations"], p["optimizer"]) == (1.0, "max", 1000, "adam")
    content = np.full((64, 80, 3), 200, np.float32)
    start = gatys.initial_image(content, [content], gatys.Config(**p)) - MEAN_RGB
    assert abs(start.mean()) < 0.01 and start.std() == pytest.approx(0.256, rel=0.03)  # N(0, 0.256), not the photo
    explicit = gatys.initial_image(content, [content], gatys.Config(**{**p, "initial": "content"}))
    np.testing.assert_array_equal(explicit, content)  # --initial given: no noise, as neural-style


def test_the_recolored_start_is_the_content_in_the_styles_colours():
    """``--initial recolored``: the content, mapped to the blend of the styles' colour mean and covariance."""
    rng = np.random.default_rng(1)
    content = rng.uniform(60, 200, (24, 32, 3)).astype(np.float32)
    styles = [np.full((24, 32, 3), (200.0, 120.0, 40.0), np.float32) + rng.normal(0, 10, (24, 32, 3)).astype(np.float32),
              rng.uniform(0, 80, (24, 32, 3)).astype(np.float32)]
    config = gatys.Config(initial="recolored", initial_noiseblend=0.0, style_blend_weights=(0.75, 0.25))
    start = gatys.initial_image(content, styles, config)
    np.testing.assert_array_equal(start, images.match_colors(content, styles, [0.75, 0.25]))
    blend = 0.75 * styles[0].reshape(-1, 3).mean(0) + 0.25 * styles[1].reshape(-1, 3).mean(0)
    assert np.abs(start.reshape(-1, 3).mean(0) - blend).max() < 3.0   # clipping at 0 moves it a little
    assert np.corrcoef(start[..., 0].ravel(), content[..., 0].ravel())[0, 1] > 0.5   # still the photo


def test_style_fit_width_keeps_the_styles_aspect_and_scale():
    from nst import images

    rng = np.random.default_rng(1)
    style = rng.uniform(0, 255, (100, 50, 3)).astype(np.float32)  # tall
    fitted = gatys.fit_style(style, 40, 80, 1.0, keep_aspect=True)
    resized = images.resize(style, 160, 80)                     # content width 80, aspect kept: 160 high
    np.testing.assert_allclose(fitted, resized[60:100], atol=1e-4)  # centre rows
    small = gatys.fit_style(style, 40, 80, 0.25, keep_aspect=True)  # 20 wide, 40 high: mirror-tiled across
    assert small.shape == (40, 80, 3)
    np.testing.assert_allclose(small[:, 30:50], small[:, 30:50][:, ::-1][:, ::-1])


@pytest.fixture
def pair():
    """The repository's own photo and painting (no test image mirror needed: a real painting is not the point)."""
    return str(REPO / "content" / "chelsea.jpg"), str(REPO / "styles" / "tide.jpg")


@pytest.mark.parametrize("extra, message", [
    (["--content-weight-blend", "2"], "--content-weight-blend must be in [0, 1], got 2.0"),
    (["--learning-rate", "-1"], "--learning-rate must be positive, got -1.0"),
    (["--scales", "0,512"], "--scales must be positive numbers"),
    (["--beta2", "1"], "--beta2 must be in [0, 1)"),
    (["--epsilon", "0"], "--epsilon must be positive"),
    (["--tv-weight", "-3"], "--tv-weight must be >= 0"),
    (["--style-layer-weight-exp", "0"], "--style-layer-weight-exp must be positive"),
    (["--scale-fractions", "0.5,2"], "--scale-fractions must be fractions in (0, 1]"),
    (["--coarse-iterations", "5"], "--coarse-iterations must be 0 counts"),
    (["--initial", "nowhere.jpg"], "--initial must be content, recolored, style, noise or an image file"),
    (["--style-scales", "1,1"], "1 style images but 2 --style-scales"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--checkpoint-output", "x.png"], "--checkpoint-output must be a pattern with %s"),
    (["--max-pixels", "100"], "over the pixel budget"),
    (["--style", "{text}"], "not an image file"),
])
def test_refused_runs_write_nothing(pair, tmp_path, monkeypatch, capsys, extra, message):
    (tmp_path / "t.jpg").write_text("not a picture")
    monkeypatch.chdir(tmp_path)
    argv = ["stylize", pair[0], "--style", pair[1], "--max-size", "48", "--iterations", "1"]
    argv += [a.format(text=tmp_path / "t.jpg") for a in extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.startswith("nst: TensorFlow")]
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (tmp_path / "outputs").exists()


def _graph_summaries(logdir) -> dict[str, "object"]:
    """{tag: RunMetadata} of the graph summaries (TensorBoard's GRAPHS tab) in the event files."""
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.core.util import event_pb2

    found = {}
    for path in sorted(logdir.rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "graph_run_metadata_graph":
                    meta = config_pb2.RunMetadata.FromString(tf.make_ndarray(value.tensor).item())
                    found[value.tag] = meta
    return found


@pytest.mark.parametrize("optimizer, tag", [("adam", "train_step"), ("lbfgs", "loss_and_grad")])
def test_tensorboard_holds_the_graph_of_one_step(pair, tmp_path, optimizer, tag):
    from nst.summaries import read_scalars

    argv = ["stylize", pair[0], "--style", pair[1], "--max-size", "40", "--iterations", "2",
            "--optimizer", optimizer, "--run-dir", str(tmp_path / "r"), "--preset", "neural-style"]
    assert main(argv) == 0
    graphs = _graph_summaries(tmp_path / "r" / "logs")
    assert tag in graphs, list(graphs)
    ops = [node.op for fg in graphs[tag].function_graphs for node in fg.pre_optimization_graph.node]
    ops += [node.op for fg in graphs[tag].function_graphs for f in fg.pre_optimization_graph.library.function
            for node in f.node_def]
    assert ops.count("Conv2D") >= 13, sorted(set(ops))  # VGG up to conv5_1, in the step's graph
    scalars = read_scalars(tmp_path / "r" / "logs")
    last = {k.split("/")[1]: v[-1][1] for k, v in scalars.items() if k.startswith("loss/")}
    assert last["content"] + last["style"] + last["tv"] == pytest.approx(last["total"], rel=1e-5)  # weighted terms


def test_fast_preset_is_lbfgs_from_the_recolored_content_and_coarse_to_fine_runs(pair, tmp_path, capsys):
    from PIL import Image

    from nst.cli import build_parser
    from nst.cli.gatys import config_from_args

    fast = config_from_args(build_parser().parse_args(["stylize", "--preset", "neural-style-fast"]))
    assert (fast.optimizer, fast.initial, fast.style_weight, fast.normalization) == ("lbfgs", "recolored", 500.0,
                                                                                    "neural-style")
    argv = ["stylize", pair[0], "--style", pair[1], "--max-size", "48", "--preset", "neural-style-fast",
            "--iterations", "2", "--scale-fractions", "0.5,1", "--coarse-iterations", "2",
            "--run-dir", str(tmp_path / "f")]
    assert main(argv) == 0
    assert "scale 0.5x: done, next 1x" in capsys.readouterr().out
    assert (tmp_path / "f" / "final.png").is_file() and (tmp_path / "f" / "logs" / "scale0.5x").is_dir()
    assert Image.open(tmp_path / "f" / "final.png").size == (48, 32)  # chelsea.jpg is 451x300


def test_onednn_is_switched_off_only_without_avx512():
    from nst import onednn

    env = {}
    assert onednn.choose(env, flags={"avx2", "fma"}) == "0" and env["TF_ENABLE_ONEDNN_OPTS"] == "0"
    env = {}
    assert onednn.choose(env, flags={"avx2", "avx512f"}) is None and not env
    env = {"ONEDNN_MAX_CPU_ISA": "AVX2"}  # oneDNN capped to AVX2 behaves as on an AVX2-only CPU
    assert onednn.choose(env, flags={"avx2", "avx512f"}) == "0"
    env = {"TF_ENABLE_ONEDNN_OPTS": "1"}  # the user's choice wins
    assert onednn.choose(env, flags={"avx2"}) is None and env["TF_ENABLE_ONEDNN_OPTS"] == "1"
    env = {}  # a command whose work stays small switches it on: faster there (1.89 vs 3.00 s a training step)
    assert onednn.choose(env, flags={"avx2"}, pixels=256 * 256) == "1" and env["TF_ENABLE_ONEDNN_OPTS"] == "1"
    env = {}
    assert onednn.choose(env, flags={"avx2"}, pixels=256 * 257) == "0"
    env = {}  # with AVX512 TensorFlow's own default stands, whatever the size
    assert onednn.choose(env, flags={"avx2", "avx512f"}, pixels=64 * 64) is None and not env


def test_importing_nst_changes_no_environment_variable():
    import os
    import subprocess
    import sys

    code = "import os, json; before = dict(os.environ); import nst, nst.cli, nst.fast, nst.arbitrary; " \
           "print(json.dumps(sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))))"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
