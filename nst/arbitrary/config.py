"""Settings of a model (stored in its files) and of a training run (``conf/arbitrary.yml``).

No TensorFlow here: the CLI checks settings before paying for the import.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from nst import common_options as common
from nst.errors import NstError
from nst.files import read_yaml_mapping
from nst.options import check, option

PREDICTORS = ("mobilenet_v2", "inception_v3")


@dataclasses.dataclass
class ModelConfig:
    """Everything needed to rebuild a model; stored with every checkpoint and export. Each field declared
    once (:func:`nst.options.option`): ``nst arbitrary train``'s flags for a model trained from scratch."""

    predictor: str = option("mobilenet_v2", "style prediction network: the published model's, or the paper's "
                                            "(from scratch only)", choices=PREDICTORS)
    width: float = option(0.25, "transfer network channels x width (0.25 published, 1.0 paper; from scratch only)",
                          bounds="(0, 4]")
    inception_weights: str | None = option(None, "a Keras .weights.h5 / .h5 file for --predictor inception_v3",
                                           metavar="FILE")
    embedding_dim: int = option(100, "size of the style embedding", bounds=">= 1", flag=None)
    style_size: int = option(256, "style images are resized to this longest side", bounds=">= 1", flag=None)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise NstError(f"unknown model setting(s): {', '.join(sorted(unknown))}")
        cfg = cls(**d)
        check(cfg)
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class TrainConfig:
    """The YAML keys of ``conf/arbitrary.yml`` (``model:`` a sub-mapping, :class:`ModelConfig`), each declared
    once: ``nst arbitrary train``'s flags, their validation and the docs' key table come from here."""

    out_dir: str = option("outputs/arbitrary", "run folder (checkpoint.npz, model.npz, config.json, logs/)",
                          flag="--run-dir", deprecated=("--out",), metavar="DIR")
    content_dirs: list[str] = option(["content"], "photo folder(s), searched recursively", flag="--content-dir",
                                     nargs="+", metavar="DIR")
    style_dirs: list[str] = option(["styles"], "painting folder(s), searched recursively", flag="--style-dir",
                                   nargs="+", metavar="DIR")
    init: str | None = option(None, "start from published (Magenta's model: fine-tuning) or a model .npz",
                              metavar="MODEL")
    exclude_styles: list[str] = option([], "painting file names held out for testing", flag=None)
    steps: int = option(40000, "training steps in all", bounds=">= 1")
    batch_size: int = option(8, "photo and painting pairs per step", bounds=">= 1")
    crop: int = option(256, "training crop side", bounds=">= 1")
    scale_range: tuple[int, int] = option((256, 512), "the shorter side drawn from [lo, hi] px before the crop",
                                          bounds=">= 1", metavar="LO,HI")
    style_scale_range: tuple[int, int] | None = option(None, "the same for the paintings (off: scale_range)",
                                                       bounds=">= 1", metavar="LO,HI")
    learning_rate: float = option(1e-3, "Adam's learning rate", bounds="> 0")
    optimizer: str = option("adam", "adam, or sgd (plain gradient descent: tests of the gradient scale)",
                            choices=("adam", "sgd"))
    loss_network: str = option("vgg16", "the perceptual loss network (nst.weights sources)",
                               choices=("vgg16", "vgg19"))
    content_layers: list[str] = option(["conv3_3"], "content loss layers", flag=None)
    style_layers: list[str] = option(["conv1_2", "conv2_2", "conv3_3", "conv4_3"], "style loss layers", flag=None)
    content_weight: float = option(1.0, "weight of the content loss", bounds=">= 0")
    style_weight: float = option(3e-2, "weight of the style loss", bounds=">= 0")
    tv_weight: float = option(0.0, "weight of the total-variation smoothing", bounds=">= 0")
    precision: str = common.precision_option(command_default=None)
    devices: list[str] | None = option(None, "MirroredStrategy over these devices (off: all GPUs if > 1)",
                                       flag=None)
    log_every: int = option(20, "steps between log lines", bounds=">= 1")
    image_every: int = option(500, "steps between TensorBoard grids of grid_contents x grid_styles", bounds=">= 1")
    checkpoint_every: int = option(200, "steps between checkpoints", bounds=">= 1")
    grid_contents: list[str] = option([], "photos of the TensorBoard grid", flag=None)
    grid_styles: list[str] = option([], "paintings of the TensorBoard grid", flag=None)
    seed: int = common.seed_option("random seed (weights, crops, order)")
    cluster: dict | None = option(None, "{workers: [host:port, ...]}: several machines (nst.distribute; or "
                                        "--workers)", flag=None)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["model"] = self.model.to_dict()
        d["scale_range"] = list(self.scale_range)
        d["style_scale_range"] = list(self.style_scale_range) if self.style_scale_range else None
        return d


