"""Live changes for the console's Server-Sent Events: one thread per process looks at the store's flag events
(every half second, one indexed query) and tells each open page of the unit that owns the flag. What is sent is a
nudge and a count, never patient data: the page then fetches its rows as the signed-in user (and is audited)."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

__all__ = ["Feed"]

log = logging.getLogger("varde.server.console")


@dataclass(eq=False)  # one per open page, hashed by identity
class _Subscriber:
    unit: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=100))


class Feed:
    def __init__(self, store, every: float = 0.5):
        self.store = store
        self.every = every
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.cursor = 0

    def start(self) -> None:
        self.cursor = self.store.cursor()
        self._thread = threading.Thread(target=self._run, name="varde-console-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            subscribers = list(self._subscribers)
        for s in subscribers:  # wake every stream so that it ends now, not at its next heartbeat
            s.loop.call_soon_threadsafe(_put, s.queue, None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def subscribe(self, unit: str) -> _Subscriber:
        s = _Subscriber(unit, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(s)
        return s

    def unsubscribe(self, s: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(s)

    def _run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                self._look()
            except Exception as e:  # the store may be restarting; the pages show their data as stale meanwhile
                log.warning("console feed: cannot read flag events (%s); retrying", type(e).__name__)

    def _look(self) -> None:
        with self._lock:
            if not self._subscribers:
                self.cursor = self.store.cursor()
                return
        rows = self._events_after(self.cursor)
        if not rows:
            return
        self.cursor = rows[-1][0]
        per_unit: dict[str, dict] = {}
        for _seq, kind, unit, severity in rows:
            news = per_unit.setdefault(unit, {"changes": 0, "high": 0, "cursor": self.cursor})
            news["changes"] += 1
            if kind == "RAISED" and severity >= 3:
                news["high"] += 1
        with self._lock:
            subscribers = list(self._subscribers)
        for s in subscribers:
            if s.unit in per_unit:
                s.loop.call_soon_threadsafe(_put, s.queue, per_unit[s.unit])

    def _events_after(self, cursor: int) -> list[tuple[int, str, str, int]]:
        store = self.store
        with store.transaction(write=False) as cur:
            return store._execute(cur, "SELECT e.seq, e.type, f.unit, f.severity FROM flag_events e JOIN flags f "
                                       "ON f.id = e.flag_id WHERE e.seq > ? ORDER BY e.seq LIMIT 5000",
                                  (cursor,)).fetchall()


def _put(queue: asyncio.Queue, item) -> None:
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:  # a page that does not read is nudged once; it refetches everything anyway
        pass
