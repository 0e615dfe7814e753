"""Read PyTorch's legacy (non-zip) ``torch.save`` format without torch.

Layout of such a file: four pickles (magic number, protocol version, system info,
the object), then a pickled list of storage keys, then for each key the storage's
bytes as an 8-byte little-endian element count followed by the raw data.

Unpickling runs code named inside the file, so the unpickler here allows only the
handful of names this format uses and refuses everything else. Tensors come back
as NumPy arrays.
"""
from __future__ import annotations

import collections
import io
import pickle
from typing import BinaryIO

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES = {
    "ByteStorage": np.uint8,
    "CharStorage": np.int8,
    "ShortStorage": np.int16,
    "IntStorage": np.int32,
    "LongStorage": np.int64,
    "HalfStorage": np.float16,
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(pickle.UnpicklingError):
    """The file asked to run a name outside the allowed set."""


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _PendingTensor:
    """A tensor whose storage bytes come later in the file."""

    def __init__(self, storage_key: str, offset: int, size: tuple, stride: tuple):
        self.storage_key, self.offset, self.size, self.stride = storage_key, offset, size, stride


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    key, _dtype = storage
    return _PendingTensor(key, int(storage_offset), tuple(size), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO):
        super().__init__(file)
        self.storages: dict[str, np.dtype] = {}

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafePickleError(f"refusing to load {module}.{name}: not a name this weights format uses")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise UnsafePickleError(f"unexpected persistent id {pid!r}")
        _tag, storage_type, key, _location, _numel = pid[:5]
        self.storages[str(key)] = storage_type.dtype
        return (str(key), storage_type.dtype)


def _safe_load(f: BinaryIO):
    return _RestrictedUnpickler(f).load()


def load(data: bytes | BinaryIO) -> dict[str, np.ndarray]:
    """Load a legacy ``torch.save`` dict of tensors into NumPy arrays, safely."""
    f = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    if _safe_load(f) != MAGIC_NUMBER:
        raise ValueError("not a legacy PyTorch file (bad magic number)")
    if _safe_load(f) != 1001:
        raise ValueError("unsupported legacy PyTorch protocol version")
    sys_info = _safe_load(f)
    if not sys_info.get("little_endian", False):
        raise ValueError("big-endian PyTorch files are not supported")
    unpickler = _RestrictedUnpickler(f)
    obj = unpickler.load()
    keys = _safe_load(f)
    raw: dict[str, np.ndarray] = {}
    for key in keys:
        dtype = unpickler.storages[str(key)]
        count = int.from_bytes(f.read(8), "little")
        buf = f.read(count * dtype.itemsize)
        if len(buf) != count * dtype.itemsize:
            raise ValueError("file is truncated")
        raw[str(key)] = np.frombuffer(buf, dtype=dtype)

    def materialise(t: _PendingTensor) -> np.ndarray:
        storage = raw[t.storage_key]
        itemsize = storage.dtype.itemsize
        return np.lib.stride_tricks.as_strided(
            storage[t.offset:], shape=t.size, strides=tuple(s * itemsize for s in t.stride)
        ).copy()

    if not isinstance(obj, dict):
        raise ValueError("expected a dict of tensors")
    return {k: materialise(v) for k, v in obj.items() if isinstance(v, _PendingTensor)}
