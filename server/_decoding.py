"""Requests that are not the protobuf they claim to be get INVALID_ARGUMENT, not gRPC's INTERNAL.

gRPC answers INTERNAL ("Exception deserializing request!") when a deserializer raises; the client would read that
as the server's fault. Here the deserializer never raises: it hands the handler a marker, and the marker becomes
INVALID_ARGUMENT where the request is used.
"""

from __future__ import annotations

import grpc

from ._handlers import _parts
from .errors import RequestError, abort_with

__all__ = ["SafeDecoding"]


class _Undecodable:
    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why


def _error(bad: _Undecodable) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                        f"the request is not a valid protobuf message of this method's type ({bad.why})")


class SafeDecoding(grpc.ServerInterceptor):
    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        deserialize = handler.request_deserializer

        def decode(data):
            try:
                return deserialize(data)
            except Exception as e:  # any parse failure is the request's
                return _Undecodable(type(e).__name__)

        inner, make = _parts(handler)
        if handler.request_streaming:
            def checked(requests):
                for request in requests:
                    if isinstance(request, _Undecodable):
                        raise _error(request)
                    yield request

            if handler.response_streaming:
                def behaviour(requests, context):
                    yield from inner(checked(requests), context)
            else:
                def behaviour(requests, context):
                    return inner(checked(requests), context)
        elif handler.response_streaming:
            def behaviour(request, context):
                if isinstance(request, _Undecodable):
                    e = _error(request)
                    abort_with(context, e.code, str(e), None)
                yield from inner(request, context)
        else:
            def behaviour(request, context):
                if isinstance(request, _Undecodable):
                    e = _error(request)
                    abort_with(context, e.code, str(e), None)
                return inner(request, context)
        return make(behaviour, request_deserializer=decode, response_serializer=handler.response_serializer)
