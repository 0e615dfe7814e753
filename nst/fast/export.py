"""Export a trained network for serving: a TensorFlow SavedModel or a TFLite flatbuffer.

Both take ``images``: float32 (B, H, W, 3) RGB 0..255 of any size and return
``stylized`` of the same shape (0..255). The SavedModel's ``serving_default`` signature::

    m = tf.saved_model.load("outputs/models/tide_savedmodel")
    y = m.signatures["serving_default"](images=x)["stylized"]

TFLite: ``interpreter.resize_tensor_input(0, [1, H, W, 3])`` before ``allocate_tensors()``.

A multi-style model (``published`` / ``published:K``: the published network's 26 styles; a
style trained with ``train: norm``: those 26 and its own row as number 26) is exported with its
style input: ``serving_default(images=x, style_weights=w)``, w float32 (N,) (a one-hot row picks
a style, a convex combination blends). A ``train: all`` model exports its single style.
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


class _MultiServing(tf.Module):
    def __init__(self, net: tf.Module):
        super().__init__()
        self.net = net
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32, name="images"),
            tf.TensorSpec([net.num_styles], tf.float32, name="style_weights")])

    def _serve(self, images, style_weights):
        return {"stylized": self.net(images, style_weights)}


def _save(net: tf.Module, folder: Path) -> None:
    from nst.fast.multistyle import MultiStyleNet

    module = _MultiServing(net) if isinstance(net, MultiStyleNet) else _Serving(net)
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})


def _load(model: str | Path, impl: str | None):
    """The network to export: a Johnson network, or a MultiStyleNet with every style it can blend."""
    from nst.fast.model import read_model
    from nst.fast.styles import NETWORK, build, file_style, is_published, published_style
    from nst.fast.published import NUM_STYLES, load_arrays

    if str(model) == "published" or is_published(model):
        arrays = load_arrays()
        return build([published_style(f"published:{k}", arrays) for k in range(NUM_STYLES)], impl)
    arrays, meta = read_model(model)
    if meta.get("network") != NETWORK:
        return load_model(model, impl)[0]
    style = file_style(Path(model), arrays, meta)
    if style.base != "published":
        return build([style], impl)
    published = load_arrays()
    return build([published_style(f"published:{k}", published) for k in range(NUM_STYLES)] + [style], impl)


def export(model: str | Path, fmt: str = "savedmodel", output: str | Path | None = None,
           impl: str | None = None) -> Path:
    """Write ``model`` as ``fmt`` to ``output`` (default: beside it) atomically; return the path."""
    if fmt not in ("savedmodel", "tflite"):
        raise NstError(f"--format must be savedmodel or tflite, got {fmt!r}")
    from nst.fast.styles import tag

    net = _load(model, impl)
    stem = "published" if str(model) == "published" else tag(model)
    model = Path(model) if Path(model).suffix else Path("outputs/models") / stem
    output = Path(output) if output else model.with_name(
        f"{stem}_savedmodel" if fmt == "savedmodel" else f"{stem}.tflite")
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
