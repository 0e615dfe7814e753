"""Performance properties that need no clock: tracing, how much VGG runs, precision, scales.

Speed itself is measured by ``python -m benchmarks``, never asserted here. These tests use
the reference implementation (solutions/) directly: they check the library's given code.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from nst import gatys

REPO = Path(__file__).resolve().parents[1]

tf = pytest.importorskip("tensorflow")


def _images(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    content = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    style = np.clip(np.cumsum(rng.normal(0, 30, (h, w, 3)), axis=1), 0, 255).astype(np.float32)
    return content, style


def _built(config: gatys.Config, h: int = 32, w: int = 32):
    from solutions.style_transfer import StyleTransfer

    content, style = _images(h, w)
    st = StyleTransfer(content, [style], config)
    st.build()
    return st


def test_fifty_adam_steps_trace_the_train_step_at_most_twice():
    from nst.gatys import optimize

    st = _built(gatys.Config(iterations=50, print_iterations=1000))
    with contextlib.redirect_stdout(io.StringIO()):
        optimize.run(st, 50)
    assert int(st.gstep.numpy()) == 50
    assert 1 <= st.trace_count <= 2


def test_lbfgs_function_is_traced_once_across_runs():
    from nst.gatys import optimize

    st = _built(gatys.Config(optimizer="lbfgs", print_iterations=1000))
    loop = optimize.Loop(st)
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(3)
        fn = loop.loss_and_grad
        loop.run(3)
    assert loop.loss_and_grad is fn
    assert fn.experimental_get_tracing_count() == 1
    assert loop.lbfgs_result.nit >= 1
    assert not any(name.startswith("_") and name.endswith(("grad", "step")) for name in vars(st)), \
        "the loop's caches live on the Loop, not on the student's object"


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_xla_compiled_steps_match_the_plain_graph(optimizer):
    from nst.gatys import optimize

    images = {}
    for xla in (False, True):
        st = _built(gatys.Config(optimizer=optimizer, xla=xla, print_iterations=1000))
        loop = optimize.Loop(st)
        with contextlib.redirect_stdout(io.StringIO()):
            images[xla] = loop.run(5).astype(np.float32)
        if optimizer == "adam":
            assert int(st.gstep.numpy()) == 5
            assert (loop.xla_train_step is not None) == xla
    diff = np.abs(images[True] - images[False])  # XLA reorders float sums; L-BFGS's line search amplifies that
    assert diff.mean() < 0.5 and diff.max() <= 6.0, (diff.mean(), diff.max())
    from nst.images import deprocess

    start = deprocess(_built(gatys.Config()).initial_img).astype(np.float32)
    assert np.abs(images[True] - start).max() > 5  # it did optimise


def _forward_convs(concrete) -> list[str]:
    return [op.name for op in concrete.graph.get_operations() if op.type == "Conv2D"]


def test_train_step_runs_vgg_only_up_to_the_deepest_layer_used():
    st = _built(gatys.Config())  # content conv4_2, style up to conv5_1: 2+2+4+4+1 convolutions
    assert len(_forward_convs(st.train_step.get_concrete_function())) == 13
    shallow = _built(gatys.Config(style_layers=("conv1_1", "conv2_1"), style_layer_weights=(1.0, 1.0),
                                  content_weight_blend=1.0))
    assert len(_forward_convs(shallow.train_step.get_concrete_function())) == 10  # up to conv4_2


def test_library_vgg_features_stop_at_the_deepest_layer():
    from nst.vgg import VGGFeatures

    vgg = VGGFeatures("vgg19")
    fn = tf.function(lambda x: vgg.features(x, ["conv1_1", "conv3_1"]))
    concrete = fn.get_concrete_function(tf.TensorSpec([1, 32, 32, 3], tf.float32))
    assert len(_forward_convs(concrete)) == 5


def test_bfloat16_loss_is_within_a_few_percent_of_float32():
    losses = {}
    for precision in ("float32", "bfloat16"):
        st = _built(gatys.Config(precision=precision), 48, 48)
        losses[precision] = {k: float(v) for k, v in st.total_loss().items()}
    for key in ("content", "style", "total"):
        assert losses["bfloat16"][key] == pytest.approx(losses["float32"][key], rel=0.05), key
    assert losses["bfloat16"]["total"] != losses["float32"]["total"]  # it really ran in bfloat16


def test_multiscale_run_ends_at_the_last_size(tmp_path):
    from nst import images

    content, style = _images(60, 80, seed=1)
    images.save_image(content.astype(np.uint8), tmp_path / "c.png")
    images.save_image(style.astype(np.uint8), tmp_path / "s.png")
    config = gatys.Config(scales=(44, 64), iterations=2, print_iterations=1000)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        result = gatys.stylize(str(tmp_path / "c.png"), [str(tmp_path / "s.png")], config, impl="solutions")
    assert result.shape == (48, 64, 3) and result.dtype == np.uint8
    assert "scale 44: done, next 64" in out.getvalue()


def test_eager_baseline_computes_the_same_loss_as_the_project():
    from benchmarks.baseline import EagerGatys

    content, style = _images(48, 48)
    init = gatys.initial_image(content, [style], gatys.Config())
    st = _built(gatys.Config(pooling="max"), 48, 48)  # Keras' VGG19 pools by max
    project = {k: float(v) for k, v in st.total_loss().items()}
    baseline = {k: float(v) for k, v in EagerGatys(content, style, init).losses().items()}
    for key in ("content", "style", "total"):
        assert baseline[key] == pytest.approx(project[key], rel=1e-3), key


def test_flop_count_matches_vgg19_published_figure():
    from benchmarks.ceiling import vgg_flops

    # VGG19's 16 convolutions at 224x224: 19.5 G multiply-adds
    full = vgg_flops(224, 224, layers=("conv5_4",), gram_layers=())
    assert full["conv_forward"] / 2 == pytest.approx(19.5e9, rel=0.02)
    gatys_step = vgg_flops(512, 512)
    assert gatys_step["step"] == 2 * gatys_step["conv_forward"] + 3 * gatys_step["gram_forward"]


def test_bench_cli_parses_and_table_formats():
    from benchmarks.__main__ import table
    from nst.cli import build_parser

    args = build_parser().parse_args(["bench", "--quick", "--sizes", "128,256", "--only", "gatys"])
    assert args.sizes == [128, 256] and args.quick and args.only == "gatys"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--sizes", "0"])
    text = table([{"section": "gatys", "variant": "project adam", "size": 512, "height": 384, "width": 512,
                   "s_per_iter": 2.0, "speedup_vs_baseline": 1.7, "gflops": 150.0, "fraction_of_ceiling": 0.6,
                   "peak_rss_mb": 1500.0}])
    assert "512x384" in text and "1.70" in text and "60" in text
    from benchmarks import fast

    rows = fast.run(sizes=(32,), precisions=("float32",), reps=1, train_size=32, train_batch=2, train_reps=1)
    text = table([dict(section="fast", **r) for r in rows])
    assert "inference float32" in text and "train step float32, batch 2" in text and "ms/image" in text


def test_a_gatys_benchmark_worker_keeps_one_loop_across_its_turns(monkeypatch):
    """The workers take turns of a few iterations; a new Loop each turn rebuilt the bfloat16 run's float32
    twin and retraced the XLA step every turn (bfloat16 Adam read 1.07 s an iteration, not 0.13 s)."""
    from benchmarks import gatys as bench

    rng = np.random.default_rng(0)
    monkeypatch.setattr(bench, "load_pair", lambda size, square=False: tuple(
        rng.uniform(0, 255, (size, size, 3)).astype(np.float32) for _ in range(2)))
    runner = bench.Runner(bench.Variant("bfloat16 Adam", precision="bfloat16"), 32)
    with contextlib.redirect_stderr(io.StringIO()):
        runner.run(1)
        loop, twin = runner.loop, runner.loop.twin
        runner.run(2)
    assert runner.loop is loop and loop.twin is twin and twin is not None
    assert [t[1] for t in runner.trace] == [1, 2]


def test_a_turns_time_ends_at_its_last_iteration_not_at_the_float32_printout(monkeypatch, capsys):
    """A bfloat16 turn ends by printing its image's float32 loss (the twin's forward pass): not timed."""
    import json

    from benchmarks import gatys as bench

    rng = np.random.default_rng(0)
    monkeypatch.setattr(bench, "load_pair", lambda size, square=False: tuple(
        rng.uniform(0, 255, (size, size, 3)).astype(np.float32) for _ in range(2)))
    monkeypatch.setattr("sys.stdin", io.StringIO("2\nquit\n"))
    bench.serve(bench.Variant("bfloat16 Adam", precision="bfloat16"), 32)
    turn = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [s for _, s, _ in turn["trace"]] == [1, 2]
    assert turn["seconds"] == turn["trace"][-1][0]


def test_time_to_quality_worker_reaches_the_references_loss_and_the_table_says_so(shared_images):
    from benchmarks import quality
    from benchmarks.__main__ import table

    ref = quality.worker({"size": 48, "seed": 0, "overrides": {"iterations": 8}})
    assert ref["reached"] and ref["iterations"] == 8 and (ref["height"], ref["width"]) == (36, 48)
    fast = quality.worker({"size": 48, "seed": 0, "target": ref["loss"],
                           "overrides": {"iterations": 60, **quality.SLOWER["lbfgs coarse-to-fine 0.5,1 from the content"],
                                         "coarse_iterations": (10,)}})
    assert fast["reached"] and fast["loss"] <= ref["loss"] and fast["final_iterations"][0] == 10
    assert 1 <= fast["iterations"] < 60  # stopped at the target, not at the cap
    rows = [{"section": "time_to_quality", "variant": "lbfgs", "size": 48, "height": 36, "width": 48,
             "seconds": 3.0, "time_ratio": 0.3, "cpu_seconds": 5.0, "cpu_ratio": 0.31, "iterations_per_scale": [10, 4],
             "target_total_loss": ref["loss"], "total_loss": fast["loss"], "reached": True}]
    text = table(rows)
    assert "0.30 x ref" in text and "0.31 x" in text and "[10, 4]" in text


def test_a_bfloat16_row_is_judged_by_the_float32_loss_of_its_float32_image():
    """Time to quality compares float32 losses only: a run computing in bfloat16 is judged by a float32 twin
    (same targets) evaluated at its current image, and the table says so; a row that is not is marked."""
    from benchmarks import quality
    from benchmarks.__main__ import table
    from nst.gatys import optimize
    from nst.gatys.twin import float32_twin

    st = _built(gatys.Config(precision="bfloat16"), 48, 48)
    st.input_img.assign(st.input_img + 7.0)  # somewhere other than the start
    loop = optimize.Loop(st)
    loop.twin = float32_twin(st)                  # what Loop.run builds first for a run in another precision
    assert float32_twin(_built(gatys.Config(), 48, 48)) is None
    off_clock = [0.0, 0.0]
    judged = quality._judged(loop, off_clock)
    plain = _built(gatys.Config(), 48, 48)
    plain.input_img.assign(st.input_img)
    assert judged == optimize.weighted(plain, plain.total_loss())["total"]  # the float32 loss of that image
    assert judged != optimize.weighted(st, st.total_loss())["total"]       # not the bfloat16 one
    assert off_clock[0] > 0
    row = {"section": "time_to_quality", "variant": "lbfgs, bfloat16", "size": 48, "height": 48, "width": 48,
           "seconds": 3.0, "time_ratio": 0.3, "cpu_seconds": 5.0, "cpu_ratio": 0.31, "iterations_per_scale": [4],
           "target_total_loss": 1.0, "total_loss": 0.9, "reached": True, "precision": "bfloat16",
           "loss_precision": "float32"}
    assert "steps in bfloat16, loss in float32" in table([row])
    assert "LOSS IN bfloat16, not float32" in table([{**row, "loss_precision": "bfloat16"}])


def test_multiscale_memory_row_runs_one_stylize_process(shared_images):
    from benchmarks.__main__ import multiscale_row, table

    row = multiscale_row([40, 64])
    assert row["size"] == 64 and 200 < row["peak_rss_mb"] < 8000 and "exit" not in row["note"]
    assert "--scales 40,64" in table([row])


def test_only_nst_bench_imports_the_benchmarks_package():
    """Building the ``nst`` parser (what every command does) must not import ``benchmarks``, which
    edits sys.path and imports TensorFlow helpers; ``nst bench`` itself does."""
    import subprocess
    import sys

    code = ("import sys; from nst.cli import build_parser; build_parser().parse_args(['weights']); "
            "print('benchmarks' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_gpu_script_writes_every_row_in_one_command(tmp_path, monkeypatch):
    """``python -m benchmarks.gpu``: without a GPU one line and exit 2; with ``--cpu`` the device row, Gatys
    float32 and bfloat16 s/iteration, fast and arbitrary inference and a training step, in one results file.
    The Gatys pair comes from the repository's own images (no image mirror needed)."""
    import json
    import shutil

    from benchmarks import gatys as gatys_bench

    mirror = tmp_path / "images"
    for rel, source in ((gatys_bench.CONTENT, "content/chelsea.jpg"), (gatys_bench.STYLE, "styles/swirls.jpg")):
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / source, mirror / rel)
    monkeypatch.setenv("NST_SHARED_IMAGES", str(mirror))

    tf = pytest.importorskip("tensorflow")
    from benchmarks import gpu

    out = tmp_path / "gpu.json"
    if not tf.config.list_physical_devices("GPU"):
        assert gpu.main(["--json", str(out)]) == 2 and not out.exists()
    assert gpu.main(["--cpu", "--gatys-size", "48", "--size", "32", "--train-size", "32", "--train-batch", "1",
                     "--rounds", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert rows[0]["section"] == "device"
    assert [r["variant"] for r in rows if r["section"] == "gatys"] == list(gpu.GATYS)
    assert all(r["s_per_iter"] > 0 for r in rows if r["section"] == "gatys")
    fast = {r["variant"]: r for r in rows if r["section"] == "fast"}
    assert {"inference float32", "inference bfloat16", "train step float32, batch 1"} <= set(fast)
    assert fast["inference float32"]["size"] == 32
    assert any(r["section"] == "arbitrary" and r["part"] == "transfer" and r["size"] == 32 for r in rows)
