"""Options declared once: a dataclass field carries its help, choices, bounds and flag.

    iterations: int = option(300, "optimisation steps", bounds=">= 0")

From such a settings class this module derives everything else, so nothing is written twice:

* ``add_arguments(parser, Config, presets)``: one argparse argument per option, its type read
  from the annotation (``int``, ``float``, ``str``, ``bool``, ``tuple[int, ...]`` written
  ``512,1024``), its choices, and ``--help`` showing the default of every preset. Every
  argument defaults to None, so a preset's value applies unless the option is given.
* ``check(settings)``: every choice and bound, one ``NstError`` naming the option
  (``--beta2 must be in [0, 1), got 1.0``).
* ``markdown_table(Config, presets)``: the option table of the docs (``nst.doctables`` writes
  the generated tables into the docs, ``python -m nst.doctables --write``; a test fails when they
  are stale).

Bounds are written ``>= a``, ``> a``, ``[a, b]``, ``[a, b)`` or ``(a, b]``; for tuples they apply
to every element. ``flag=None`` keeps a field out of the command line (set by presets only).
"""
from __future__ import annotations

import argparse
import dataclasses
import numbers
import re
import sys
import typing
from typing import Any

from nst.errors import NstError

_BOUNDS = re.compile(r"^(?:(>=|>) *(-?[\d.e+-]+)|([\[(]) *(-?[\d.e+-]+) *, *(-?[\d.e+-]+) *([\])]))$")


def option(default: Any, help: str, *, choices: tuple | None = None, bounds: str | None = None,
           flag: str | None | bool = True, metavar: str | None = None, what: str | None = None,
           deprecated: tuple[str, ...] = (), nargs: str | None = None, repeat: bool = False,
           required: bool = False, short: str | None = None, shown: str | None = None,
           command_default: Any = None) -> Any:
    """A dataclass field with its command-line declaration in ``metadata``.

    ``flag``: True for ``--field-name``, a string for another spelling, None for no flag.
    ``what``: how an error names the bounds, when the words derived from them do not say it well.
    ``deprecated``: old spellings still accepted for one release, each with a warning.
    ``default``: ``dataclasses.MISSING`` for a required field; a list is copied for each instance.
    ``nargs``: argparse's, for a field that takes several words (``--content-dir A B``).
    ``repeat``: a list field given one value a flag, repeated (``--style A --style B``), for commands whose
    positional arguments would be swallowed by ``nargs``.
    ``required``: the flag must be given (a field with no sensible default, e.g. the model to run).
    ``short``: a one-letter spelling as well (``-o`` for ``--output``).
    ``shown``: the default as ``--help`` and the docs say it, when the value (None) does not tell it.
    ``command_default``: the command line's default where it differs from the library's (``--precision``:
    ``auto`` for a command, float32 for code that builds the settings itself, such as tests and graded code).
    """
    if bounds is not None and not _BOUNDS.match(bounds):
        raise ValueError(f"bad bounds {bounds!r}")
    meta = {"help": help, "choices": choices, "bounds": bounds, "flag": flag, "metavar": metavar, "what": what,
            "deprecated": deprecated, "nargs": nargs, "repeat": repeat, "required": required,
            "short": short, "shown": shown, "command_default": command_default}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata={"option": meta})
    return dataclasses.field(default=default, metadata={"option": meta})


def _default(f: dataclasses.Field) -> Any:
    """A field's default (a fresh one from its factory); ``dataclasses.MISSING`` when it is required."""
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def declared(cls) -> list[tuple[dataclasses.Field, dict]]:
    """(field, its option metadata) of every option field of ``cls``, in declaration order."""
    return [(f, f.metadata["option"]) for f in dataclasses.fields(cls) if "option" in f.metadata]


def flag_of(f: dataclasses.Field, meta: dict) -> str | None:
    if meta["flag"] is None:
        return None
    return meta["flag"] if isinstance(meta["flag"], str) else "--" + f.name.replace("_", "-")


def _kind(cls, f: dataclasses.Field) -> tuple[type, bool]:
    """(element type, is a tuple) of a field's annotation, Optional stripped."""
    hint = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", ())) and len(args) == 1:
        hint = args[0]
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], True
    return hint, False


def _metavar(f: dataclasses.Field, meta: dict, kind: type, many: bool) -> str:
    return meta["metavar"] or ("A,B,..." if many else {int: "N", float: "X"}.get(kind, f.name.upper()))


