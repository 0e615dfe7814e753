"""Part 2 library (ungraded): the training photos pipeline, the training loop, resume, multi-device.

Tiny settings throughout (32 px crops, batch 2-4, a few steps) so the file runs in well under
a minute on two cores; the loss network is the real VGG16.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.errors import NstError

REPO = Path(__file__).resolve().parents[1]
FAST_CONFIGS = ("stained_glass", "swirls", "composition", "tide", "mosaic", "starry_night", "udnie", "wave", "demo_cpu")


def _photos(folder: Path, n: int = 3, bad: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        size = (40 + 7 * i, 36 + 5 * i)
        Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(folder / f"p{i}.jpg")
    if bad:
        (folder / "garbage.jpg").write_bytes(b"this is not a jpeg")
        data = (folder / "p0.jpg").read_bytes()
        (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    return folder


def _config(tmp_path: Path, content: Path, **kw):
    from nst.fast.config import TrainConfig

    tmp_path.mkdir(parents=True, exist_ok=True)
    style = tmp_path / "style.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(style)
    settings = dict(style_image=str(style), naming="tiny", model_path=str(tmp_path / "models"),
                    content_dir=str(content), image_size=32, style_size=48, batch_size=2,
                    checkpoint_every=2, log_every=1, image_every=2, test_image=str(content / "p0.jpg"), seed=3)
    settings.update(kw)
    return TrainConfig(**settings)


def test_pipeline_skips_and_counts_unreadable_files(tmp_path):
    from nst.fast.data import ContentImages

    data = ContentImages(_photos(tmp_path / "c", n=3, bad=True), image_size=32, batch_size=2, seed=0)
    assert len(data) == 5
    with pytest.warns(UserWarning, match="skipped unreadable image"):
        batches = list(data.dataset().take(3))  # 6 good crops need 10 files: two epochs
    images, after = batches[-1]
    assert images.shape == (2, 32, 32, 3) and images.dtype.name == "float32"
    assert 0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 255
    assert data.skipped == {str(tmp_path / "c" / "garbage.jpg"), str(tmp_path / "c" / "truncated.jpg")}
    assert int(after) == 10, "the index after the last batch counts every file visited, skipped ones included"


def test_pipeline_is_a_function_of_seed_and_position(tmp_path):
    from nst.fast.data import ContentImages

    data = ContentImages(_photos(tmp_path / "c", n=4), image_size=32, batch_size=2, seed=5)
    whole = [b.numpy() for b, _ in data.dataset().take(3)]
    resumed = [b.numpy() for b, _ in data.dataset(start=4).take(1)]
    np.testing.assert_array_equal(whole[2], resumed[0])
    other = ContentImages(tmp_path / "c", image_size=32, batch_size=2, seed=6)
    assert not np.array_equal(next(iter(other.dataset()))[0].numpy(), whole[0])


def test_empty_folder_is_a_clear_error(tmp_path):
    from nst.fast.data import ContentImages

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    with pytest.raises(NstError, match="no images"):
        ContentImages(tmp_path / "empty")
    with pytest.raises(NstError, match="no such folder"):
        ContentImages(tmp_path / "missing")


def test_config_errors(tmp_path):
    from nst.fast.config import load_config

    bad = tmp_path / "bad.yml"
    bad.write_text("style_image: a.jpg\nnaming: x\nstyle_wieght: 3\n")
    with pytest.raises(NstError, match="unknown key.*style_wieght"):
        load_config(bad)
    bad.write_text("naming: x\n")
    with pytest.raises(NstError, match="missing key.*style_image"):
        load_config(bad)
    bad.write_text("style_image: a.jpg\nnaming: x\nloss_model: resnet\n")
    with pytest.raises(NstError, match="vgg16 or vgg19"):
        load_config(bad)
    for name in FAST_CONFIGS:
        config = load_config(REPO / "conf" / f"{name}.yml")
        assert config.content_layers and config.style_layers, name


def _weights(net) -> dict:
    from nst.fast.model import named_variables

    return {k: v.numpy() for k, v in named_variables(net).items()}


def test_resume_gives_the_uninterrupted_result(tmp_path):
    from nst.fast.train import train

    content = _photos(tmp_path / "c", n=3)
    whole = train(_config(tmp_path / "a", content), steps=4, impl="solutions")
    first = train(_config(tmp_path / "b", content), steps=2, impl="solutions")
    assert first["step"] == 2
    computed: list[int] = []
    resumed = train(_config(tmp_path / "b", content), steps=4, impl="solutions",  # picks up checkpoint.npz (step 2)
                    callback=lambda step, losses: computed.append(step))
    assert resumed["step"] == 4
    # A seeded restart from scratch ends with the same weights: the steps prove it resumed.
    assert computed == [3, 4], "the rerun continues after the checkpoint of step 2"
    from nst.fast.model import read_model

    assert read_model(resumed["model"])[1]["resumed_from"] == 2
    assert resumed["losses"]["total"] == pytest.approx(whole["losses"]["total"], rel=1e-4)
    a, b = _weights(whole["net"]), _weights(resumed["net"])
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-5, err_msg=name)
    assert (tmp_path / "b" / "models" / "tiny.npz").is_file()
    assert list((tmp_path / "b" / "models" / "tiny" / "logs").glob("events.out.tfevents.*"))



def test_ctrl_c_checkpoints_the_finished_step_and_the_same_command_resumes(tmp_path, monkeypatch, capsys):
    """A real SIGINT inside step 2 (after the update, before the data position is stored): the step
    finishes and is checkpointed (checkpoint_every is far off), KeyboardInterrupt follows (exit 130 from the
    CLI), and the rerun resumes to the uninterrupted end. Raised where it landed, the checkpoint would hold
    step 2's weights with step 1's data position, and the rerun would train on other photos."""
    import os
    import signal

    import nst.fast.train as loop

    content = _photos(tmp_path / "c", n=3)
    whole = loop.train(_config(tmp_path / "a", content, checkpoint_every=100), steps=4, impl="solutions")
    real, calls = loop.all_max, []

    def ctrl_c_inside_step_2(*args):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args)

    monkeypatch.setattr(loop, "all_max", ctrl_c_inside_step_2)
    with pytest.raises(KeyboardInterrupt):
        loop.train(_config(tmp_path / "b", content, checkpoint_every=100), steps=4, impl="solutions")
    monkeypatch.undo()
    assert "interrupted: checkpoint at step 2; run the same command to resume" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "Python's handler is back"
    resumed = loop.train(_config(tmp_path / "b", content, checkpoint_every=100), steps=4, impl="solutions")
    from nst.fast.model import read_model

    assert read_model(resumed["model"])[1]["resumed_from"] == 2
    assert resumed["losses"]["total"] == pytest.approx(whole["losses"]["total"], rel=1e-4)
    a, b = _weights(whole["net"]), _weights(resumed["net"])
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-5, err_msg=name)

MIRRORED = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/tests")
from test_fast_train import _config, _weights
from pathlib import Path
from nst.fast.train import train
tmp = Path(sys.argv[2])
content = tmp / "c"
one = train(_config(tmp, content, batch_size=4, optimizer="sgd", learning_rate=1e-4), steps=1, impl="solutions", save=False)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
two = train(_config(tmp, content, batch_size=4, optimizer="sgd", learning_rate=1e-4), steps=1, impl="solutions", strategy=strategy, save=False)
a, b = _weights(one["net"]), _weights(two["net"])
keep = list(a)
diffs = {k: float(np.abs(a[k] - b[k]).max()) for k in keep}
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss1": one["losses"], "loss2": two["losses"],
                  "max_diff": max(diffs.values()), "worst": max(diffs, key=diffs.get),
                  "max_change": max(float(np.abs(a[k] - v).max()) for k, v in
                                    _weights(type(one["net"])(seed=3)).items())}))
"""


