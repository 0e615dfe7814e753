"""The docs' generated tables: each settings class's option table (:func:`nst.options.markdown_table`)
between ``<!-- BEGIN GENERATED: name ... -->`` and ``<!-- END GENERATED: name -->`` in its docs page.

``python -m nst.doctables`` lists the stale tables (exit 1), ``--write`` rewrites them;
the options test (test_options.py) fails while any is stale.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nst import gatys
from nst.arbitrary import config as arbitrary
from nst.errors import NstError
from nst.fast import config as fast
from nst.options import key_table, markdown_table

BEGIN, END = "<!-- BEGIN GENERATED: {name} (python -m nst.doctables --write) -->", "<!-- END GENERATED: {name} -->"


def generated_tables() -> dict[str, tuple[Path, str]]:
    """{table name: (docs file, its generated Markdown)} for every settings class with options."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    return {"nst stylize options": (docs / "part1_gatys.md", markdown_table(gatys.Config, gatys.PRESETS)),
            "nst fast stylize options": (docs / "part2_fast.md", markdown_table(fast.Stylize)),
            "nst fast train config": (docs / "part2_fast.md", key_table(fast.TrainConfig, "nst fast train")),
            "nst arbitrary stylize options": (docs / "part3_arbitrary.md", markdown_table(arbitrary.Stylize)),
            "nst arbitrary train config": (docs / "part3_arbitrary.md",
                                           key_table(arbitrary.TrainConfig, "nst arbitrary train")),
            "nst arbitrary train model": (docs / "part3_arbitrary.md",
                                          key_table(arbitrary.ModelConfig, "nst arbitrary train"))}


def _replace(text: str, name: str, table: str) -> str:
    begin, end = BEGIN.format(name=name), END.format(name=name)
    if begin not in text or end not in text:
        raise NstError(f"no generated block {name!r} (markers {begin} ... {end})")
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{table}\n{end}{rest.split(end, 1)[1]}"


def stale_docs() -> list[str]:
    """The docs files whose generated tables differ from the code (empty when in sync)."""
    return [f"{path}: {name}" for name, (path, table) in generated_tables().items()
            if path.is_file() and _replace(path.read_text(), name, table) != path.read_text()]


def write_docs() -> list[Path]:
    """Rewrite every generated table in the docs; the files that changed."""
    from nst.images import write_atomic

    changed = []
    for name, (path, table) in generated_tables().items():
        text = path.read_text()
        new = _replace(text, name, table)
        if new != text:
            write_atomic(path, new)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nst.doctables", description="Regenerate the docs' option tables.")
    parser.add_argument("--write", action="store_true", help="rewrite them (default: list the stale ones, exit 1)")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_docs():
            print(f"wrote {path}")
        return 0
    stale = stale_docs()
    for line in stale:
        print(f"stale: {line}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
