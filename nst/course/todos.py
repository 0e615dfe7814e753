"""The student's TODOs: which are still unwritten (read from the stubs), and which one an error stopped at.

A stub is ``raise NotImplementedError("TODO n: what (file.py:function)")`` (:mod:`nst.course.stubs`).
Handout order is (part, n): a module's part is the first words of its docstring ("Part 2, step 1: ...").
TensorFlow's autograph and Keras re-raise a stub's error with their own text around it ("in user
code: ...", "Exception encountered when calling ...", ANSI bold); :func:`todo_of` finds the TODO in
the exception or anything it was raised from. The command line (``nst``) and the pytest plugin
(:mod:`nst.course.pytest_output`) both use this module, so every command says the same one line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TODO_RAISE = re.compile(r"""raise NotImplementedError\(\s*(["'])(?P<todo>TODO.*?)\1""")
PART = re.compile(r"^[rRuU]?(?:\"{3}|'{3})\s*Part (\d+)\b")  # a docstring starting "Part 1, step 2: ..."
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# "TODO 5: assemble the network (transformer_net.py:forward)" anywhere in a (wrapped) message
TODO_TEXT = re.compile(r"TODO (?P<n>\d+):[^\n]*?\((?P<file>[\w.]+\.py):(?P<function>[\w.<>]+)\)")


@dataclass(frozen=True)
class Todo:
    part: int           # 0 when the module does not say
    n: int
    text: str           # "TODO 5: assemble the network (transformer_net.py:forward)"
    path: Path          # the stub file
    line: int           # the line of its raise

    @property
    def file(self) -> str:
        return self.path.name

    def where(self) -> str:
        """"assignment/transformer_net.py:160"."""
        return f"{self.path.parent.name}/{self.path.name}:{self.line}"


def module_part(path: Path) -> int | None:
    """The part a module belongs to, from its docstring's first words ("Part 2, step 1: ..."); None if unsaid."""
    for line in path.read_text().splitlines()[:5]:
        match = PART.match(line.strip())
        if match:
            return int(match.group(1))
    return None


def unwritten(assignment: Path, part: int | None = None) -> list[Todo]:
    """Every stub line of ``assignment/*.py`` still raising its TODO, in handout order (part, n);
    only part ``part``'s when given. A commented-out raise does not count."""
    found = []
    for path in sorted(assignment.glob("*.py")) if assignment.is_dir() else []:
        module = module_part(path) or 0
        if part is not None and module != part:
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            match = TODO_RAISE.search(line)
            number = re.match(r"TODO (\d+)", match.group("todo")) if match else None
            if match and number and not line.lstrip().startswith("#"):
                found.append(Todo(module, int(number.group(1)), match.group("todo"), path, lineno))
    return sorted(found, key=lambda t: (t.part, t.n, t.file, t.line))


def todo_of(error: BaseException) -> tuple[int, str, str] | None:
    """(n, "TODO n: what (file.py:function)", "file.py") of the stub ``error`` stopped at, looking
    through the exceptions it was raised from or during; None when no stub is involved."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, NotImplementedError):
            match = TODO_TEXT.search(ANSI.sub("", str(error)))
            if match:
                return int(match["n"]), match.group(0), match["file"]
        error = error.__cause__ or error.__context__
    return None


def first_unwritten(assignment: Path, file: str) -> Todo | None:
    """The first unwritten TODO of the part that ``file`` (a stub's file name) belongs to."""
    path = assignment / file
    part = module_part(path) if path.is_file() else None
    todos = unwritten(assignment, part)
    return todos[0] if todos else None


def stopped_message(error: BaseException, assignment: Path) -> str | None:
    """One line for a run that stopped on a stub, else None: where the first unwritten TODO of that
    part is (handout order, even when the run reached a later one first) and what to do."""
    found = todo_of(error)
    if found is None:
        return None
    n, text, file = found
    first = first_unwritten(assignment, file)
    if first is None:  # the stub is not in this assignment folder (another checkout): say what was hit
        return f"{text} is not done yet; write it (the graded tests check it: python -m pytest)"
    left = len(unwritten(assignment, first.part))
    notes = [f"the first of {left} left in part {first.part}"] if left > 1 and first.part else []
    if first.n != n or first.file != file:
        notes.append(f"this run stopped at TODO {n}")
    note = f" ({'; '.join(notes)})" if notes else ""
    return (f"{first.where()}: {first.text} is not done yet{note}; write it (the graded tests check it: "
            "python -m pytest), or run the reference with --impl solutions where you have it")
