"""The one progress reporter of the step loops (``nst stylize``, ``nst fast train``, ``nst arbitrary train``).

On a terminal (stderr is a TTY): a tqdm bar with the latest losses. Elsewhere (logs, notebooks, CI): a
plain line every ``every`` steps and at the last one, on stdout::

    step 40/200  content=1.2e+05 style=3.4e+04 total=1.5e+05  0.53 step/s  eta 302 s

Downloads report bytes instead (:class:`nst.download.ByteProgress`).
"""
from __future__ import annotations

import sys
import time


class Progress:
    """``update(step, losses)`` after every step, ``close()`` at the end (or use it as a context manager)."""

    def __init__(self, total: int, initial: int = 0, every: int = 10, *, label: str = "step",
                 enabled: bool = True) -> None:
        self.total, self.every, self.label, self.enabled = total, max(1, every), label, enabled
        self.start_step, self.start_time = initial, time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit=label, dynamic_ncols=True)

    def line(self, step: int, losses: dict[str, float]) -> str:
        text = " ".join(f"{k}={v:.4g}" for k, v in losses.items())
        rate = (step - self.start_step) / max(time.perf_counter() - self.start_time, 1e-9)
        eta = f"{(self.total - step) / rate:.0f} s" if rate > 0 else "?"
        return f"{self.label} {step}/{self.total}  {text}  {rate:.2f} {self.label}/s  eta {eta}"

    def update(self, step: int, losses: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(" ".join(f"{k}={v:.4g}" for k, v in losses.items()), refresh=False)
        elif self.enabled and (step % self.every == 0 or step == self.total):
            print(self.line(step, losses), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
