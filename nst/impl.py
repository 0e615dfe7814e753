"""Choose the student code to run: ``assignment`` (the stubs a student fills) or ``solutions``."""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

from nst.errors import NstError

IMPLS = ("assignment", "solutions")


CHECKOUT = Path(__file__).resolve().parents[1]


def default_impl() -> str:
    """``$NST_IMPL`` if set; else ``solutions`` in the course repository (it has ``solutions/``), and
    ``assignment`` where it is absent: the student release, so a student's commands run their own code."""
    return os.environ.get("NST_IMPL") or ("solutions" if (CHECKOUT / "solutions").is_dir() else "assignment")


def load(module: str, impl: str | None = None) -> ModuleType:
    """Import ``<impl>.<module>``, e.g. load("style_transfer", "assignment")."""
    impl = impl or default_impl()
    if impl not in IMPLS:
        raise NstError(f"--impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    # assignment/ and solutions/ are not installed: they live in the checkout beside nst/
    # (so a student release without solutions/ cannot import it from site-packages).
    checkout = str(CHECKOUT)
    if (Path(checkout) / impl).is_dir() and checkout not in sys.path:
        sys.path.append(checkout)
    try:
        return importlib.import_module(f"{impl}.{module}")
    except ModuleNotFoundError as e:
        if e.name in (impl, f"{impl}.{module}"):
            raise NstError(f"no {impl}/{module}.py here (looked beside {checkout})") from None
        raise
