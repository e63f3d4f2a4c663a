"""The server's one clock. Everything that decides by time (a reading in the future, a flag due to escalate, a
patient overdue) asks it, so that a simulated day can run in minutes: `use(source)` swaps the source of time."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["now_us", "use"]

_source: Callable[[], int] = lambda: time.time_ns() // 1000  # noqa: E731


def now_us() -> int:
    """Microseconds since the epoch, UTC."""
    return _source()


def use(source: Callable[[], int] | None) -> None:
    """Take the time from `source` (microseconds since the epoch) from now on; None: the system clock again."""
    global _source
    _source = source or (lambda: time.time_ns() // 1000)
