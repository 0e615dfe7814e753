"""Options declared once (nst/options.py): flags, validation and the docs' tables come from the fields."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from nst import doctables, gatys, options
from nst.errors import NstError


def _parser():
    from nst.cli import build_parser

    return build_parser()


def test_docs_option_tables_are_generated_from_the_code():
    assert doctables.stale_docs() == [], "run `python -m nst.doctables --write` and commit the docs"


def test_every_declared_flag_is_on_the_command_line_with_its_preset_defaults_in_help():
    p = _parser()
    stylize = p._subparsers._group_actions[0].choices["stylize"]
    flags = {s for a in stylize._actions for s in a.option_strings}
    for f, meta in options.declared(gatys.Config):
        flag = options.flag_of(f, meta)
        assert flag is None or flag in flags, flag
    help_text = stylize.format_help()
    # the content, style and tv weights' defaults show, per preset (they did not before)
    assert "cs20si: 100000; neural-style: 5; neural-style-fast: 5" in " ".join(help_text.split())


def test_given_options_override_the_preset_and_the_rest_come_from_it():
    from nst.cli.gatys import config_from_args

    c = config_from_args(_parser().parse_args(["stylize", "--preset", "neural-style", "--iterations", "7",
                                               "--scales", "64,128", "--no-xla"]))
    assert (c.iterations, c.scales, c.xla, c.style_weight, c.pooling) == (7, (64, 128), False, 500.0, "max")
    assert config_from_args(_parser().parse_args(["stylize"])) == gatys.Config()


@pytest.mark.parametrize("field, value, message", [
    ("beta2", 1.0, "--beta2 must be in [0, 1), got 1.0"),
    ("iterations", -1, "--iterations must be >= 0, got -1"),
    ("max_size", 0, "--max-size must be positive, got 0"),
    ("pooling", "min", "--pooling must be one of avg, max, got 'min'"),
    ("normalization", "x", "normalization must be one of cs20si, neural-style, got 'x'"),
    ("style_scales", (1.0, -2.0), "--style-scales must be positive numbers, got (1.0, -2.0)"),
    ("scale_fractions", (0.5, 2.0), "--scale-fractions must be fractions in (0, 1], got (0.5, 2.0)"),
])
def test_bounds_and_choices_come_from_the_declaration(field, value, message):
    with pytest.raises(NstError) as e:
        options.check(dataclasses.replace(gatys.Config(), **{field: value}))
    assert str(e.value) == message
    options.check(gatys.Config())   # the defaults are valid


def test_a_table_changes_with_its_declaration(tmp_path, monkeypatch):
    @dataclasses.dataclass
    class Small:
        steps: int = options.option(3, "how many", bounds=">= 1")
        mode: str = options.option("a", "which", choices=("a", "b"))

    table = options.markdown_table(Small, {"one": {}, "two": {"steps": 9}})
    assert table.splitlines()[2] == "| `--steps N` | 3 | 9 | how many (positive) |"
    assert table.splitlines()[3] == "| `--mode a\\|b` | a | a | which |"


def test_stylize_speaks_the_arbitrary_dialect_and_keeps_the_old_spellings_with_a_warning(capsys):
    new = _parser().parse_args(["stylize", "c.jpg", "--style", "a.jpg", "--style", "b.jpg", "--style-weights", "1,2"])
    assert capsys.readouterr().err == ""
    old = _parser().parse_args(["stylize", "c.jpg", "--styles", "a.jpg", "b.jpg", "--style-blend-weights", "1,2"])
    err = capsys.readouterr().err.splitlines()
    assert (old.style, old.style_blend_weights) == (new.style, new.style_blend_weights) == (["a.jpg", "b.jpg"], (1.0, 2.0))
    assert err == ["warning: --styles is deprecated and will be removed in the next release; use --style A --style B",
                   "warning: --style-blend-weights is deprecated and will be removed in the next release; "
                   "use --style-weights"]


@pytest.mark.parametrize("weights", ["1,nan", "1,-1", "0,0"])
def test_the_three_commands_refuse_bad_style_weights_with_the_same_line(weights, tmp_path, capsys):
    """One rule for --style-weights (nst/blend.py): w >= 0 and finite, not all zero; refused before any work."""
    from nst.cli import main

    photo, a, b = "content/chelsea.jpg", "styles/swirls.jpg", "styles/tide.jpg"
    commands = {
        "stylize": ["stylize", photo, "--style", a, "--style", b, "-o", str(tmp_path / "g.png")],
        "fast": ["fast", "stylize", photo, "--model", "published:1", "--model", "published:2", "-o", str(tmp_path / "f")],
        "arbitrary": ["arbitrary", "stylize", photo, "--style", a, "--style", b, "-o", str(tmp_path / "a.png")],
    }
    lines = {}
    for name, argv in commands.items():
        assert main(argv + ["--style-weights", weights]) == 2, name
        lines[name] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert set(map(tuple, lines.values())) == {("error: --style-weights must be non-negative and not all zero",)}, lines
    assert list(tmp_path.iterdir()) == []


def _fast_train_parser():
    fast = _parser()._subparsers._group_actions[0].choices["fast"]
    return fast._subparsers._group_actions[0].choices["train"]


def test_every_fast_train_config_key_with_a_flag_overrides_the_yaml_and_help_shows_its_default(tmp_path):
    """`nst fast train`: the flags come from TrainConfig's declaration, so each overrides its YAML key."""
    from nst.cli.fast import train_config
    from nst.fast.config import TrainConfig

    yml = tmp_path / "c.yml"
    yml.write_text("style_image: s.jpg\nnaming: mine\nstyle_weight: 0.2\n")
    given = {"style_image": "p.jpg", "naming": "other", "model_path": "m", "content_dir": ["a", "b"], "flip": True,
             "init": "published:3", "train": "norm", "content_weight": 2.5, "style_weight": 0.5, "tv_weight": 0.0,
             "image_size": 64, "style_size": 96, "batch_size": 2, "epochs": 5, "learning_rate": 0.01,
             "optimizer": "sgd", "loss_model": "vgg19", "test_image": "t.jpg", "log_every": 3, "image_every": 7,
             "checkpoint_every": 9, "precision": "bfloat16", "seed": 4}
    flagged = {f.name for f, meta in options.declared(TrainConfig) if options.flag_of(f, meta)}
    assert flagged == set(given), "a new TrainConfig flag needs a value here"
    argv = ["fast", "train", "--config", str(yml)]
    for name, value in given.items():
        flag = "--" + name.replace("_", "-")
        argv += [flag] if value is True else [flag, *value] if isinstance(value, list) else [flag, str(value)]
    config = train_config(_parser().parse_args(argv))
    assert {name: getattr(config, name) for name in given} == given
    # nothing given: the YAML's values, then the declared defaults
    plain = train_config(_parser().parse_args(["fast", "train", "--config", str(yml)]))
    assert plain == TrainConfig(style_image="s.jpg", naming="mine", style_weight=0.2)
    help_text = " ".join(_fast_train_parser().format_help().split())
    assert "weight of the style loss (if the config omits it: 0.01)" in help_text
    assert "training crop side (if the config omits it: 256)" in help_text


