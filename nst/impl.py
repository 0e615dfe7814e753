"""Choose the student code to run: ``assignment`` (the stubs a student fills) or ``solutions``."""
from __future__ import annotations

import importlib
import os
from types import ModuleType

from nst.errors import NstError

IMPLS = ("assignment", "solutions")


def default_impl() -> str:
    return os.environ.get("NST_IMPL", "solutions")


def load(module: str, impl: str | None = None) -> ModuleType:
    """Import ``<impl>.<module>``, e.g. load("style_transfer", "assignment")."""
    impl = impl or default_impl()
    if impl not in IMPLS:
        raise NstError(f"--impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    return importlib.import_module(f"{impl}.{module}")
