"""The YAML config of ``nst fast train`` (:class:`TrainConfig`) and its loader, and the options of
``nst fast stylize`` (:class:`Stylize`) and ``nst fast eval`` (:class:`Eval`), free of TensorFlow, so the
command line can declare its flags and read the crop size before TensorFlow starts (:mod:`nst.onednn`)."""
from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass
from pathlib import Path

from nst import common_options as common
from nst.errors import NstError
from nst.files import read_yaml_mapping
from nst.options import check, option

# Per-layer style weights for the default layers: deeper layers have much smaller Gram
# matrices (measured on the project's styles), so equal weights would leave only conv1.
DEFAULT_STYLE_LAYER_WEIGHTS = {"vgg16": [1.0, 50.0, 1.0e4, 1.0e7], "vgg19": None}
DEFAULT_LAYERS = {"vgg16": (["conv3_3"], ["conv1_2", "conv2_2", "conv3_3", "conv4_3"]),
                  "vgg19": (["conv4_2"], ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"])}


@dataclass
class TrainConfig:
    """The YAML keys (relative paths are relative to the working directory), each declared once
    (:func:`nst.options.option`): ``nst fast train``'s override flags, their validation and the docs'
    key table (the docs' part 2 page, ``python -m nst.doctables``) come from here."""

    style_image: str = option(MISSING, "the painting (a file, a shipped style's name or a URL)")
    naming: str = option(MISSING, "the run's and the model's name")
    model_path: str = option("outputs/models", "where checkpoints, logs and the model go")
    content_dir: str | list = option("content", "folder(s) of photos, searched recursively (MS-COCO train2014 "
                                                "for real use)", nargs="+", metavar="DIR")
    exclude_content: list = option([], "file names left out (held-out photos); a name that matches nothing is "
                                       "an error", flag=None)
    scale_range: list | None = option(None, "augmentation: the shorter side drawn from [lo, hi] px before the crop",
                                      flag=None)
    flip: bool = option(False, "augmentation: mirror half the crops left-right")
    init: str | None = option(None, "start from this model's weights (a shipped name or .npz: fine-tuning); "
                                    "published or published:K: a new style row of the published 26-style "
                                    "network", metavar="MODEL")
    train: str = option("all", "with init: published, norm learns only the new style row (990 numbers), all "
                               "the whole network", choices=("norm", "all"))
    content_weight: float = option(1.0, "weight of the content loss", bounds=">= 0")
    style_weight: float = option(0.01, "weight of the style loss", bounds=">= 0")
    tv_weight: float = option(1e-4, "weight of the total-variation smoothing", bounds=">= 0")
    image_size: int = option(256, "training crop side", bounds=">= 1")
    style_size: int | None = option(None, "the painting's longest side; off: image_size", bounds=">= 1")
    batch_size: int = option(4, "photos per step", bounds=">= 1")
    epochs: int = option(2, "passes over the photos (--steps stops earlier)", bounds=">= 1")
    learning_rate: float = option(1e-3, "Adam's learning rate", bounds=">= 0")
    optimizer: str = option("adam", "adam (the paper) or sgd (plain, for tests)", choices=("adam", "sgd"))
    loss_model: str = option("vgg16", "the perceptual loss network (nst.weights sources)", choices=("vgg16", "vgg19"))
    content_layers: list = option([], "content loss layers (empty: the loss model's, VGG16 conv3_3, "
                                      "VGG19 conv4_2)", flag=None)
    style_layers: list = option([], "style loss layers (empty: VGG16 conv1_2 conv2_2 conv3_3 conv4_3, "
                                    "VGG19 conv1_1 ... conv5_1)", flag=None)
    style_layer_weights: list | None = option(None, "weight of each style layer (VGG16 default [1, 50, 1e4, "
                                                    "1e7]: deeper Gram matrices are far smaller)", flag=None)
    test_image: str | None = option(None, "a photo stylized into TensorBoard every image_every steps",
                                    metavar="FILE")
    log_every: int = option(10, "steps between loss lines and TensorBoard scalars", bounds=">= 1")
    image_every: int = option(100, "steps between test images", bounds=">= 1")
    checkpoint_every: int = option(100, "steps between checkpoints", bounds=">= 1")
    precision: str = common.precision_option(command_default=None)
    seed: int = common.seed_option("random seed (weights, crops, order)")
    cluster: dict | None = option(None, "{workers: [host:port, ...]}: several machines (nst.distribute; "
                                        "or --workers)", flag=None)

    def __post_init__(self):
        if self.optimizer not in ("adam", "sgd"):
            raise NstError(f"optimizer must be adam or sgd, got {self.optimizer!r}")
        if self.loss_model not in DEFAULT_LAYERS:
            raise NstError(f"loss_model must be vgg16 or vgg19, got {self.loss_model!r}")
        content, style = DEFAULT_LAYERS[self.loss_model]
        self.content_layers = list(self.content_layers or content)
        if not self.style_layers and self.style_layer_weights is None:
            self.style_layer_weights = DEFAULT_STYLE_LAYER_WEIGHTS[self.loss_model]
        self.style_layers = list(self.style_layers or style)
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise NstError(f"style_layer_weights has {len(self.style_layer_weights)} entries for "
                           f"{len(self.style_layers)} style layers")
        if self.train not in ("norm", "all"):
            raise NstError(f"train must be norm or all, got {self.train!r}")
        if self.train == "norm" and not (self.init is not None and (str(self.init) == "published"
                                                                      or str(self.init).startswith("published:"))):
            raise NstError("train: norm learns a new style row of the published network: it needs init: published")
        check(self, by="key")
        if self.precision == "float16":
            raise NstError("precision float16 needs loss scaling, which nst fast train does not do: use bfloat16")

    @property
    def run_dir(self) -> Path:
        return Path(self.model_path) / self.naming

    @property
    def model_file(self) -> Path:
        return Path(self.model_path) / f"{self.naming}.npz"


def load_config(path: str | Path, **overrides) -> TrainConfig:
    """Read a YAML config; keyword overrides (not None) win. Unknown keys are an error."""
    path = Path(path)
    data = read_yaml_mapping(path)
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise NstError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    missing = [k for k in ("style_image", "naming") if k not in data]
    if missing:
        raise NstError(f"{path}: missing key(s) {', '.join(missing)}")
    return TrainConfig(**data)


@dataclass(kw_only=True)
class Stylize(common.Render):
    """``nst fast stylize``'s options (besides its inputs), each declared once."""

    model: list[str] = option([], "`published:K` (K = 0..25, the published network's styles), a shipped style's "
                                  "name (`nst fast list`) or a trained model (.npz from `nst fast train`); repeat "
                                  "it to blend styles", repeat=True, required=True, metavar="MODEL")
    output: str = common.output_option("outputs/fast")
    batch_size: int = option(4, "video frames per forward pass", bounds=">= 1")


@dataclass(kw_only=True)
class Eval:
    """``nst fast eval``'s options: the losses of a model on held-out photos."""

    model: list[str] = option([], "as for stylize: published:K, a shipped style's name or a model .npz (repeat "
                                  "to blend)", repeat=True, required=True, metavar="MODEL")
    style_weights: tuple[float, ...] | None = common.style_weights_option()
    content_dir: list[str] = option([], "folder(s) of held-out photos", nargs="+", required=True, metavar="DIR")
    style: str = option("", "the painting the losses compare with", required=True, metavar="IMAGE")
    size: int = option(512, "longest side of photos and painting", bounds=">= 32", what="at least 32")
    impl: str | None = common.impl_option()
    seed: int = common.seed_option(common.DETERMINISTIC)


@dataclass(kw_only=True)
class Export:
    """``nst fast export``'s options: a model as a SavedModel or a TFLite file."""

    model: str = option("", "a shipped style's name, a trained model (.npz), or `published` (the 26-style network "
                            "with its style_weights input)", required=True, metavar="MODEL")
    format: str = option("savedmodel", "the file format", choices=("savedmodel", "tflite"))
    output: str | None = option(None, "output path (off: beside the model)", short="-o", metavar="PATH")
    seed: int = common.seed_option(common.DETERMINISTIC)
