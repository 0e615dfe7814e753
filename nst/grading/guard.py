"""Detect a submission that monkeypatches the libraries the tests compare with.

``Guard`` records the identity of every function and class bound in the modules of
numpy, TensorFlow, Keras, pytest, ``nst`` and the test files, plus the methods of the
tensor and variable classes, before the student code is imported. ``changed()`` lists
the names whose binding is no longer the recorded object, e.g. ``numpy.allclose`` or
``tensorflow.reduce_sum``. Taking or checking a snapshot of ~50k names costs ~0.1 s.
"""
from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

PACKAGES = {"numpy", "tensorflow", "keras", "_pytest", "pytest", "pluggy", "builtins", "math", "nst"}
# Set by pytest itself around every test.
MUTABLE = {"_pytest.assertion.util._reprcompare", "_pytest.assertion.util._assertion_pass",
           "_pytest.assertion.util._config"}


def _bindings(namespace: dict) -> dict[str, object]:
    return {k: v for k, v in list(namespace.items())
            if callable(v) and not isinstance(v, types.ModuleType)}


class Guard:
    def __init__(self, imports: list[str], test_dir: Path | None = None):
        for name in imports:                 # make sure the baseline holds them, e.g. tensorflow
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        self.test_dir = test_dir.resolve() if test_dir else None
        self.baseline: dict[str, tuple[dict, dict[str, object]]] = {}
        self.watch_new()
        self._watch_classes()

    def _watched(self, name: str, module) -> bool:
        if name.split(".")[0] in PACKAGES:
            return True
        file = getattr(module, "__file__", None)
        return bool(self.test_dir and file and Path(file).resolve().is_relative_to(self.test_dir))

    def watch_new(self) -> None:
        """Record modules imported since the last call (e.g. the test files after collection)."""
        for name, module in list(sys.modules.items()):
            namespace = getattr(module, "__dict__", None)
            if name not in self.baseline and isinstance(namespace, dict) and self._watched(name, module):
                self.baseline[name] = (namespace, _bindings(namespace))

    def _watch_classes(self) -> None:
        tf = sys.modules.get("tensorflow")
        if tf is None:
            return
        from tensorflow.python.ops import resource_variable_ops

        classes = {tf.Tensor, type(tf.constant(0.0)), tf.Variable, resource_variable_ops.ResourceVariable,
                   resource_variable_ops.BaseResourceVariable}
        for cls in classes:
            self.baseline[f"{cls.__module__}.{cls.__qualname__}"] = (cls.__dict__, _bindings(dict(cls.__dict__)))

    def changed(self) -> list[str]:
        """Names whose function or class is not the one recorded, e.g. ['numpy.allclose']."""
        found = []
        for name, (namespace, bound) in self.baseline.items():
            for key, value in bound.items():
                if namespace.get(key) is not value and f"{name}.{key}" not in MUTABLE:
                    found.append(f"{name}.{key}")
        self.watch_new()
        return found
