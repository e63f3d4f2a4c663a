"""A progress bar on stderr for long runs; silent when stderr is not a terminal unless asked for."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    def __init__(self, total: int, unit: str, enabled: bool, stream=None):
        self.total = total
        self.unit = unit
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self._last = 0.0

    def update(self, done: int, rows: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.2:
            return
        self._last = now
        self._draw(done, rows, now)

    def _draw(self, done: int, rows: int, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = rows / elapsed
        if self.total:
            frac = min(done / self.total, 1.0)
            filled = int(frac * 30)
            bar = "#" * filled + "-" * (30 - filled)
            eta = (elapsed / frac - elapsed) if frac > 0 else 0.0
            line = f"\r[{bar}] {frac:6.1%}  {rows:,} rows  {rate:,.0f} rows/s  eta {eta:4.0f}s"
        else:
            line = f"\r{rows:,} rows  {rate:,.0f} rows/s"
        self.stream.write(line)
        self.stream.flush()

    def finish(self, done: int, rows: int) -> None:
        if self.enabled:
            self._draw(done, rows, time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
