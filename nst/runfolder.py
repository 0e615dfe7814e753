"""The run folder the three methods share: its settings record, its TensorBoard folder, the NaN guard.

Every training or optimisation run (``nst stylize``, ``nst fast train``, ``nst arbitrary train``
and the notebooks) leaves one folder::

    <run>/settings.json   part 1 (Gatys): the inputs and every Config field
    <run>/config.json     parts 2 and 3: every TrainConfig field
    <run>/logs/           TensorBoard event files (loss/<term> scalars, images, the graph)
    <run>/checkpoint...   the method's resume state

The settings record is a flat JSON object: the config's fields, plus (part 1) ``content`` (a
path), ``styles`` (paths), ``preserve_colors``, ``impl`` and, always, ``smoke`` (true for a quick
CI check, which ``nst course submit`` does not count as a real run). :func:`write_settings`
writes it atomically and :func:`read_settings` reads it back (``{}`` when absent or unreadable),
so the CLI, the notebooks and ``nst.course.runs`` agree on one format.

No TensorFlow here: the course tools read run folders without starting it.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nst.atomic import write_atomic
from nst.errors import NstError

LOGS = "logs"                # TensorBoard folder of every run
SETTINGS = "settings.json"   # part 1's record
CONFIG = "config.json"       # parts 2 and 3's record


def logs_dir(run_dir: str | Path) -> Path:
    """``<run>/logs``: where every method writes its TensorBoard events."""
    return Path(run_dir) / LOGS


def settings_record(config: Any, *, smoke: bool = False, **inputs: Any) -> dict[str, Any]:
    """``{**inputs, "smoke": smoke, **fields of config}``: the one shape of a run's record."""
    fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return {**inputs, "smoke": bool(smoke), **fields}


def write_settings(run_dir: str | Path, record: Mapping[str, Any], name: str = SETTINGS) -> Path:
    """Write ``record`` (see :func:`settings_record`) as ``<run>/<name>``, atomically; return the path."""
    path = Path(run_dir) / name
    write_atomic(path, json.dumps(dict(record), indent=2))
    return path


def read_settings(run_dir: str | Path, name: str = SETTINGS) -> dict[str, Any]:
    """The record :func:`write_settings` wrote, or ``{}`` if there is none or it is not a JSON object."""
    try:
        data = json.loads((Path(run_dir) / name).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


GRADIENT = "gradient_norm"  # a loop may add it to the losses it checks: a diverged network can keep a finite loss


def check_finite(losses: Mapping[str, float], step: int, advice: str, kept: Path | None = None) -> None:
    """The one NaN guard: every loss term finite, else ``NstError`` in one line.

    ``the loss became nan at step 12: <advice>; the last good checkpoint is <kept>`` (that clause
    only when ``kept`` exists); ``the gradient became nan ...`` when only the :data:`GRADIENT` term is.
    Called by each method's loop after every step.
    """
    bad = {k: v for k, v in losses.items() if not math.isfinite(float(v))}
    if not bad:
        return
    value = losses.get("total", next(iter(bad.values())))
    where = f"the loss became {float(value)} at step {step}"
    if "total" not in bad and set(bad) == {GRADIENT}:
        where = f"the gradient became {float(bad[GRADIENT])} at step {step}"
    elif "total" not in bad:
        where += f" ({', '.join(f'{k} = {float(v)}' for k, v in bad.items())})"
    last = f"; the last good checkpoint is {kept}" if kept is not None and Path(kept).exists() else ""
    raise NstError(f"{where}: {advice}{last}")