def test_fast_train_takes_the_run_folder_as_the_other_commands_do(tmp_path):
    """`nst fast train --run-dir runs/tide` = model_path runs, naming tide (nst stylize and nst arbitrary train
    spell their run folder --run-dir too); with --model-path or --naming as well it is one error line."""
    from nst.cli.fast import train_config
    from nst.errors import NstError

    yml = tmp_path / "c.yml"
    yml.write_text("style_image: s.jpg\nnaming: mine\n")
    config = train_config(_parser().parse_args(["fast", "train", "--config", str(yml), "--run-dir", "runs/tide"]))
    assert (config.model_path, config.naming, config.run_dir) == ("runs", "tide", Path("runs/tide"))
    assert config.model_file == Path("runs/tide.npz")
    with pytest.raises(NstError, match="^--run-dir sets model_path and naming: give it or them, not both$"):
        train_config(_parser().parse_args(["fast", "train", "--config", str(yml), "--run-dir", "r/t", "--naming", "x"]))


@pytest.mark.parametrize("yaml_line, message", [
    ("image_size: 0", "image_size must be positive, got 0"),
    ("style_weight: -1", "style_weight must be >= 0, got -1"),
    ("learning_rate: abc", "learning_rate must be a number, got 'abc'"),
    ("batch_size: 2.5x", "batch_size must be an integer, got '2.5x'"),
    ("train: some", "train must be norm or all, got 'some'"),
])
def test_a_fast_train_config_is_checked_from_the_declaration_and_errors_name_the_key(tmp_path, yaml_line, message):
    from nst.fast.config import load_config

    yml = tmp_path / "c.yml"
    yml.write_text(f"style_image: s.jpg\nnaming: mine\n{yaml_line}\n")
    with pytest.raises(NstError) as e:
        load_config(yml)
    assert str(e.value) == message


