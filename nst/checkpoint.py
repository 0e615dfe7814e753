"""The one checkpoint format of the three methods: ``<run>/checkpoint.npz``, written atomically.

One ``.npz`` holds everything a run needs to continue exactly where it stopped::

    <name>             the state: part 1 ``image``; parts 2 and 3 every weight, keyed by its path
    __step__           the number of steps taken (int64)
    __opt__/0000 ...   the optimizer's variables, in the optimizer's own order (Adam: its
                       iteration count, then m and v of each trained variable)
    __config__         JSON: ``{"method": "gatys" | "fast" | "arbitrary", ...}`` and what that method
                       needs besides (part 2: the data position; part 3: the model and training settings)

Resuming restores all of it, so a run stopped at step k and resumed ends bit for bit where an
uninterrupted run ends. A part 3 checkpoint is also a model file (its weights load like an export's).
No TensorFlow here: variables are anything with ``numpy()``, ``assign()`` and ``shape``.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nst.errors import NstError
from nst.files import read_npz, write_npz

CHECKPOINT = "checkpoint.npz"
STEP, CONFIG, OPT = "__step__", "__config__", "__opt__/"


@dataclasses.dataclass
class Checkpoint:
    """What :func:`load` read: the step, the state arrays, the optimizer's arrays and the JSON part."""

    path: Path
    step: int
    arrays: dict[str, np.ndarray]
    optimizer: list[np.ndarray]
    meta: dict[str, Any]

    def assign_optimizer(self, variables: Sequence) -> None:
        """The saved optimizer state into ``variables`` (a built optimizer's, same order); count and shapes checked."""
        if len(self.optimizer) != len(variables):
            raise NstError(f"{self.path}: optimizer state does not match ({len(self.optimizer)} saved, "
                           f"{len(variables)} here); delete it to start over")
        for saved, v in zip(self.optimizer, variables):
            if tuple(saved.shape) != tuple(v.shape):
                raise NstError(f"{self.path}: optimizer state of shape {saved.shape} for a variable of "
                               f"{tuple(v.shape)}; delete it to start over")
        for saved, v in zip(self.optimizer, variables):
            v.assign(saved)


def save(path: str | Path, method: str, step: int, arrays: Mapping[str, np.ndarray],
         optimizer_variables: Sequence = (), **meta: Any) -> Path:
    """Write the checkpoint (see the module docstring) to ``path`` atomically; return ``path``."""
    out = {name: np.asarray(a) for name, a in arrays.items()}
    for i, v in enumerate(optimizer_variables):
        out[f"{OPT}{i:04d}"] = np.asarray(v.numpy())
    out[STEP] = np.array(step, np.int64)
    out[CONFIG] = np.array(json.dumps({"method": method, **meta}))
    return write_npz(path, out)


def load(path: str | Path, method: str) -> Checkpoint:
    """The checkpoint at ``path``, which must be ``method``'s; one ``NstError`` line otherwise."""
    path = Path(path)
    try:
        arrays = read_npz(path, "a checkpoint of this nst", STEP)
    except NstError as e:
        raise NstError(f"{e}; delete it to start over") from None
    meta = json.loads(str(arrays.pop(CONFIG)))
    found = meta.get("method", "arbitrary")  # part 3's checkpoints had this shape before the format was shared
    if found != method:
        raise NstError(f"{path}: a checkpoint of a {found} run, not of a {method} run")
    step = int(arrays.pop(STEP))
    opt = [arrays.pop(k) for k in sorted(k for k in list(arrays) if k.startswith(OPT))]
    return Checkpoint(path, step, arrays, opt, meta)
