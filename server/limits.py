"""Limits on streaming calls, so that no client can hold the server's workers: a cap on open streams (beyond it
RESOURCE_EXHAUSTED at once) and an end to request streams that wait for a message longer than allowed."""

from __future__ import annotations

import threading
import time

import grpc

from ._handlers import wrap_stream_handler
from .errors import abort_with

__all__ = ["StreamLimits"]


class _Open:
    __slots__ = ("context", "waiting_since", "released", "method")

    def __init__(self, context, method):
        self.context = context
        self.method = method
        self.waiting_since: float | None = None
        self.released = False


class StreamLimits(grpc.ServerInterceptor):
    def __init__(self, max_streams: int, idle_seconds: float, metrics):
        self._max = max_streams
        self._idle = idle_seconds
        self._metrics = metrics
        self._lock = threading.Lock()
        self._open: set[_Open] = set()
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="varde-stream-watchdog", daemon=True)
        self._watchdog.start()

    def close(self) -> None:
        self._stop.set()

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or not (handler.request_streaming or handler.response_streaming):
            return handler
        name = details.method.rsplit("/", 1)[-1]
        return wrap_stream_handler(handler, lambda context: self._enter(context, name), self._leave,
                                   self._track)

    def _enter(self, context, name: str) -> _Open:
        with self._lock:
            if len(self._open) >= self._max:
                full = True
            else:
                full = False
                entry = _Open(context, name)
                self._open.add(entry)
        if full:
            self._metrics.streams_refused.inc()
            self._metrics.rpcs.labels(name, "RESOURCE_EXHAUSTED").inc()
            abort_with(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                       f"{self._max} streams are open on this server (--max-concurrent-streams); close one or "
                       "retry with backoff", None)
        context.add_callback(lambda: self._leave(entry))
        self._metrics.streams_open.set(len(self._open))
        return entry

    def _leave(self, entry: _Open) -> None:
        with self._lock:
            if entry.released:
                return
            entry.released = True
            self._open.discard(entry)
            n = len(self._open)
        self._metrics.streams_open.set(n)

    def _track(self, entry: _Open, requests):
        """The request iterator, timed: how long each wait for the client's next message lasts."""
        while True:
            entry.waiting_since = time.monotonic()
            try:
                request = next(requests)
            except StopIteration:
                return
            finally:
                entry.waiting_since = None
            yield request

    def _watch(self) -> None:
        while not self._stop.wait(min(1.0, self._idle / 4)):
            now = time.monotonic()
            with self._lock:
                idle = [e for e in self._open if e.waiting_since is not None and now - e.waiting_since > self._idle]
            for entry in idle:
                self._metrics.streams_idle_ended.inc()
                entry.context.cancel()
