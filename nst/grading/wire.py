"""The data that crosses between the judge and a submission's worker process.

Frames are ``<8-byte big-endian length><payload>``. What the *worker* sends is decoded
with ``decode``, which builds only plain data, never runs code (no pickle): JSON of
``None``/bool/int/float/str, lists, and tagged objects::

    {"$": "nd", "dtype": "float32", "shape": [2, 3], "data": <base64>, "tensor": 1, "id": 7}
    {"$": "tuple"|"list", "items": [...]}      {"$": "dict", "items": [[key, value], ...]}
    {"$": "ref", "id": 7, "type": "StyleTransfer", "kind": "object"|"variable"}
    {"$": "shape", "dims": [2, null]}          {"$": "dtype", "name": "float32"}    {"$": "bytes", ...}

An array's dtype must be a plain number or bool type; depth, size and count are bounded.
What the *judge* sends (trusted) is a pickle whose persistent ids stand for worker objects
(``("ref", id)``) and tensors (``("tensor", ndarray)``), so configs and helper objects from
``nst`` and ``tests/*_cases.py`` travel as themselves.
"""
from __future__ import annotations

import base64
import json
import socket
import struct
from typing import Any, Callable

import numpy as np

MAX_FRAME = 64 << 20            # 64 MiB: far above any graded value (the largest reply is ~1 MiB)
MAX_DEPTH = 32
MAX_ITEMS = 1 << 20
NUMBER_KINDS = set("biufc")     # bool, int, uint, float, complex


class WireError(Exception):
    """The other side sent something that is not a well-formed frame or value."""


# ---------------------------------------------------------------------------- frames
def send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">Q", len(payload)) + payload)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 22))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket) -> bytes:
    (n,) = struct.unpack(">Q", _read_exact(sock, 8))
    if n > MAX_FRAME:                 # refused before reading it: the judge's memory stays bounded
        raise WireError(f"a reply of {n} bytes is over the {MAX_FRAME >> 20} MiB limit")
    return _read_exact(sock, n)


# ---------------------------------------------------------------------------- worker -> judge
def encode(value: Any, ref: Callable[[Any], dict], tensor_id: Callable[[Any], int], depth: int = 0) -> Any:
    """JSON-able form of ``value``; objects that are not data become ``ref(obj)``."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value if not isinstance(value, int) or isinstance(value, bool) or abs(value) < 1 << 63 else float(value)
    enc = lambda v: encode(v, ref, tensor_id, depth + 1)  # noqa: E731
    if isinstance(value, (np.ndarray, np.generic)):
        return _nd(np.asarray(value), None) if np.asarray(value).dtype.kind in NUMBER_KINDS else ref(value)
    if isinstance(value, bytes):
        return {"$": "bytes", "data": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return {"$": type(value).__name__ if type(value) in (list, tuple) else "list",
                "items": [enc(v) for v in value]}
    if isinstance(value, dict):
        return {"$": "dict", "items": [[enc(k), enc(v)] for k, v in value.items()]}
    tf = _tf()
    if tf is not None:
        if isinstance(value, tf.TensorShape):
            return {"$": "shape", "dims": None if value.rank is None else [d for d in value.as_list()]}
        if isinstance(value, tf.DType):
            return {"$": "dtype", "name": value.name}
        if isinstance(value, tf.Tensor) and not isinstance(value, tf.Variable) and hasattr(value, "numpy"):
            array = value.numpy()
            if array.dtype.kind in NUMBER_KINDS:
                return _nd(array, tensor_id(value))
    return ref(value)


def _nd(array: np.ndarray, tensor: int | None) -> dict:
    data = np.array(array, order="C", copy=True)
    out = {"$": "nd", "dtype": data.dtype.str, "shape": list(data.shape), "data": base64.b64encode(data.tobytes()).decode()}
    if tensor is not None:
        out.update(tensor=1, id=tensor)
    return out


def _tf():
    import sys

    return sys.modules.get("tensorflow")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()


def loads(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as e:
        raise WireError(f"malformed data: {type(e).__name__}") from None


def decode(value: Any, make_ref: Callable[[dict], Any], make_tensor: Callable[[np.ndarray, int], Any],
           depth: int = 0) -> Any:
    """Plain data from ``encode``'s form; refs and tensors are built by the two callbacks."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    dec = lambda v: decode(v, make_ref, make_tensor, depth + 1)  # noqa: E731
    if isinstance(value, list):                    # plain JSON list (only in headers)
        return [dec(v) for v in value[:MAX_ITEMS]]
    if not isinstance(value, dict):
        raise WireError(f"unexpected {type(value).__name__}")
    tag = value.get("$")
    if tag in ("list", "tuple"):
        items = _items(value)
        out = [dec(v) for v in items]
        return out if tag == "list" else tuple(out)
    if tag == "dict":
        out = {}
        for pair in _items(value):
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("malformed dict item")
            key = dec(pair[0])
            if not isinstance(key, (str, int, float, bool, tuple, type(None))):
                raise WireError("unhashable dict key")
            out[key] = dec(pair[1])
        return out
    if tag == "nd":
        dtype = np.dtype(str(value.get("dtype")))
        if dtype.kind not in NUMBER_KINDS or dtype.hasobject or dtype.fields is not None:
            raise WireError(f"arrays of {dtype} are not accepted")
        shape = tuple(int(s) for s in value.get("shape", []))
        if any(s < 0 for s in shape):
            raise WireError("negative array dimension")
        data = base64.b64decode(str(value.get("data", "")), validate=True)
        array = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        if value.get("tensor"):
            return make_tensor(array, int(value.get("id", -1)))
        return array[()] if shape == () else array
    if tag == "bytes":
        return base64.b64decode(str(value.get("data", "")), validate=True)
    if tag == "ref":
        return make_ref({"id": int(value["id"]), "type": str(value.get("type", "object"))[:100],
                         "kind": str(value.get("kind", "object"))})
    tf = _tf()
    if tag == "shape":
        dims = value.get("dims")
        dims = None if dims is None else [None if d is None else int(d) for d in _items({"items": dims})]
        return tf.TensorShape(dims) if tf is not None else (None if dims is None else tuple(dims))
    if tag == "dtype":
        name = str(value.get("name"))
        return tf.dtypes.as_dtype(name) if tf is not None else np.dtype(name)
    raise WireError(f"unknown tag {tag!r}")


def _items(value: dict) -> list:
    items = value.get("items")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise WireError("malformed or oversized container")
    return items
