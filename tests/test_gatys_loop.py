"""The contract between the Gatys loop and the student's class (nst/gatys/contract.py) is all the loop needs:
a class with only those parts runs under Adam and L-BFGS, and the loop writes nothing onto it."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from nst import gatys
from nst.gatys.contract import OPTIONAL, StyleTransferModel

tf = pytest.importorskip("tensorflow")


class OnlyTheContract:
    """The required parts and none of the optional ones: the loss pulls every pixel towards 10."""

    def __init__(self, config: gatys.Config):
        self.config = config
        self.input_img = tf.Variable(tf.zeros([1, 8, 8, 3]), name="in_img")

    def total_loss(self) -> dict[str, tf.Tensor]:
        content = tf.reduce_sum((self.input_img - 10.0) ** 2) / 2
        zero = tf.zeros_like(content)
        return {"content": content, "style": zero, "tv": zero, "total": self.config.content_weight * content}

    def train_step(self) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            losses = self.total_loss()
        self.input_img.assign_sub(0.4 * tape.gradient(losses["total"], self.input_img))
        return losses


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_the_loop_runs_a_class_with_only_the_contracts_parts_and_leaves_it_untouched(optimizer):
    from nst.gatys import optimize

    st = OnlyTheContract(gatys.Config(optimizer=optimizer, content_weight=1.0, print_iterations=1000))
    assert isinstance(st, StyleTransferModel)
    assert not any(hasattr(st, name) for name in OPTIONAL)
    before, attributes = float(st.total_loss()["total"]), dict(vars(st))
    loop = optimize.Loop(st)
    with contextlib.redirect_stdout(io.StringIO()):
        image = loop.run(5)
    assert image.shape == (8, 8, 3)
    assert float(st.total_loss()["total"]) < before / 4, "the loop optimised the image"
    assert vars(st) == attributes, "the loop keeps its state on the Loop, never on the student's object"
    assert (loop.lbfgs_result is not None) == (optimizer == "lbfgs")


class BranchesOnATensor(OnlyTheContract):
    """A student's class whose Python ``if`` reads a tensor: it traces only with AutoGraph."""

    def total_loss(self) -> dict[str, tf.Tensor]:
        losses = super().total_loss()
        if losses["total"] >= 0:
            return losses
        return {k: -v for k, v in losses.items()}


def test_lbfgs_traces_a_class_that_branches_on_a_tensor():
    """The L-BFGS function is traced without AutoGraph (faster), and again with it for such a class."""
    from nst.gatys import optimize

    st = BranchesOnATensor(gatys.Config(optimizer="lbfgs", content_weight=1.0, print_iterations=1000))
    before = float(st.total_loss()["total"])
    with contextlib.redirect_stdout(io.StringIO()):
        optimize.Loop(st).run(3)
    assert float(st.total_loss()["total"]) < before / 4


def test_the_reference_class_meets_the_contract_with_its_optional_parts():
    import numpy as np

    from solutions.style_transfer import StyleTransfer

    rng = np.random.default_rng(0)
    st = StyleTransfer(rng.uniform(0, 255, (32, 32, 3)), [rng.uniform(0, 255, (32, 32, 3))],
                       gatys.Config(print_iterations=1000))
    st.build()
    assert isinstance(st, StyleTransferModel)
    assert all(getattr(st, name, None) is not None or name == "writer" for name in OPTIONAL)
    assert not isinstance(object(), StyleTransferModel)


def test_a_bfloat16_run_prints_and_logs_float32_losses_of_its_image(tmp_path, capsys):
    """``loss/*`` (and the printed line) are the float32 losses of the float32 image, every print_iterations steps
    and at the last; what the bfloat16 steps computed is logged apart as ``loss_bfloat16/*``."""
    import dataclasses

    import numpy as np

    from nst.gatys import optimize
    from nst.summaries import read_scalars
    from solutions.style_transfer import StyleTransfer

    rng = np.random.default_rng(0)
    content, styles = rng.uniform(0, 255, (48, 48, 3)), [rng.uniform(0, 255, (48, 48, 3))]
    config = gatys.Config(optimizer="lbfgs", precision="bfloat16", print_iterations=2, logdir=str(tmp_path / "logs"),
                          **{k: v for k, v in gatys.PRESETS["neural-style"].items() if k != "optimizer"})
    st = StyleTransfer(content, styles, config)
    st.build()
    optimize.run(st, 5)
    scalars = read_scalars(tmp_path / "logs")
    assert [s for s, _ in scalars["loss/total"]] == [1, 2, 4, 5], "float32 losses at the first, every 2nd, the last"
    assert [s for s, _ in scalars["loss_bfloat16/total"]] == [1, 2, 3, 4, 5]

    judge = StyleTransfer(content, styles, dataclasses.replace(config, precision="float32", logdir=None))
    judge.build()
    judge.input_img.assign(st.input_img)
    expected = optimize.weighted(judge, judge.total_loss())["total"]
    logged = scalars["loss/total"][-1][1]
    assert logged == pytest.approx(expected, rel=1e-5), "loss/total is the float32 loss of the final image"
    assert abs(scalars["loss_bfloat16/total"][-1][1] - expected) > 1e-4 * expected, "the steps' own loss is not it"
    assert f"total={logged:.4g}" in capsys.readouterr().out.splitlines()[-1], "the last printed line shows it"


class SteppedLoss(OnlyTheContract):
    """In "bfloat16" the loss sees the image rounded to steps of 4 (the gradient passes straight through), as
    bfloat16's rounding flattens the loss along a line; its float32 twin sees the image itself."""

    def __init__(self, config: gatys.Config):
        self.config = config

    def build(self) -> None:
        self.input_img = tf.Variable(tf.zeros([1, 8, 8, 3]), name="in_img")

    def total_loss(self) -> dict[str, tf.Tensor]:
        x = self.input_img
        if self.config.precision != "float32":
            x = x + tf.stop_gradient(tf.round(x / 4.0) * 4.0 - x)
        curvature = tf.reshape(tf.linspace(1.0, 50.0, 192), [1, 8, 8, 3])   # so L-BFGS needs many iterations
        content = tf.reduce_sum(curvature * (x - 10.3) ** 2) / 2
        zero = tf.zeros_like(content)
        return {"content": content, "style": zero, "tv": zero, "total": self.config.content_weight * content}


def test_lbfgs_in_bfloat16_finishes_in_float32_when_its_line_search_stops(capsys):
    """The iterations an L-BFGS run in another precision has left when its line search stops run in float32 on
    its twin, from that image: it reaches what the coarse loss cannot (the image at 10.3, not at a step of 4)."""
    from nst.gatys import optimize

    st = SteppedLoss(gatys.Config(optimizer="lbfgs", precision="bfloat16", content_weight=1.0, print_iterations=1))
    st.build()
    loop = optimize.Loop(st)
    loop.run(60)
    out = capsys.readouterr().out
    assert "L-BFGS in bfloat16 stopped at iteration" in out and "in float32" in out
    assert loop.finishing
    assert np.allclose(st.input_img.numpy(), 10.3, atol=1e-3), "the run's own image carries the float32 result"
    assert float(loop.shown["total"]) < 1e-4
