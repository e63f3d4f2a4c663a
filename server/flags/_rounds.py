"""Work the server does by itself every few seconds (escalation, overdue measurements): one loop for all of it."""

from __future__ import annotations

import logging
import threading

__all__ = ["Rounds"]

log = logging.getLogger("varde.server.rounds")


class Rounds:
    """Calls `run_once` every `every` seconds until `stopping` is set. A failed round (the store away) is logged
    and tried again at the next; the log line names the kind of error, never patient data."""

    what = "round"

    def __init__(self, stopping: threading.Event, every: float):
        self._stopping, self._every = stopping, every

    def run_once(self) -> int:
        raise NotImplementedError

    def run(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                self.run_once()
            except Exception as e:
                log.warning("%s round failed (%s); trying again in %.0f s", self.what, type(e).__name__, self._every)
