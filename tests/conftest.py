"""Shared test set-up: ``--impl`` picks the student code, ``shared_images`` the real data."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from nst import onednn

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
onednn.choose()  # as the commands do before TensorFlow's import (nst/onednn.py); subprocesses inherit it
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def impl(request) -> str:
    """``--impl`` (registered in the root conftest.py), else $NST_IMPL, else assignment."""
    return request.config.getoption("--impl", default=None) or os.environ.get("NST_IMPL", "assignment")


@pytest.fixture(scope="session")
def impl_module(impl):
    """``impl_module("style_transfer")`` imports that module from the chosen implementation.

    Under ``nst grade`` it is a proxy instead: the student code runs in a sandboxed worker
    process and only plain data comes back (nst/grading/remote.py).
    """
    from nst.grading.remote import module_loader

    return module_loader(impl)


@pytest.fixture(scope="session")
def scenario(impl):
    """``scenario(fn, "style_transfer", ...)``: ``fn(<those student modules>)``; in the worker under
    ``nst grade``. ``fn`` lives in a helper module here (tests/scenarios.py) and returns plain data."""
    from nst.grading.remote import scenario_runner

    return scenario_runner(impl)


@pytest.fixture(scope="session")
def shared_images() -> Path:
    """``../shared/images`` beside the checkout (or $NST_SHARED_IMAGES)."""
    path = Path(os.environ.get("NST_SHARED_IMAGES") or REPO.parent / "shared" / "images")
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI needs ../shared/images beside the checkout")
        pytest.skip(f"{path} not found (set NST_SHARED_IMAGES)")
    return path


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
    yield
