"""Which of a student's runs ``nst course submit`` hands in, part by part.

Run folders are read as :mod:`nst.runfolder` declares them.

* **Part 1** (Gatys): ``outputs/<run>/`` as ``nst stylize`` or the part 1 notebook leaves it:
  ``final.png``, ``settings.json``, ``logs/`` with TensorBoard events. Packed: the image, the settings
  and ``loss_curves.png`` drawn from the events.
* **Part 2** (fast): ``outputs/models/<naming>/`` as ``nst fast train`` leaves it: ``config.json`` and
  ``logs/``. Packed: the config, ``training_curves.png`` drawn from the events, and the images that
  ``nst fast stylize`` made with that model anywhere under ``outputs/`` (``<name>_<naming>.png|jpg``).

A **smoke run** is a quick check, not the work to hand in: its settings say ``"smoke": true`` (the
notebooks' CI mode writes that) or it ran fewer than ``MIN_STEPS`` iterations (part 1) or training
steps (part 2). Of the real runs, only the latest (by the time its result was written) per content
and style images (part 1) or per style image (part 2) is kept, unless the student picked one of them
(``nst course submit --run DIR``: that run for its images, whatever its age). When a part has no real
run at all, its latest smoke runs are kept. :func:`choose` names every run left out, the rule that left
it out, and the ``--run`` that hands it in instead.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from nst.errors import NstError
from nst.runfolder import CONFIG, LOGS, SETTINGS, read_settings

MIN_STEPS = 50
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_STYLIZED = 12  # stylized images packed per part 2 model


@dataclass
class Run:
    path: Path
    part: int
    key: str                    # what "the same run again" means: content + styles, or the style image
    steps: int | None           # iterations (part 1) or training steps (part 2); None if unknown
    smoke: bool
    mtime: float
    extras: list[Path] = field(default_factory=list)  # part 2: stylized images made with its model
    others: list[Path] = field(default_factory=list)  # part 2: images of its name not made by its model file


def _last_step(logdir: Path) -> int | None:
    from nst.summaries import read_scalars

    try:
        series = read_scalars(logdir)
    except NstError:
        return None
    steps = [step for tag, points in series.items() if tag.startswith("loss/") for step, _ in points]
    return max(steps) if steps else None


def part1_run(path: Path) -> Run:
    settings = read_settings(path, SETTINGS)
    key = json.dumps([settings.get("content"), settings.get("styles")]) if settings.get("content") else path.name
    steps = settings.get("iterations")
    steps = int(steps) if isinstance(steps, (int, float)) else None
    final = path / "final.png"
    smoke = bool(settings.get("smoke")) or (steps is not None and steps < MIN_STEPS)
    return Run(path, 1, key, steps, smoke, final.stat().st_mtime if final.is_file() else 0.0)


def part2_run(path: Path, outputs: Path) -> Run:
    config = read_settings(path, CONFIG)
    steps = _last_step(path / LOGS) if (path / LOGS).is_dir() else None
    smoke = bool(config.get("smoke")) or (steps is not None and steps < MIN_STEPS)
    events = sorted((path / LOGS).rglob("events.out.tfevents.*")) if (path / LOGS).is_dir() else []
    mtime = max((p.stat().st_mtime for p in events), default=0.0)
    naming = config.get("naming") or path.name
    from nst.provenance import made_by

    model = path.parent / f"{naming}.npz"   # nst fast train: <model_path>/<naming>/ and <model_path>/<naming>.npz
    named = sorted((p for p in outputs.rglob(f"*_{naming}.*") if p.suffix.lower() in IMAGE_SUFFIXES
                    and path.parent not in p.parents), key=lambda p: p.stat().st_mtime, reverse=True)
    made = [p for p in named if made_by(p, model)]
    others = [p for p in named if p not in made]
    return Run(path, 2, str(config.get("style_image") or naming), steps, smoke, mtime, made[:MAX_STYLIZED], others)


def classify(path: Path, outputs: Path) -> Run:
    """A run folder given by hand (``--runs``): part 2 if it holds ``config.json`` and no ``final.png``."""
    if (path / CONFIG).is_file() and not (path / "final.png").is_file():
        return part2_run(path, outputs)
    return part1_run(path)


def find(outputs: Path) -> list[Run]:
    """Every run under ``outputs/``: part 1 folders directly in it, part 2 folders in ``outputs/models/``."""
    if not outputs.is_dir():
        return []
    runs = [part1_run(p) for p in sorted(outputs.iterdir()) if p.is_dir() and (p / "final.png").is_file()]
    models = outputs / "models"
    if models.is_dir():
        runs += [part2_run(p, outputs) for p in sorted(models.iterdir())
                 if p.is_dir() and (p / CONFIG).is_file()]
    return runs


def choose(runs: list[Run], picked: list[Run] | None = None) -> tuple[list[Run], list[str]]:
    """The runs to hand in (see the module docstring) and notes on what was left out or why smoke runs stay.
    ``picked``: runs the student chose (``--run``); each replaces the automatic choice for its images."""
    picked = picked or []
    runs = runs + [p for p in picked if p.path not in {r.path for r in runs}]
    chosen, notes = [], []
    for part in sorted({r.part for r in runs}):
        mine = [r for r in runs if r.part == part]
        real = [r for r in mine if not r.smoke]
        pool = real or mine
        if not real:
            notes.append(f"part {part}: only short runs (under {MIN_STEPS} steps) found; handing in the latest "
                         f"anyway: do a full run before the deadline")
        latest: dict[str, Run] = {}
        for r in pool:
            if r.key not in latest or r.mtime > latest[r.key].mtime:
                latest[r.key] = r
        for r in picked:
            if r.part == part:
                latest[r.key] = r
        kept = sorted(latest.values(), key=lambda r: r.path.name)
        for r in kept:
            if r.others:
                notes.append(f"part 2: left out {len(r.others)} image(s) named like {r.path.name} but not made by "
                             f"{r.path.parent / r.path.name}.npz (a shipped model, another model, or no record): "
                             f"{', '.join(p.name for p in r.others[:3])}")
        for r in (r for r in mine if r not in kept):
            instead = latest.get(r.key)
            if instead is not None and instead in picked:
                why = f"you picked {instead.path.name} for the same images (--run)"
            elif r.smoke and real:
                why = f"a smoke run (under {MIN_STEPS} steps or a notebook's CI mode) while the part has real runs"
            else:
                why = (f"{instead.path.name} is a later run of the same images (rule: the latest real run per "
                       f"{'content and style' if part == 1 else 'style image'} is handed in)")
            notes.append(f"part {part}: left out {r.path.name}: {why}; to hand it in instead: "
                         f"nst course submit --part {part} --run {r.path}")
        chosen += kept
    return chosen, notes
