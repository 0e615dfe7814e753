"""Settings of a model (stored in its files) and of a training run (``conf/arbitrary.yml``).

No TensorFlow here: the CLI checks settings before paying for the import.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from nst.errors import NstError
from nst.files import read_yaml_mapping

PREDICTORS = ("mobilenet_v2", "inception_v3")


@dataclasses.dataclass
class ModelConfig:
    """Everything needed to rebuild a model; stored with every checkpoint and export."""
    predictor: str = "mobilenet_v2"        # the published model's; inception_v3 is the paper's
    width: float = 0.25                    # transfer network channels x width (0.25 published, 1.0 paper)
    inception_weights: str | None = None   # a Keras .weights.h5 / .h5 file for InceptionV3
    embedding_dim: int = 100
    style_size: int = 256                  # style images are resized to this longest side

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise NstError(f"unknown model setting(s): {', '.join(sorted(unknown))}")
        cfg = cls(**d)
        if cfg.predictor not in PREDICTORS:
            raise NstError(f"--predictor must be one of {', '.join(PREDICTORS)}, got {cfg.predictor!r}")
        if not 0 < float(cfg.width) <= 4:
            raise NstError(f"model width must be in (0, 4], got {cfg.width!r}")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class TrainConfig:
    out_dir: str = "outputs/arbitrary"
    content_dirs: list[str] = dataclasses.field(default_factory=lambda: ["content"])
    style_dirs: list[str] = dataclasses.field(default_factory=lambda: ["styles"])
    init: str | None = None                # "published" (Magenta's model) or a model .npz to start from
    exclude_styles: list[str] = dataclasses.field(default_factory=list)   # held out for testing
    steps: int = 40000
    batch_size: int = 8
    crop: int = 256
    scale_range: tuple[int, int] = (256, 512)
    style_scale_range: tuple[int, int] | None = None   # for the paintings; None: scale_range
    learning_rate: float = 1e-3
    optimizer: str = "adam"                # adam | sgd (plain gradient descent: tests of the gradient scale)
    loss_network: str = "vgg16"
    content_layers: list[str] = dataclasses.field(default_factory=lambda: ["conv3_3"])
    style_layers: list[str] = dataclasses.field(
        default_factory=lambda: ["conv1_2", "conv2_2", "conv3_3", "conv4_3"])
    content_weight: float = 1.0
    style_weight: float = 3e-2
    tv_weight: float = 0.0
    mixed_precision: str = "none"          # none | bfloat16 (CPUs with AVX512_BF16) | float16 (GPUs)
    devices: list[str] | None = None       # MirroredStrategy over these; None: all GPUs if > 1
    log_every: int = 20
    image_every: int = 500
    checkpoint_every: int = 200
    grid_contents: list[str] = dataclasses.field(default_factory=list)
    grid_styles: list[str] = dataclasses.field(default_factory=list)
    seed: int = 0
    cluster: dict | None = None            # {workers: [host:port, ...]}: several machines (nst.distribute)
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
    model.update(overrides.pop("model", None) or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(data) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise NstError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    for key in ("scale_range", "style_scale_range"):
        if data.get(key) is not None:
            data[key] = tuple(data[key])
    cfg = TrainConfig(**data, model=ModelConfig.from_dict(model))
    if cfg.mixed_precision not in ("none", "bfloat16", "float16"):
        raise NstError(f"--mixed-precision must be none, bfloat16 or float16, got {cfg.mixed_precision!r}")
    if cfg.optimizer not in ("adam", "sgd"):
        raise NstError(f"optimizer must be adam or sgd, got {cfg.optimizer!r}")
    if not cfg.learning_rate > 0:
        raise NstError(f"learning_rate must be positive, got {cfg.learning_rate}")
    if cfg.init is not None and cfg.init != "published" and not Path(cfg.init).is_file():
        raise NstError(f"init: {cfg.init}: no such model file (use `published` or a model .npz)")
    if cfg.steps < 1 or cfg.batch_size < 1:
        raise NstError("steps and batch_size must be positive")
    return cfg