def test_every_arbitrary_train_key_with_a_flag_overrides_the_yaml(tmp_path):
    """`nst arbitrary train`: the flags come from nst.arbitrary.config (TrainConfig and, under model:, ModelConfig)."""
    from nst.arbitrary.config import ModelConfig, TrainConfig
    from nst.cli.arbitrary import train_config

    yml = tmp_path / "a.yml"
    yml.write_text("steps: 7\nstyle_weight: 0.5\nmodel: {width: 0.5}\n")
    given = {"out_dir": "o", "content_dirs": ["a", "b", "c"], "style_dirs": ["s"], "init": "published", "steps": 3,
             "batch_size": 2, "crop": 64, "scale_range": (64, 80), "style_scale_range": (70, 90),
             "learning_rate": 0.01, "optimizer": "sgd", "loss_network": "vgg19", "content_weight": 2.0,
             "style_weight": 0.1, "tv_weight": 1.0, "precision": "bfloat16", "log_every": 3, "image_every": 4,
             "checkpoint_every": 5, "seed": 9}
    model = {"predictor": "inception_v3", "width": 1.0, "inception_weights": "w.h5"}
    flags = {f.name: options.flag_of(f, meta) for cls in (TrainConfig, ModelConfig)
             for f, meta in options.declared(cls) if options.flag_of(f, meta)}
    assert set(flags) == set(given) | set(model), "a new flag needs a value here"
    argv = ["arbitrary", "train", "--config", str(yml)]
    for name, value in {**given, **model}.items():
        if name == "content_dirs":
            argv += ["--content-dir", "a", "b", "--content-dir", "c"]  # both spellings of several folders
        elif isinstance(value, tuple):
            argv += [flags[name], ",".join(map(str, value))]
        else:
            argv += [flags[name], *(value if isinstance(value, list) else [str(value)])]
    config = train_config(_parser().parse_args(argv))
    assert {name: getattr(config, name) for name in given} == given
    assert {name: getattr(config.model, name) for name in model} == model
    plain = train_config(_parser().parse_args(["arbitrary", "train", "--config", str(yml)]))
    assert (plain.steps, plain.style_weight, plain.model.width, plain.seed) == (7, 0.5, 0.5, 0)


@pytest.mark.parametrize("yaml_line, message", [
    ("crop: 0", "crop must be positive, got 0"),
    ("precision: fp8", "precision must be one of auto, float32, bfloat16, float16, got 'fp8'"),
    ("scale_range: [300, 200]", "scale_range must be two sizes [lo, hi] with lo <= hi, got [300, 200]"),
    ("style_weight: heavy", "style_weight must be a number, got 'heavy'"),
    ("model: {width: 5}", "--width must be in (0, 4], got 5"),
])
def test_an_arbitrary_train_config_is_checked_from_the_declaration(tmp_path, yaml_line, message):
    from nst.arbitrary.config import load_config

    yml = tmp_path / "a.yml"
    yml.write_text(yaml_line + "\n")
    with pytest.raises(NstError) as e:
        load_config(yml)
    assert str(e.value) == message


def _leaf(*path: str):
    """The argparse parser of ``nst <path...>``."""
    parser = _parser()
    for name in path:
        parser = parser._subparsers._group_actions[0].choices[name]
    return parser


def _flags(parser) -> dict[str, object]:
    """{option string: action} of a parser's visible options (deprecated aliases are hidden)."""
    return {s: a for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings
            if s not in ("-h", "--help")}