def test_mirrored_strategy_matches_one_device(tmp_path):
    _photos(tmp_path / "c", n=4)
    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(REPO), str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    for key in ("content", "style", "tv", "total"):
        assert result["loss2"][key] == pytest.approx(result["loss1"][key], rel=1e-4), key
    assert result["max_change"] > 1e-4, "one step must change the weights"
    assert result["max_diff"] < 1e-3 * result["max_change"], result


def test_precision_reaches_the_training_step_and_float16_is_refused(tmp_path):
    """`precision: bfloat16` (`--precision bfloat16`, once `--mixed-precision`) computes the network and VGG in
    bfloat16: the same seeded step gives another loss than float32; the record says which. float16 would need
    loss scaling, which this loop does not do: one line, before any work."""
    from nst.fast.train import train

    content = _photos(tmp_path / "c")
    losses = {}
    for precision in ("float32", "bfloat16"):
        config = _config(tmp_path / precision, content, precision=precision, test_image=None)
        result = train(config, steps=1, impl="solutions")
        losses[precision] = result["losses"]["total"]
        record = json.loads((config.run_dir / "config.json").read_text())
        assert record["precision"] == precision
    assert np.isfinite(losses["bfloat16"]) and losses["bfloat16"] != losses["float32"], losses
    with pytest.raises(NstError, match="^precision float16 needs loss scaling"):
        _config(tmp_path / "f16", content, precision="float16")
