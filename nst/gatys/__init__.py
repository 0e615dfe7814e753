"""Gatys et al. optimisation-based style transfer (part 1), shaped like :mod:`nst.fast` and :mod:`nst.arbitrary`.

* :mod:`nst.gatys.config`: :class:`Config` (every ``nst stylize`` option, declared once), presets, validation,
  the layer and style weights derived from them, the multi-scale schedule;
* :mod:`nst.gatys.inputs`: the content and style images and the start image;
* :mod:`nst.gatys.contract`: what the loop needs of the student's ``StyleTransfer`` (a ``typing.Protocol``);
* :mod:`nst.gatys.optimize`: the loop (Adam or L-BFGS, progress, TensorBoard, checkpoints, resume);
* :mod:`nst.gatys.run`: the whole run, scale by scale (:func:`stylize`), and its record (:func:`write_settings`).

The student's class uses it as ``from nst import gatys``: the names below are that interface. Importing it
imports no TensorFlow (the loop does, when a run starts).
"""
from nst.gatys.config import (
    CHANNELS,
    NEURAL_STYLE,
    PRESETS,
    STYLE_LAYERS,
    Config,
    compute_dtype,
    content_layer_weights,
    layer_depth,
    run_dir_for,
    stages_of,
    style_blend_weights,
    style_layer_weights,
    validate,
)
from nst.gatys.inputs import fit_style, initial_image, prepare_images
from nst.gatys.run import stylize, summary_writer, train, write_settings

__all__ = ["CHANNELS", "NEURAL_STYLE", "PRESETS", "STYLE_LAYERS", "Config", "compute_dtype", "content_layer_weights",
           "fit_style", "initial_image", "layer_depth", "prepare_images", "run_dir_for", "stages_of",
           "style_blend_weights", "style_layer_weights", "stylize", "summary_writer", "train", "validate",
           "write_settings"]