RUN_A_NETWORK = [("stylize",), ("fast", "train"), ("fast", "stylize"), ("arbitrary", "train"),
                 ("arbitrary", "stylize"), ("arbitrary", "grid")]


def test_the_three_methods_speak_one_dialect():
    """Every command that runs a network takes the same --precision (one declaration: same choices, same help);
    every command of the three methods takes --seed and --impl; the shared rendering options of fast and
    arbitrary stylize are the same flags with the same help; styles, blend weights and output are spelled alike."""
    from nst.common_options import PRECISIONS

    precision = {path: _flags(_leaf(*path)).get("--precision") for path in RUN_A_NETWORK}
    assert all(a is not None for a in precision.values()), precision
    assert {tuple(a.choices) for a in precision.values()} == {PRECISIONS}
    declared_help = {a.help.rsplit(" (", 1)[0] for a in precision.values()}  # the same text, whatever its default
    assert len(declared_help) == 1, declared_help
    for path in RUN_A_NETWORK + [("fast", "eval"), ("arbitrary", "eval")]:
        flags = _flags(_leaf(*path))
        assert {"--seed", "--impl"} <= set(flags), path
        assert tuple(flags["--impl"].choices) == ("assignment", "solutions"), path
    fast, arbitrary, gatys = _flags(_leaf("fast", "stylize")), _flags(_leaf("arbitrary", "stylize")), _flags(_leaf("stylize"))
    for flag in ("--style-weights", "--max-size", "--preserve-colors", "--strength", "--max-frames", "--precision",
                 "--seed", "-o", "--output"):
        assert fast[flag].help.split(" (default")[0] == arbitrary[flag].help.split(" (default")[0], flag
    assert {"--style", "--style-weights", "-o", "--output"} <= set(gatys) & set(arbitrary)
    trains = [_flags(_leaf(method, "train")) for method in ("fast", "arbitrary")]
    assert {"--seed", "--run-dir", "--content-dir"} <= set(trains[0]) & set(trains[1])
    for flag in ("--workers", "--worker-index", "--impl", "--precision"):  # one declaration for both
        assert trains[0][flag].help.rsplit(" (", 1)[0] == trains[1][flag].help.rsplit(" (", 1)[0], flag
    assert {"--style-weights", "-o", "--output"} <= set(fast)


@pytest.mark.parametrize("path, cls", [
    (("fast", "stylize"), "nst.fast.config:Stylize"), (("fast", "eval"), "nst.fast.config:Eval"),
    (("fast", "export"), "nst.fast.config:Export"), (("arbitrary", "stylize"), "nst.arbitrary.config:Stylize"),
    (("arbitrary", "grid"), "nst.arbitrary.config:Grid"), (("arbitrary", "eval"), "nst.arbitrary.config:Eval"),
])
def test_the_render_and_eval_commands_take_their_flags_from_one_declaration(path, cls):
    """No hand-written flag beside the declared ones: each option of these commands is a field of one class."""
    import importlib

    module, name = cls.split(":")
    declared = getattr(importlib.import_module(module), name)
    want = {f.name: options.flag_of(f, meta) for f, meta in options.declared(declared) if options.flag_of(f, meta)}
    flags = _flags(_leaf(*path))
    got = {a.dest for a in flags.values()}
    assert got - set(want) == set(), f"hand-written flags of nst {' '.join(path)}"
    assert set(want) - got == set()
    assert all(flags[flag].dest == name for name, flag in want.items())


@pytest.mark.parametrize("argv, message", [
    (["fast", "stylize", "content/chelsea.jpg", "--model", "published:1", "--max-frames", "0"],
     "--max-frames must be positive, got 0"),
    (["fast", "stylize", "content/chelsea.jpg", "--model", "published:1", "--strength", "1.5"],
     "--strength must be in [0, 1], got 1.5"),
    (["arbitrary", "stylize", "content/chelsea.jpg", "--style", "styles/tide.jpg", "--max-size", "8"],
     "--max-size must be at least 16 pixels, got 8"),
    (["arbitrary", "grid", "content/chelsea.jpg", "--style", "a.jpg", "--style", "b.jpg", "--steps", "1"],
     "--steps must be at least 2, got 1"),
    (["fast", "eval", "--model", "published:1", "--content-dir", "content", "--style", "styles/tide.jpg",
      "--size", "16"], "--size must be at least 32, got 16"),
])
def test_render_options_are_checked_from_their_declaration_before_any_work(argv, message, tmp_path, capsys):
    from nst.cli import main

    out = ["-o", str(tmp_path / ("x.png" if "grid" in argv else "out"))] if "eval" not in argv else []
    assert main(argv + out) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert err == [f"error: {message}"]
    assert list(tmp_path.iterdir()) == []