def _list_of(kind: type):
    name = {int: "integers", float: "numbers", str: "names"}[kind]

    def parse(text: str) -> tuple:
        try:
            return tuple(kind(x) for x in text.replace(",", " ").split())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None
    return parse


def _show(value: Any) -> str:
    if value is None:
        return "off"
    if value is dataclasses.MISSING:
        return "required"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):
        return ",".join(_show(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def defaults(cls, presets: dict[str, dict] | None = None) -> dict[str, dict[str, Any]]:
    """{preset name: {field: value}}: each preset over the command line's defaults ({"default": ...} without
    presets): a field's ``command_default`` where it has one, else its default."""
    base = {f.name: _default(f) if meta.get("command_default") is None else meta["command_default"]
            for f, meta in declared(cls)}
    return {name: {**base, **values} for name, values in (presets or {"default": {}}).items()}


def add_arguments(parser: argparse.ArgumentParser, cls, presets: dict[str, dict] | None = None,
                  default_word: str = "default") -> None:
    """One argument per option field of ``cls`` with a flag; each defaults to None (the preset, or the
    config file, decides). ``--help`` ends each with ``(<default_word> <value>)``."""
    table = defaults(cls, presets)
    for f, meta in declared(cls):
        flag = flag_of(f, meta)
        if flag is None:
            continue
        kind, many = _kind(cls, f)
        values = {p: _show(v[f.name]) for p, v in table.items()}
        shown = next(iter(values.values())) if len(set(values.values())) == 1 else \
            "; ".join(f"{p}: {v}" for p, v in values.items())
        shown = meta.get("shown") or shown
        if meta.get("required"):
            text = f"{meta['help']} (required)"
        elif shown == "required":
            text = f"{meta['help']} (required, here or in the config file)"
        else:
            text = f"{meta['help']} ({default_word} {shown})"
        text = text.replace("%", "%%")
        kwargs: dict[str, Any] = {"help": text, "dest": f.name, "default": None}
        if meta.get("required"):
            kwargs["required"] = True
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif meta.get("repeat"):  # --flag A --flag B
            kwargs.update(action="append", metavar=_metavar(f, meta, kind, many))
        elif meta.get("nargs"):  # --flag A B, and repeatable: --flag A --flag B
            kwargs.update(nargs=meta["nargs"], action="extend", metavar=_metavar(f, meta, kind, many))
        else:
            kwargs["type"] = _list_of(kind) if many else kind
            if meta["choices"]:
                kwargs["choices"] = list(meta["choices"])
            if not meta["choices"]:
                kwargs["metavar"] = _metavar(f, meta, kind, many)
        parser.add_argument(*([meta["short"]] if meta.get("short") else []), flag, **kwargs)
        for old in meta["deprecated"]:
            deprecated_alias(parser, old, flag, **{k: v for k, v in kwargs.items() if k not in ("help", "required")})


class _Deprecated(argparse.Action):
    """Stores like the new flag, and says once on stderr that the old spelling is going away."""

    def __init__(self, option_strings, dest, new: str, store: str = "store", **kwargs):
        self.new, self.store = new, store
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"warning: {option_string} is deprecated and will be removed in the next release; use {self.new}",
              file=sys.stderr)
        if self.store == "const":  # a switch that stands for a value (--mixed-precision = --precision bfloat16)
            setattr(namespace, self.dest, self.const)
        elif self.store == "extend":
            setattr(namespace, self.dest, (getattr(namespace, self.dest) or []) + list(values))
        else:
            setattr(namespace, self.dest, values)


def deprecated_alias(parser: argparse.ArgumentParser, old: str, new: str, *, store: str = "store",
                     **kwargs) -> None:
    """Accept ``old`` as a hidden spelling of ``new`` (same ``dest``), with a warning when used.

    ``store="extend"`` appends its values to the list ``new`` builds (``--styles A B`` = ``--style A --style B``);
    ``store="const"`` makes it a switch that stores ``const`` (``--mixed-precision`` = ``--precision bfloat16``).
    """
    kwargs.pop("action", None)
    if store == "const":
        kwargs.update(nargs=0, choices=None, type=None)
    parser.add_argument(old, action=_Deprecated, new=new, store=store, help=argparse.SUPPRESS, **kwargs)


def settings_from_args(cls, args: argparse.Namespace, presets: dict[str, dict] | None = None,
                       preset: str | None = None):
    """``cls`` from a preset (or the command line's defaults, see :func:`defaults`) with every option given
    on the command line over it."""
    values = dict((presets or {}).get(preset, {})) if preset else {}
    for f, meta in declared(cls):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
        elif f.name not in values and meta.get("command_default") is not None:
            values[f.name] = meta["command_default"]
    return cls(**values)


def options_from_args(cls, args: argparse.Namespace):
    """``cls`` from the command line (the declared default where an option is not given), checked by
    :func:`check`: a value out of its choices or bounds is one NstError naming the flag."""
    settings = settings_from_args(cls, args)
    check(settings)
    return settings


def _bound_ok(value: float, bounds: str) -> bool:
    m = _BOUNDS.match(bounds)
    if m.group(1):
        limit = float(m.group(2))
        return value >= limit if m.group(1) == ">=" else value > limit
    low, high = float(m.group(4)), float(m.group(5))
    return (value >= low if m.group(3) == "[" else value > low) and (value <= high if m.group(6) == "]" else value < high)


def _bound_words(bounds: str, kind: type, many: bool = False) -> str:
    """"positive", ">= 0", "in [0, 1)"; for tuples "positive numbers", "numbers >= 0", ..."""
    if bounds in ("> 0", ">= 1" if kind is int else "> 0"):
        return "positive numbers" if many else "positive"
    words = bounds if bounds.startswith(">") else f"in {bounds}"
    return f"numbers {words}" if many else words


def check(settings, by: str = "flag") -> None:
    """Refuse the first option out of its choices or bounds, or not a number where one is declared: one
    NstError naming the option by its flag (``by="flag"``) or its field, a config file's key (``by="key"``)."""
    cls = type(settings)
    for f, meta in declared(cls):
        value = getattr(settings, f.name)
        name = (flag_of(f, meta) if by == "flag" else None) or f.name
        if value is None:
            continue
        kind, many = _kind(cls, f)
        items = value if many else (value,)
        if kind in (int, float) and not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in items):
            raise NstError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        if meta["choices"] and any(v not in meta["choices"] for v in items):
            raise NstError(f"{name} must be one of {', '.join(map(str, meta['choices']))}, got {value!r}")
        if meta["bounds"] and kind in (int, float):
            if many and not items:
                raise NstError(f"{name} needs at least one value")
            if not all(_bound_ok(v, meta["bounds"]) for v in items):
                what = meta["what"] or _bound_words(meta["bounds"], kind, many)
                raise NstError(f"{name} must be {what}, got {value}")


