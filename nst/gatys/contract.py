"""The contract between the Gatys loop (:mod:`nst.gatys.optimize`) and the student's class
(``<impl>/style_transfer.py``, ``StyleTransfer``), written once: what the loop reads and calls, and nothing else.

After ``st.build()`` the loop needs (:class:`StyleTransferModel`):

* ``config``: the run's :class:`nst.gatys.config.Config` (optimizer, weights, logging, run folder);
* ``input_img``: the one shared ``tf.Variable`` (1, H, W, 3), the image being optimised, mean-subtracted;
* ``total_loss()``: ``{"content", "style", "tv", "total"}`` unweighted terms and
  ``total = content_weight * content + style_weight * style + tv_weight * tv`` (L-BFGS differentiates it);
* ``train_step()``: one Adam update of ``input_img``; the same dictionary (Adam only).

And, when present (:func:`optional_parts`): ``opt``, the Keras optimizer whose ``variables`` a checkpoint
saves; ``gstep``, the int64 step variable a resumed run sets; ``writer``, the TensorBoard summary writer.
The loop keeps its own state on :class:`nst.gatys.optimize.Loop`, never on the student's object. For a run in
another precision than float32 it also calls ``build()`` on a shallow copy whose ``config.precision`` is float32
(:mod:`nst.gatys.twin`: the float32 losses it prints and logs).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import tensorflow as tf

    from nst.gatys.config import Config

OPTIONAL = ("opt", "gstep", "writer")


@runtime_checkable
class StyleTransferModel(Protocol):
    """A built ``StyleTransfer``: what :class:`nst.gatys.optimize.Loop` requires of it."""

    config: Config
    input_img: tf.Variable

    def total_loss(self) -> dict[str, tf.Tensor]:
        """The loss terms and their weighted sum ``"total"``."""

    def train_step(self) -> dict[str, tf.Tensor]:
        """One Adam step on ``input_img``; the loss terms before it."""


def optional_parts(st: Any) -> tuple[Any, Any, Any]:
    """``(opt, gstep, writer)`` of ``st``, each None where the class does not have it."""
    return tuple(getattr(st, name, None) for name in OPTIONAL)
