"""Rebuilding a gRPC method handler with something run around it, for the server's interceptors."""

from __future__ import annotations

import grpc

__all__ = ["HandlerCache", "wrap_handler", "wrap_stream_handler"]


def _parts(handler: grpc.RpcMethodHandler):
    if handler.unary_unary:
        return handler.unary_unary, grpc.unary_unary_rpc_method_handler
    if handler.unary_stream:
        return handler.unary_stream, grpc.unary_stream_rpc_method_handler
    if handler.stream_unary:
        return handler.stream_unary, grpc.stream_unary_rpc_method_handler
    return handler.stream_stream, grpc.stream_stream_rpc_method_handler


def _rebuild(handler, make, behaviour):
    return make(behaviour, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)


def wrap_handler(handler: grpc.RpcMethodHandler, before) -> grpc.RpcMethodHandler:
    """The same handler with `before(context)` run first in the worker thread (it may abort the call)."""
    inner, make = _parts(handler)
    if handler.response_streaming:
        def behaviour(request, context):
            before(context)
            yield from inner(request, context)
    else:
        def behaviour(request, context):
            before(context)
            return inner(request, context)
    return _rebuild(handler, make, behaviour)


def wrap_stream_handler(handler: grpc.RpcMethodHandler, enter, leave, track, track_replies
                        ) -> grpc.RpcMethodHandler:
    """`entry = enter(context)` first (it may abort), `leave(entry)` however the call ends, a request stream
    passed through `track(entry, requests)` and a reply stream through `track_replies(entry, replies)`."""
    inner, make = _parts(handler)
    if handler.response_streaming:
        def behaviour(request, context):
            entry = enter(context)
            try:
                replies = inner(track(entry, request) if handler.request_streaming else request, context)
                yield from track_replies(entry, replies)
            finally:
                leave(entry)
    else:
        def behaviour(request, context):
            entry = enter(context)
            try:
                return inner(track(entry, request) if handler.request_streaming else request, context)
            finally:
                leave(entry)
    return _rebuild(handler, make, behaviour)


class HandlerCache(grpc.ServerInterceptor):
    """The interceptors' handler for each method, built on its first call and kept.

    gRPC runs the interceptor pipeline on every call, and rebuilding the wrapped handler was 3.5 µs of a 22 µs
    push. Keeping it is right only while every interceptor after this one builds its handler from the method name
    alone; they do, and read a call's metadata inside the handler, per call. Unknown methods are not kept, so that
    made-up names cannot grow the cache.
    """

    def __init__(self):
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(self, continuation, details):
        handler = self._handlers.get(details.method)
        if handler is None:
            handler = continuation(details)
            if handler is not None:
                self._handlers[details.method] = handler
        return handler
