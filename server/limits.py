"""Limits on streaming calls, so that no client can hold the server's workers: a cap on open streams (beyond it
RESOURCE_EXHAUSTED at once), and an end to streams stuck longer than allowed waiting for the client's next message
or for the client to read a reply."""

from __future__ import annotations

import threading
import time

import grpc

from ._handlers import wrap_stream_handler
from .errors import abort_with

__all__ = ["StreamLimits"]


class _Open:
    __slots__ = ("context", "waiting_since", "sending_since", "released", "method")

    def __init__(self, context, method):
        self.context = context
        self.method = method
        self.waiting_since: float | None = None  # blocked reading the client's next message since
        self.sending_since: float | None = None  # blocked sending a reply the client does not read since
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
                                   self._track, self._track_replies)

    def _enter(self, context, name: str) -> _Open:
        with self._lock:  # the gauge is set under the lock, or two threads could write it out of order
            full = len(self._open) >= self._max
            if not full:
                entry = _Open(context, name)
                self._open.add(entry)
                self._metrics.streams_open.set(len(self._open))
        if full:
            self._metrics.streams_refused.inc()
            self._metrics.rpcs.labels(name, "RESOURCE_EXHAUSTED").inc()
            abort_with(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                       f"{self._max} streams are open on this server (--max-concurrent-streams); close one or "
                       "retry with backoff", None)
        context.add_callback(lambda: self._leave(entry))
        return entry

    def _leave(self, entry: _Open) -> None:
        with self._lock:
            if entry.released:
                return
            entry.released = True
            self._open.discard(entry)
            self._metrics.streams_open.set(len(self._open))

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

    @staticmethod
    def _track_replies(entry: _Open, replies):
        """The reply stream, timed: gRPC asks for the next reply once it has sent the last one, so the time between
        is a send the client's flow control holds up (a client that does not read)."""
        for reply in replies:
            entry.sending_since = time.monotonic()
            yield reply
            entry.sending_since = None

    def _watch(self) -> None:
        while not self._stop.wait(min(1.0, self._idle / 4)):
            now = time.monotonic()
            with self._lock:
                stuck = [e for e in self._open
                         if any(t is not None and now - t > self._idle for t in (e.waiting_since, e.sending_since))]
            for entry in stuck:
                self._metrics.streams_idle_ended.inc()
                entry.context.varde_idle_ended = True  # so that the RPC is counted as ended, not OK
                entry.context.cancel()
