"""The run layer the three methods share (nst.runfolder): one NaN guard, one TensorBoard folder, one record format."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import runfolder
from nst.errors import NstError

REPO = Path(__file__).resolve().parents[1]
# the one line every method prints when a step's loss is not finite
NAN_LINE = re.compile(r"^the (loss|gradient) became (nan|inf|-inf) at step \d+: [^\n]+$")


def test_check_finite_passes_finite_losses_and_names_the_step_and_the_kept_checkpoint(tmp_path):
    runfolder.check_finite({"total": 1.0, "style": 2.0}, 3, "lower it")
    with pytest.raises(NstError, match=r"^the loss became nan at step 7: lower it$"):
        runfolder.check_finite({"total": float("nan")}, 7, "lower it", kept=tmp_path / "absent.npz")
    kept = tmp_path / "checkpoint.npz"
    kept.write_bytes(b"x")
    with pytest.raises(NstError, match=r"the last good checkpoint is .*checkpoint\.npz$"):
        runfolder.check_finite({"total": float("inf")}, 2, "lower it", kept=kept)
    with pytest.raises(NstError, match=r"^the loss became 5.0 at step 1 \(style = nan\): lower it$"):
        runfolder.check_finite({"total": 5.0, "style": float("nan")}, 1, "lower it")
    # a diverged network can keep a finite loss (ReLU maps NaN to 0 under oneDNN on AVX512): the gradient tells
    with pytest.raises(NstError, match=r"^the gradient became nan at step 4: lower it$"):
        runfolder.check_finite({"total": 5.0, runfolder.GRADIENT: float("nan")}, 4, "lower it")


def _photos(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(n):
        small = rng.uniform(0, 255, (5, 6, 3)).astype(np.uint8)
        Image.fromarray(small).resize((44 + 3 * i, 38), Image.BICUBIC).save(folder / f"p{i}.png")
    return folder


def _gatys(tmp_path: Path) -> tuple[Path, str]:
    from nst.cli import main

    run = tmp_path / "gatys"
    rc = main(["stylize", str(REPO / "content" / "chelsea.jpg"), "--style", str(REPO / "styles" / "tide.jpg"),
               "--max-size", "48", "--iterations", "6", "--run-dir", str(run), "--seed", "3",
               "--impl", "solutions", "--learning-rate", "1e30"])
    assert rc == 2
    return run, ""


def _fast(tmp_path: Path) -> tuple[Path, str]:
    from nst.fast.config import TrainConfig
    from nst.fast.train import train

    content = _photos(tmp_path / "photos")
    config = TrainConfig(style_image=str(content / "p1.png"), naming="tiny", model_path=str(tmp_path / "models"),
                         content_dir=str(content), image_size=32, style_size=48, batch_size=2,
                         checkpoint_every=1, log_every=1, learning_rate=1e30, seed=3)
    with pytest.raises(NstError) as e:
        train(config, steps=4, impl="solutions")
    return tmp_path / "models" / "tiny", str(e.value)


def _arbitrary(tmp_path: Path) -> tuple[Path, str]:
    from nst.arbitrary.config import load_config
    from nst.arbitrary.train import train
    from solutions import arbitrary

    photos, paintings = _photos(tmp_path / "photos"), _photos(tmp_path / "paintings")
    cfg = load_config(None, out_dir=str(tmp_path / "arbitrary"), content_dirs=[str(photos)],
                      style_dirs=[str(paintings)], steps=4, batch_size=2, crop=32, scale_range=(32, 40),
                      content_layers=["conv2_2"], style_layers=["conv1_2", "conv2_2"], checkpoint_every=1,
                      log_every=1, seed=5, learning_rate=1e30)
    with pytest.raises(NstError) as e:
        train(cfg, arbitrary, progress=False)
    return tmp_path / "arbitrary", str(e.value)


@pytest.mark.parametrize("method", ["gatys", "fast", "arbitrary"])
def test_each_method_stops_a_diverging_run_with_the_same_one_line(method, tmp_path, capsys):
    """A learning rate of 1e30 overflows within two steps: every loop stops there with one line of one shape,
    names the checkpoint it kept (when it kept one), and logs TensorBoard under <run>/logs."""
    run, message = {"gatys": _gatys, "fast": _fast, "arbitrary": _arbitrary}[method](tmp_path)
    if method == "gatys":
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), err
        message = err[0][len("error: "):]
        assert "--learning-rate (now 1e+30)" in message
        assert not run.exists(), "a run stopped before its first checkpoint leaves no folder"
    else:
        assert "lower learning_rate" in message and "the last good checkpoint is" in message, message
        assert (run / runfolder.LOGS).is_dir() and list((run / runfolder.LOGS).rglob("events.out.tfevents.*"))
        assert not (run / "tb").exists()
        record = runfolder.read_settings(run, runfolder.CONFIG)
        assert record["learning_rate"] == 1e30 and record["smoke"] is False and record["seed"] in (3, 5)
    assert NAN_LINE.match(message), message


def test_the_part1_record_is_what_course_submit_reads(tmp_path):
    """gatys.write_settings (nst stylize, the part 1 notebook) -> nst.course.runs.part1_run: one declared format."""
    from nst import gatys
    from nst.course.runs import part1_run

    run = tmp_path / "outputs" / "r1"
    config = gatys.Config(iterations=120)
    path = gatys.write_settings(run, "content/chelsea.jpg", ["styles/tide.jpg"], config, impl="assignment",
                                smoke=True)
    assert path == run / runfolder.SETTINGS and oct(path.stat().st_mode & 0o777) != "0o600"
    record = json.loads(path.read_text())
    assert {"content", "styles", "preserve_colors", "impl", "smoke", "iterations", "run_dir"} <= set(record)
    (run / "final.png").write_bytes(b"")
    seen = part1_run(run)
    assert seen.key == json.dumps(["content/chelsea.jpg", ["styles/tide.jpg"]])
    assert seen.steps == 120 and seen.smoke is True
    gatys.write_settings(run, "content/chelsea.jpg", ["styles/tide.jpg"], config, impl="assignment")
    assert part1_run(run).smoke is False


def test_nothing_writes_a_run_record_or_a_tensorboard_folder_by_hand():
    """The CLI, the notebooks and the loops go through nst.runfolder (and gatys.write_settings)."""
    offenders = []
    for path in [*REPO.glob("nst/**/*.py"), *REPO.glob("notebooks/*.ipynb")]:
        if path.name == "runfolder.py":
            continue
        text = path.read_text()
        if re.search(r'(settings|config)\.json"[^\n]*(write_atomic|write_text)|(write_atomic|write_text)\([^\n]*'
                     r'(settings|config)\.json', text):
            offenders.append(f"{path.relative_to(REPO)}: writes a run record by hand")
        if re.search(r'create_file_writer\([^\n]*"(tb|logs)"', text):
            offenders.append(f"{path.relative_to(REPO)}: names its TensorBoard folder")
        if re.search(r"isfinite\([^\n]*loss", text):
            offenders.append(f"{path.relative_to(REPO)}: its own NaN guard")
    assert offenders == []


def test_arbitrary_train_names_its_run_folder_like_stylize_and_keeps_out_for_a_release(capsys):
    from nst.cli import build_parser
    from nst.cli.arbitrary import train_config

    parser = build_parser()
    args = parser.parse_args(["arbitrary", "train", "--run-dir", "runs/a"])
    assert train_config(args).out_dir == "runs/a"
    args = parser.parse_args(["arbitrary", "train", "--out", "runs/b"])
    assert train_config(args).out_dir == "runs/b"
    assert "--out is deprecated" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["arbitrary", "train", "--help"])
    shown = capsys.readouterr().out
    assert "--run-dir DIR" in shown and "--out " not in shown


class _Var:
    """A variable as nst.checkpoint sees one: numpy(), assign(), shape."""

    def __init__(self, value):
        self.value = np.asarray(value, np.float32)

    @property
    def shape(self):
        return self.value.shape

    def numpy(self):
        return self.value

    def assign(self, value):
        self.value = np.asarray(value, np.float32)


def test_the_checkpoint_format_round_trips_and_refuses_a_foreign_file_in_one_line(tmp_path):
    from nst import checkpoint

    path = tmp_path / checkpoint.CHECKPOINT
    opt = [_Var(3.0), _Var(np.arange(4.0)), _Var(np.ones((2, 2)))]
    checkpoint.save(path, "fast", 7, {"conv1/kernel": np.full((3, 3), 2.0, np.float32)}, opt, next_index=12)
    saved = checkpoint.load(path, "fast")
    assert saved.step == 7 and saved.meta == {"method": "fast", "next_index": 12}
    np.testing.assert_array_equal(saved.arrays["conv1/kernel"], np.full((3, 3), 2.0))
    fresh = [_Var(0.0), _Var(np.zeros(4)), _Var(np.zeros((2, 2)))]
    saved.assign_optimizer(fresh)
    for a, b in zip(opt, fresh):
        np.testing.assert_array_equal(a.value, b.value)
    with pytest.raises(NstError, match=r"optimizer state does not match \(3 saved, 2 here\)"):
        saved.assign_optimizer(fresh[:2])
    with pytest.raises(NstError, match=r"a checkpoint of a fast run, not of a gatys run$"):
        checkpoint.load(path, "gatys")
    old = tmp_path / "old.npz"   # part 1's checkpoints before the shared format
    np.savez(old, step=np.array(3), image=np.zeros((1, 4, 4, 3)), opt_0=np.array(3.0))
    with pytest.raises(NstError, match=r"old\.npz: not a checkpoint of this nst \(no __step__ entry\); "
                                       r"delete it to start over$"):
        checkpoint.load(old, "gatys")


def test_the_three_methods_write_that_one_format(tmp_path):
    """A stopped run of each method leaves <run>/checkpoint.npz in nst.checkpoint's format, with its method."""
    from nst import checkpoint
    from nst.cli import main

    run = tmp_path / "gatys"
    assert main(["stylize", str(REPO / "content" / "chelsea.jpg"), "--style", str(REPO / "styles" / "tide.jpg"),
                 "--max-size", "32", "--iterations", "2", "--checkpoint-iterations", "1", "--run-dir", str(run),
                 "--seed", "3", "--impl", "solutions"]) == 0
    saved = checkpoint.load(run / checkpoint.CHECKPOINT, "gatys")
    assert saved.step == 2 and saved.arrays["image"].shape[0] == 1 and len(saved.optimizer) >= 3
    fast_run, _ = _fast(tmp_path / "f")       # stops at step 2: the checkpoint of step 1 stays
    arbitrary_run, _ = _arbitrary(tmp_path / "a")
    for folder, method in ((fast_run, "fast"), (arbitrary_run, "arbitrary")):
        saved = checkpoint.load(folder / checkpoint.CHECKPOINT, method)
        assert saved.step == 1 and saved.optimizer and saved.arrays, method
    assert not (fast_run / "checkpoints").exists()
