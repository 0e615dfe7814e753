"""The options several commands share, each declared once (:func:`nst.options.option`).

One spelling, one help text, one set of choices and bounds for the three methods:

* :func:`precision_option`: ``--precision auto|float32|bfloat16|float16`` of every command that runs a network;
* :func:`seed_option` and :func:`impl_option`: ``--seed N`` and ``--impl assignment|solutions`` of every command;
* :func:`style_weights_option` and :func:`output_option`: ``--style-weights`` and ``-o/--output``;
* :class:`Render`: what ``nst fast stylize`` and ``nst arbitrary stylize`` share (blend weights, strength,
  size, colours, frames, precision), subclassed by each with its inputs and output (``nst.fast.config``,
  ``nst.arbitrary.config``); :class:`Training`: the process flags of both training commands.

No TensorFlow here: the command line builds its flags and checks them before TensorFlow starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nst.options import option

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
IMPLS = ("assignment", "solutions")
DETERMINISTIC = "random seed (this command is deterministic; every command takes one)"
IMPL_DEFAULT = "$NST_IMPL, else solutions/ if present, else assignment/"


def precision_option(command_default: str | None = "auto") -> Any:
    """``--precision``: the dtype the networks compute in; images, Gram matrices, losses and optimizer state
    stay float32. ``auto`` (:func:`nst.runtime.resolve_precision`) is the default of the commands that render
    (``command_default``); the library's default, what tests and graded code get, is float32."""
    return option("float32", "compute precision of the networks: auto = bfloat16 where the hardware has it "
                             "(AVX512_BF16/AMX CPUs, GPUs), else float32 (bfloat16 elsewhere is emulated, many "
                             "times slower); float16: GPUs", choices=PRECISIONS, command_default=command_default)


def seed_option(what: str = "seed of every random choice") -> Any:
    """``--seed N`` (``what``: what it seeds, or that the command is deterministic)."""
    return option(0, what, bounds=">= 0")


def impl_option() -> Any:
    """``--impl``: whose student code runs (None: :func:`nst.impl.default_impl` decides)."""
    return option(None, "student code to use", choices=IMPLS, shown=IMPL_DEFAULT)


def style_weights_option() -> Any:
    """``--style-weights W1,W2``: blend weights of several styles, the rule of :mod:`nst.blend`."""
    return option(None, "blend weights, one per style: >= 0, not all zero, normalised to sum 1 (off: equal "
                        "weights)", metavar="W1,W2")


def output_option(default: str) -> Any:
    """``-o/--output``: a folder for any inputs, or an image path for one input image (:func:`nst.media.plan`)."""
    return option(default, "output folder, or an image path (.png/.jpg) for one input image", short="-o",
                  metavar="PATH")


def max_size_option() -> Any:
    """``--max-size N``: the content resized first so its longest side is N pixels."""
    return option(None, "resize the content first so its longest side is this many pixels (off: as it is)",
                  bounds=">= 16", what="at least 16 pixels")


def add_inputs(parser) -> None:
    """The positional ``INPUT ...`` of the render commands: images, folders and videos (:func:`nst.media.plan`)."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image (a file or an https:// URL, downloaded once and cached), folder of images "
                             "or .mp4 video")


@dataclass(kw_only=True)
class Render:
    """The options of rendering with a trained network, shared by ``nst fast stylize`` and
    ``nst arbitrary stylize`` (each subclass adds its inputs and its output folder):
    ``out = strength * stylized + (1 - strength) * content`` (part 2; part 3 blends the style
    embeddings the same way), several styles mixed with weights ``w_i / sum_j w_j`` (:mod:`nst.blend`)."""

    style_weights: tuple[float, ...] | None = style_weights_option()
    max_size: int | None = max_size_option()
    preserve_colors: bool = option(False, "keep the content's colours (luminance-only transfer)")
    strength: float = option(1.0, "1 = fully stylized, 0 = the content as it is", bounds="[0, 1]")
    max_frames: int | None = option(None, "stylize only the first N frames of a video", bounds=">= 1",
                                    metavar="N")
    precision: str = precision_option()
    impl: str | None = impl_option()
    seed: int = seed_option(DETERMINISTIC)


@dataclass(kw_only=True)
class Training:
    """The process options both training commands share (``nst fast train``, ``nst arbitrary train``); their
    settings proper (what lands in ``config.json``) are the YAML keys of each method's TrainConfig."""

    workers: str | None = option(None, "train on several machines: host:port of every worker, comma-separated "
                                       "(else the config's cluster: section, else TF_CONFIG; distributed.md of "
                                       "the docs)", metavar="HOST:PORT,...")
    worker_index: int | None = option(None, "this machine's place in --workers (0 = the chief)", metavar="N")
    impl: str | None = impl_option()


@dataclass(kw_only=True)
class SeedOnly:
    """The options of a command that only lists or reports: ``--seed``, taken by every command."""

    seed: int = seed_option(DETERMINISTIC)
