"""The whole Gatys run: every scale in turn, each a student ``StyleTransfer`` built and optimised
(:mod:`nst.gatys.optimize`), each scale starting from the previous result, upsampled."""
from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import numpy as np

from nst import images, runfolder
from nst.gatys.config import Config, stages_of
from nst.gatys.inputs import prepare_images


def write_settings(run_dir: str | Path, content: str, styles: list[str], config: Config, *, impl: str,
                   preserve_colors: bool = False, smoke: bool = False) -> Path:
    """``<run>/settings.json``: the run's record (:mod:`nst.runfolder`): ``content``, ``styles``,
    ``preserve_colors``, ``impl``, ``smoke`` and every :class:`Config` field. ``nst stylize`` and the part 1
    notebook write it; ``nst course submit`` reads it."""
    record = runfolder.settings_record(config, smoke=smoke, content=str(content), styles=[str(s) for s in styles],
                                       preserve_colors=bool(preserve_colors), impl=impl)
    return runfolder.write_settings(run_dir, record, runfolder.SETTINGS)


def summary_writer(config: Config):
    import tensorflow as tf

    return tf.summary.create_file_writer(config.logdir) if config.logdir else None


def train(st, n_iters: int) -> np.ndarray:
    from nst.gatys import optimize

    return optimize.run(st, n_iters)


def stylize(content_path: str, style_paths: list[str], config: Config, impl: str | None = None) -> np.ndarray:
    """The whole run: every scale in turn (each starting from the last result), checkpoints, logs."""
    from nst import impl as impls
    from nst.runtime import configure_threads, set_seed

    configure_threads()
    module = impls.load("style_transfer", impl)
    stages = stages_of(config)
    result = None
    for i, (size, fraction, iterations) in enumerate(stages):
        set_seed(config.seed)
        stage = dataclasses.replace(config)
        label = str(size) if size else f"{fraction:g}x"
        if len(stages) > 1:
            stage.run_dir = str(Path(config.run_dir) / f"scale{label}") if config.run_dir else None
            stage.logdir = str(Path(config.logdir) / f"scale{label}") if config.logdir else None
        content, styles = prepare_images(content_path, style_paths, stage, size=size, fraction=fraction)
        st = module.StyleTransfer(content, styles, stage)
        if result is not None:  # start from the previous scale's result, upsampled
            st.initial_img = images.preprocess(images.resize(result.astype(np.float32), *content.shape[:2]))
        st.build()
        result = st.train(iterations) if iterations else images.deprocess(st.initial_img)
        del st  # free this scale's graph and buffers before the next, larger scale builds its own
        gc.collect()
        if i + 1 < len(stages):
            following = stages[i + 1][0] or f"{stages[i + 1][1]:g}x"
            print(f"scale {label}: done, next {following}", flush=True)
    return result
