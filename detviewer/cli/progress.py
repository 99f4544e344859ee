"""A progress line on stderr for the long subcommands (compare, anchors): shown only on a terminal."""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressLine"]


class ProgressLine:
    """progress(done, total[, eta_s]) as one rewritten line on stderr, at most every 0.2 s; ``unit`` names
    what is counted ("images", "boxes")."""

    def __init__(self, unit: str = "images") -> None:
        self.unit, self.enabled, self.last = unit, sys.stderr.isatty(), 0.0

    def __call__(self, done: int, total: int, eta: float | None = None) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and done < total):
            return
        self.last = now
        eta_text = f"ETA {eta:.0f} s" if eta is not None else ""
        sys.stderr.write(f"\r{done}/{total} {self.unit} {eta_text:<14}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
