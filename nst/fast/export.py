"""Export a trained network for serving: a TensorFlow SavedModel or a TFLite flatbuffer.

Both take ``images``: float32 (B, H, W, 3) RGB 0..255 of any size and return
``stylized`` of the same shape (0..255). The SavedModel's ``serving_default`` signature::

    m = tf.saved_model.load("outputs/models/tide_savedmodel")
    y = m.signatures["serving_default"](images=x)["stylized"]

TFLite: ``interpreter.resize_tensor_input(0, [1, H, W, 3])`` before ``allocate_tensors()``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tensorflow as tf

from nst.errors import NstError
from nst.fast.model import load_model
from nst.images import write_atomic


class _Serving(tf.Module):
    def __init__(self, net: tf.Module):
        super().__init__()
        self.net = net

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve(self, images):
        return {"stylized": self.net(images)}


def _save(net: tf.Module, folder: Path) -> None:
    module = _Serving(net)
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})


def export(model: str | Path, fmt: str = "savedmodel", output: str | Path | None = None,
           impl: str | None = None) -> Path:
    """Write ``model`` as ``fmt`` to ``output`` (default: beside it) atomically; return the path."""
    model = Path(model)
    if fmt not in ("savedmodel", "tflite"):
        raise NstError(f"--format must be savedmodel or tflite, got {fmt!r}")
    net, _ = load_model(model, impl)
    output = Path(output) if output else model.with_name(
        f"{model.stem}_savedmodel" if fmt == "savedmodel" else f"{model.stem}.tflite")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{output.name}.", dir=output.parent) as tmp:
        saved = Path(tmp) / "savedmodel"
        _save(net, saved)
        if fmt == "tflite":
            converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
            try:
                flatbuffer = converter.convert()
            except Exception as e:  # converter errors are long; keep the first line
                raise NstError(f"TFLite conversion failed: {str(e).splitlines()[0]}") from None
            return write_atomic(output, flatbuffer)
        if output.exists() and not output.is_dir():
            raise NstError(f"-o {output}: exists and is not a folder")
        if output.exists():  # swap: move the old one aside, rename the new one in, drop the old
            old = Path(tmp) / "old"
            os.replace(output, old)
        os.replace(saved, output)
        return output
