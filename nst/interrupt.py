"""Ctrl-C at a step boundary, for the training loops (``nst fast train``, ``nst arbitrary train``).

The first SIGINT is only noted: the loop finishes the step in progress, checkpoints it and raises
``KeyboardInterrupt`` (the CLI exits 130), so the checkpoint is always a whole step and the same command
resumes exactly. A second Ctrl-C interrupts at once, without a checkpoint. Off the main thread (where
Python delivers no signals), and for a multi-worker run (whose workers must checkpoint together), Ctrl-C
keeps Python's default.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class StopRequest:
    """``requested`` turns True at the first Ctrl-C; the loop checks it after every step."""

    requested: bool = False


@contextlib.contextmanager
def stop_at_step_boundary(enabled: bool = True) -> Iterator[StopRequest]:
    """While inside, the first SIGINT sets ``request.requested``; the second raises KeyboardInterrupt."""
    request = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum, frame):
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True
        print("\ninterrupt: stopping after this step, with a checkpoint (Ctrl-C again: at once, without one)",
              file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)
