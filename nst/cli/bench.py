"""`nst bench`: placeholder until its part lands."""
from __future__ import annotations


def add_parser(sub) -> None:
    pass