def markdown_table(cls, presets: dict[str, dict] | None = None) -> str:
    """The docs' option table: flag, the default of each preset, meaning (bounds and choices included)."""
    table = defaults(cls, presets)
    head = ["option", *table, "meaning"]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for f, meta in declared(cls):
        flag = flag_of(f, meta)
        if flag is None:
            continue
        kind, many = _kind(cls, f)
        arg = "|".join(map(str, meta["choices"])) if meta["choices"] else _metavar(f, meta, kind, many)
        shown = (f"`{flag}`" if kind is bool else f"`{flag} {arg}`").replace("|", "\\|")
        extra = f" ({meta['what'] or _bound_words(meta['bounds'], kind, many)})" if meta["bounds"] else ""
        cells = ["required" if meta.get("required") else (meta.get("shown") or _show(v[f.name])).replace("|", "\\|")
                 for v in table.values()]
        rows.append("| " + " | ".join([shown, *cells, meta["help"].replace("|", "\\|") + extra]) + " |")
    return "\n".join(rows)


def key_table(cls, command: str) -> str:
    """The docs' table of a config file's keys: key, the ``command`` flag that overrides it, default, meaning."""
    rows = ["| key | `" + command + "` flag | default | meaning |", "| --- | --- | --- | --- |"]
    for f, meta in declared(cls):
        flag = flag_of(f, meta)
        extra = ""
        if meta["bounds"]:
            extra = f" ({meta['what'] or _bound_words(meta['bounds'], *_kind(cls, f))})"
        if meta["choices"] and not all(str(c) in meta["help"] for c in meta["choices"]):
            extra = f" ({' or '.join(map(str, meta['choices']))})"
        cells = [f"`{f.name}`", f"`{flag}`" if flag else "(file only)", _show(_default(f)),
                 meta["help"] + extra]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)
