"""The worker's side of the conversation with the judge: ``Server`` answers its requests.

Each request is a small pickle whose only persistent ids are handles on objects this process
handed out and arrays to rebuild as tensors (``_Unpickler``); each reply is plain data
(``nst.grading.wire``) or, for an exception, its type, message, a traceback naming files
relative to the submission, and who is to blame (``nst.grading.blame``).
"""
from __future__ import annotations

import io
import os
import pickle
import socket
import sys
import traceback

from nst.grading import blame, wire


def _where(filename: str, submission: str) -> str:
    if filename.startswith(submission + "/"):
        return filename[len(submission) + 1:]            # assignment/style_transfer.py
    for marker in ("/site-packages/", "/nst/"):
        if marker in filename:
            return "<library>/" + filename.rsplit(marker, 1)[1]
    return "<python>/" + os.path.basename(filename)


def student_traceback(exc: BaseException, submission: str) -> str:
    """The traceback with paths relative to the submission; library frames only named."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]   # drop Server.handle itself
    lines = ["Traceback (most recent call last), in the submission's process:"]
    for f in frames:
        lines.append(f'  File "{_where(f.filename, submission)}", line {f.lineno}, in {f.name}')
        if f.line and f.filename.startswith(submission + "/"):
            lines.append(f"    {f.line}")
    lines += [line.rstrip() for line in traceback.format_exception_only(type(exc), exc)]
    return "\n".join(lines)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, server: "Server"):
        super().__init__(io.BytesIO(data))
        self.server = server

    def persistent_load(self, pid):
        kind, value = pid
        if kind == "ref":
            return self.server.objects[value]
        import tensorflow as tf

        return tf.constant(value)


class Server:
    """Answers ``{"op": ...}`` requests on ``sock``; keeps every object it handed out alive."""

    def __init__(self, sock: socket.socket, package: str, submission: str, scenarios: dict | None = None):
        self.sock, self.package, self.submission = sock, package, submission
        self.scenarios = scenarios or {}           # (module, name) -> (function, its code), taken before
        self.objects: dict[int, object] = {}       # any student import

    def _ref(self, obj) -> dict:
        tf = sys.modules.get("tensorflow")           # never imported here for a course without it
        self.objects[id(obj)] = obj
        kind = "variable" if tf is not None and isinstance(obj, tf.Variable) else "object"
        return {"$": "ref", "id": id(obj), "type": type(obj).__name__, "kind": kind}

    def _tensor(self, t) -> int:
        self.objects[id(t)] = t
        return id(t)

    def handle(self, req: dict):
        import importlib

        op, target = req["op"], self.objects.get(req.get("ref"))
        if op == "alive":                    # the judge's first request, before any student code
            return True
        if op == "module":
            return importlib.import_module(f"{self.package}.{req['name']}")
        if op == "scenario":
            if (req["module"], req["name"]) not in self.scenarios:
                raise LookupError(f"{req['module']}.{req['name']} is not a function of the tests' helper modules")
            fn, code = self.scenarios[req["module"], req["name"]]
            impl = [importlib.import_module(f"{self.package}.{m}") for m in req["modules"]]
            if fn.__code__ is not code:
                raise RuntimeError(f"the submission replaced the test's own {req['name']}")
            return fn(*impl, *req["args"], **req["kwargs"])
        if op == "probe":
            from nst.grading.probe import in_worker

            return in_worker(**req["kwargs"])
        if op == "getattr":
            return getattr(target, req["name"])
        if op == "setattr":
            return setattr(target, req["name"], req["value"])
        if op == "delattr":
            return delattr(target, req["name"])
        if op == "call":
            return target(*req["args"], **req["kwargs"])
        if op == "getitem":
            return target[req["key"]]
        if op == "setitem":
            target[req["key"]] = req["value"]
            return None
        if op == "len":
            return len(target)
        if op == "iter":
            return list(target)
        if op == "contains":
            return req["value"] in target
        if op == "bool":
            return bool(target)
        if op == "value":
            import numpy as np

            return target.numpy() if hasattr(target, "numpy") else np.asarray(target)
        raise ValueError(f"unknown request {op!r}")

    def serve(self) -> None:
        while True:
            try:
                req = _Unpickler(wire.recv(self.sock), self).load()
            except EOFError:
                return
            try:
                reply = {"ok": wire.encode(self.handle(req), self._ref, self._tensor)}
            except BaseException as e:  # noqa: BLE001 - student code raises anything, SystemExit included
                reply = {"error": {"type": type(e).__name__, "builtin": type(e).__module__ == "builtins",
                                   "message": str(e)[:5000], "traceback": student_traceback(e, self.submission),
                                   "blame": blame.flags(e, self.submission, self.package)}}
            try:
                payload = wire.dumps(reply)
            except (TypeError, ValueError) as e:
                payload = wire.dumps({"error": {"type": "TypeError", "builtin": True, "message": str(e),
                                                "traceback": ""}})
            wire.send(self.sock, payload)