def load_config(path: str | Path | None = None, **overrides) -> TrainConfig:
    """Settings from a YAML file (keys as in :class:`TrainConfig`, ``model:`` a sub-mapping), then overrides."""
    data: dict = {}
    if path is not None:
        data = read_yaml_mapping(path)
    model = dict(data.pop("model", None) or {})
    if "mixed_precision" in data:  # the key's name before 2026-12 (none = float32), kept for one release
        legacy = data.pop("mixed_precision")
        print("warning: the config key mixed_precision is deprecated and will be removed in the next release; "
              "use precision: float32|bfloat16|float16", file=sys.stderr)
        data.setdefault("precision", "float32" if legacy == "none" else legacy)
    model.update(overrides.pop("model", None) or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(data) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise NstError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    for key in ("scale_range", "style_scale_range"):
        if data.get(key) is not None:
            data[key] = tuple(data[key])
    cfg = TrainConfig(**data, model=ModelConfig.from_dict(model))
    check(cfg, by="key")
    for key in ("scale_range", "style_scale_range"):
        value = getattr(cfg, key)
        if value is not None and (len(value) != 2 or value[0] > value[1]):
            raise NstError(f"{key} must be two sizes [lo, hi] with lo <= hi, got {list(value)}")
    if cfg.init is not None and cfg.init != "published" and not Path(cfg.init).is_file():
        raise NstError(f"init: {cfg.init}: no such model file (use `published` or a model .npz)")
    return cfg




def style_option(help: str = "style image: any painting (a file or an https:// URL); repeat for several") -> Any:
    """``--style IMAGE``, repeated for several (stylize and grid)."""
    return option([], help, repeat=True, required=True, metavar="IMAGE")


def model_option() -> Any:
    """``--model``: Magenta's published model, or one trained with ``nst arbitrary train``."""
    return option("published", "`published` (Magenta's model, the default) or a model/checkpoint .npz from "
                               "training", metavar="MODEL")


@dataclasses.dataclass(kw_only=True)
class Stylize(common.Render):
    """``nst arbitrary stylize``'s options (besides its inputs), each declared once."""

    style: list[str] = style_option()
    model: str = model_option()
    output: str = common.output_option("outputs/arbitrary")


@dataclasses.dataclass(kw_only=True)
class Grid:
    """``nst arbitrary grid``'s options: an interpolation strip between two styles."""

    style: list[str] = style_option("style image: give two, the ends of the strip")
    model: str = model_option()
    output: str = option("", "output image (.png or .jpg)", short="-o", required=True, metavar="IMAGE")
    steps: int = option(5, "images between the two styles", bounds=">= 2", what="at least 2")
    max_size: int | None = common.max_size_option()
    precision: str = common.precision_option()
    impl: str | None = common.impl_option()
    seed: int = common.seed_option(common.DETERMINISTIC)


@dataclasses.dataclass(kw_only=True)
class Eval:
    """``nst arbitrary eval``'s options: the style loss of a model per painting, averaged over photos."""

    model: str = model_option()
    content_dir: list[str] = option([], "folder(s) of photos", nargs="+", required=True, metavar="DIR")
    style: list[str] = option([], "painting(s)", nargs="+", required=True, metavar="IMAGE")
    config: str = option("conf/arbitrary.yml", "YAML settings: the loss network and style layers",
                         metavar="FILE")
    size: int = option(256, "centred square side of every image", bounds=">= 32", what="at least 32")
    impl: str | None = common.impl_option()
    seed: int = common.seed_option(common.DETERMINISTIC)
