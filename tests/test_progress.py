"""The one progress reporter of the step loops (nst/progress.py)."""
from __future__ import annotations

import ast
from pathlib import Path

from nst.progress import Progress

NST = Path(__file__).resolve().parents[1] / "nst"


def test_off_a_terminal_a_plain_line_every_n_steps_and_at_the_last(capsys):
    with Progress(total=25, initial=0, every=10, label="iteration") as progress:
        for step in range(1, 26):
            progress.update(step, {"style": 1.5, "total": 12345.0})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["iteration 10/25", "iteration 20/25", "iteration 25/25"]
    assert "style=1.5 total=1.234e+04" in lines[0] and "iteration/s" in lines[0] and "eta" in lines[0]
    assert lines[-1].endswith("eta 0 s")


def test_disabled_it_prints_nothing(capsys):
    progress = Progress(total=3, every=1, enabled=False)
    for step in (1, 2, 3):
        progress.update(step, {"total": 1.0})
    progress.close()
    assert capsys.readouterr().out == ""


def test_the_step_loops_use_it_and_no_module_defines_another():
    """One helper for one idea: no other ``*Progress`` class for steps (ByteProgress counts bytes)."""
    others = []
    for path in NST.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Progress") and path.name != "progress.py" \
                    and node.name != "ByteProgress":
                others.append(f"{path.relative_to(NST)}:{node.name}")
    assert others == []
    for loop in ("gatys/optimize.py", "fast/train.py", "arbitrary/train.py"):
        assert "from nst.progress import Progress" in (NST / loop).read_text(), loop
