"""Generate ``assignment/`` (student stubs) from ``solutions/`` (the single source of truth).

In a solution file, each exercise is a block::

    # BEGIN PROMPT                 (optional, kept in the stub)
    # hint lines ...
    # END PROMPT
    # BEGIN SOLUTION: TODO 3: the content loss
    ...reference code...
    # END SOLUTION

The stub keeps everything else and replaces the block with
``raise NotImplementedError("TODO 3: the content loss (style_transfer.py:_content_loss)")``:
the function is the one the block is in (a method by its own name, a function nested in another as
``outer.inner``, e.g. ``optimize.train_step``).
"""
from __future__ import annotations

import re
from pathlib import Path

from nst.errors import NstError

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<todo>.*))?$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
PROMPT_MARKERS = re.compile(r"^\s*# (BEGIN|END) PROMPT\s*$")
DEF = re.compile(r"^(?P<indent>\s*)(?P<kind>def|class) (?P<name>\w+)\b")
HEADER = "# GENERATED from solutions/{name} by `nst course build-assignment`: fill in the TODOs.\n"


def make_stub(source: str, filename: str) -> str:
    """The student version of one solution file's text."""
    out, function, block_start = [], "<module>", None
    scopes: list[tuple[int, str, str]] = []  # (indent, "def"|"class", qualified name) enclosing this line
    for lineno, line in enumerate(source.splitlines(keepends=True), 1):
        if block_start is None:
            match = DEF.match(line)
            if match:
                indent, kind, name = len(match["indent"].expandtabs()), match["kind"], match["name"]
                while scopes and scopes[-1][0] >= indent:
                    scopes.pop()
                if kind == "def" and scopes and scopes[-1][1] == "def":
                    name = f"{scopes[-1][2]}.{name}"
                scopes.append((indent, kind, name))
                if kind == "def":
                    function = name
            begin = BEGIN.match(line.rstrip("\n"))
            if begin:
                block_start = lineno
                todo = (begin.group("todo") or f"implement {function}").strip().replace('"', "'")
                out.append(f'{begin.group("indent")}raise NotImplementedError("{todo} ({filename}:{function})")\n')
            elif not PROMPT_MARKERS.match(line):
                out.append(line)
        elif END.match(line):
            block_start = None
        elif BEGIN.match(line.rstrip("\n")):
            raise NstError(f"{filename}:{lineno}: BEGIN SOLUTION inside the block opened at line {block_start}")
    if block_start is not None:
        raise NstError(f"{filename}:{block_start}: BEGIN SOLUTION without END SOLUTION")
    return HEADER.format(name=filename) + "".join(out)


def solution_files(solutions: Path) -> list[Path]:
    return sorted(p for p in solutions.glob("*.py"))


def expected_stubs(solutions: Path) -> dict[str, str]:
    """{file name: stub text} for every module in ``solutions/`` (``__init__.py`` copied as is)."""
    stubs = {}
    for path in solution_files(solutions):
        text = path.read_text()
        stubs[path.name] = text if path.name == "__init__.py" else make_stub(text, path.name)
    return stubs


def build_assignment(solutions: Path, assignment: Path) -> list[Path]:
    """Write every stub into ``assignment/``; return the files that changed."""
    from nst.images import write_atomic

    changed = []
    for name, text in expected_stubs(solutions).items():
        dest = assignment / name
        if not dest.is_file() or dest.read_text() != text:
            write_atomic(dest, text)
            changed.append(dest)
    return changed


def stale_files(solutions: Path, assignment: Path) -> list[str]:
    """Names of assignment files that differ from what the solutions generate (or are missing)."""
    return [name for name, text in expected_stubs(solutions).items()
            if not (assignment / name).is_file() or (assignment / name).read_text() != text]
