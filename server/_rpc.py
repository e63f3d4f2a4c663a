"""Wrappers that every handler goes through: status mapping (via errors.py), latency, in-flight and code metrics."""

from __future__ import annotations

import functools
import time

import grpc

from .errors import abort_with, to_status
from .metrics import Metrics

__all__ = ["unary", "streaming"]


class _Where:
    """What the handler is working on, for error messages (a batch id, never a patient)."""

    __slots__ = ("text",)

    def __init__(self):
        self.text = ""


def _start(metrics: Metrics, method: str):
    gauge = metrics.child(metrics.in_flight, method)
    gauge.inc()
    return time.perf_counter(), gauge, _Where()


def _finish(metrics: Metrics, method: str, started: float, code: grpc.StatusCode) -> None:
    metrics.child(metrics.rpcs, method, code.name).inc()
    metrics.child(metrics.rpc_seconds, method).observe(time.perf_counter() - started)


def unary(method: str):
    """For a handler `fn(self, request, context, where) -> response`."""

    def wrap(fn):
        @functools.wraps(fn)
        def handler(self, request, context):
            metrics: Metrics = self.metrics
            started, gauge, where = _start(metrics, method)
            try:
                response = fn(self, request, context, where)
            except Exception as exc:
                code, message, field = to_status(exc, where.text)
                _finish(metrics, method, started, code)
                gauge.dec()
                abort_with(context, code, message, field)
            _finish(metrics, method, started, grpc.StatusCode.OK)
            gauge.dec()
            return response

        return handler

    return wrap


def _ended(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    """How a call ended that the handler did not end: gRPC often just ends the request stream of a cancelled call
    before is_active() turns False, so the deadline and the idle watchdog's mark are asked too."""
    if context.time_remaining() <= 0:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    if getattr(context, "varde_idle_ended", False) or not context.is_active():
        return grpc.StatusCode.CANCELLED
    return None


def streaming(method: str):
    """For a response-streaming handler `fn(self, request_or_iterator, context, where)` that yields responses."""

    def wrap(fn):
        @functools.wraps(fn)
        def handler(self, request, context):
            metrics: Metrics = self.metrics
            started, gauge, where = _start(metrics, method)
            code = grpc.StatusCode.OK
            try:
                yield from fn(self, request, context, where)
                code = _ended(context) or code
            except GeneratorExit:
                code = _ended(context) or grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:
                ended = _ended(context)
                if ended is not None:  # the call is over: nobody to tell
                    code = ended
                    return
                code, message, field = to_status(exc, where.text)
                abort_with(context, code, message, field)
            finally:
                _finish(metrics, method, started, code)
                gauge.dec()

        return handler

    return wrap