def test_the_old_precision_spellings_still_work_with_a_warning(tmp_path, capsys):
    """--mixed-precision (fast: a switch; arbitrary: none|bfloat16|float16) and the YAML key mixed_precision
    are the precision option's old spellings, kept for one release with a warning."""
    from nst.arbitrary.config import load_config as arbitrary_config
    from nst.cli.fast import train_config

    yml = tmp_path / "c.yml"
    yml.write_text("style_image: s.jpg\nnaming: mine\n")
    fast = train_config(_parser().parse_args(["fast", "train", "--config", str(yml), "--mixed-precision"]))
    assert fast.precision == "bfloat16"
    assert "--mixed-precision is deprecated" in capsys.readouterr().err
    args = _parser().parse_args(["arbitrary", "train", "--mixed-precision", "none"])
    assert args.precision == "float32"
    assert "--mixed-precision is deprecated" in capsys.readouterr().err
    old = tmp_path / "a.yml"
    old.write_text("mixed_precision: bfloat16\n")
    assert arbitrary_config(old).precision == "bfloat16"
    assert "config key mixed_precision is deprecated" in capsys.readouterr().err
    old.write_text("mixed_precision: none\n")
    assert arbitrary_config(old).precision == "float32"


def test_auto_precision_is_the_commands_default_and_float32_the_librarys(tmp_path, monkeypatch):
    """--precision auto is the default of the commands that render with a network (bfloat16 where the hardware
    has it, else float32); code that builds the settings itself (tests, graded code, notebooks) gets float32;
    nst stylize and the training commands keep float32 (Adam and training in bfloat16 are not measured to pay)
    but its neural-style-fast preset takes auto (L-BFGS in bfloat16 finishes in float32, measured to pay);
    the device line says what auto is."""
    from nst import runtime
    from nst.arbitrary.config import Grid
    from nst.cli.gatys import config_from_args
    from nst.fast.config import Stylize, TrainConfig

    assert config_from_args(_parser().parse_args(["stylize"])).precision == "float32"
    assert config_from_args(_parser().parse_args(["stylize", "--preset", "neural-style-fast"])).precision == "auto"
    assert config_from_args(_parser().parse_args(["stylize", "--preset", "neural-style-fast", "--precision",
                                                  "float32"])).precision == "float32"
    assert config_from_args(_parser().parse_args(["stylize", "--precision", "auto"])).precision == "auto"
    assert gatys.Config().precision == "float32" and Stylize(model=["published:1"]).precision == "float32"
    fast = options.settings_from_args(Stylize, _parser().parse_args(["fast", "stylize", "x.jpg", "--model", "m"]))
    assert fast.precision == "auto"
    grid = options.settings_from_args(Grid, _parser().parse_args(["arbitrary", "grid", "c.jpg", "--style", "a",
                                                                  "--style", "b", "-o", "g.png"]))
    assert grid.precision == "auto"
    yml = tmp_path / "c.yml"
    yml.write_text("style_image: s.jpg\nnaming: mine\n")
    from nst.cli.fast import train_config

    assert train_config(_parser().parse_args(["fast", "train", "--config", str(yml)])).precision == "float32"
    assert TrainConfig(style_image="s", naming="n").precision == "float32"
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    for has_bf16, want in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: has_bf16)
        assert runtime.resolve_precision("auto") == want
        assert f"; --precision auto: {want}" in runtime.describe_devices()
        assert runtime.resolve_precision("float32") == "float32"
    with pytest.raises(NstError, match="--precision must be one of auto, float32, bfloat16, float16"):
        runtime.resolve_precision("fp8")
