"""Reading, scoring and writing a file at once: the next batch is read, and the last one written, on threads of
their own while the current one is scored. pyarrow releases the GIL while it decodes and encodes, and writing
Parquet runs on one core, so a serial loop left the other core idle for most of a run.

Each stage holds at most `depth` batches, so memory stays flat in the file's size; an error in any stage ends
the run and is raised in the caller's thread, and no thread is left behind.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

__all__ = ["BackgroundSink", "prefetch"]

_END = object()
_POLL = 0.1  # seconds between checks that the other side is still there


def _put(q: queue.Queue, item, alive) -> bool:
    """Put item, unless the other side is gone (then False)."""
    while alive():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """items, produced up to `depth` ahead on a reader thread."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for item in items:
                if not _put(q, (item, None), lambda: not stop.is_set()):
                    return
            _put(q, (_END, None), lambda: not stop.is_set())
        except BaseException as e:  # handed to the caller's thread
            _put(q, (_END, e), lambda: not stop.is_set())

    reader = threading.Thread(target=read, name="varde-read", daemon=True)
    reader.start()
    try:
        while True:
            item, error = q.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        reader.join()


class BackgroundSink:
    """A sink whose writes run on a writer thread, in order. close() waits for them and raises the first error;
    write() raises it too once it has happened, so a failing disk stops the run early."""

    def __init__(self, sink, depth: int = 2):
        self._sink = sink
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._write_all, name="varde-write", daemon=True)
        self._writer.start()

    def _write_all(self) -> None:
        while True:
            batch = self._q.get()
            if batch is _END:
                return
            if self._error is None:
                try:
                    self._sink.write(batch)
                except BaseException as e:
                    self._error = e

    def write(self, batch) -> None:
        if self._error is not None:
            raise self._error
        if not _put(self._q, batch, self._writer.is_alive):
            raise RuntimeError("the writer thread ended")

    def close(self) -> None:
        _put(self._q, _END, self._writer.is_alive)
        self._writer.join()
        if self._error is not None:
            raise self._error
        self._sink.close()
