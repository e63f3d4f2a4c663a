"""The one place where a failure becomes a gRPC status.

Handlers raise; nothing else in the server calls `context.abort`. A bad row is never an error (it is scored with a
reject_reason); a bad request is, and never comes back success-shaped.
"""

from __future__ import annotations

import logging
import traceback

import grpc
import pyarrow as pa
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from varde.scoring import SchemaError

from .store.base import ClaimConflict, FlagNotFound, StoreError

__all__ = ["RequestError", "abort_with", "to_status"]

log = logging.getLogger("varde.server")


class RequestError(Exception):
    """A request the server will not serve, with the status code and a message that says what to do."""

    def __init__(self, code: grpc.StatusCode, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field


def to_status(exc: BaseException, where: str = "") -> tuple[grpc.StatusCode, str, str | None]:
    """(code, message, field) for an exception raised while serving a request. `where` names the batch."""
    prefix = f"{where}: " if where else ""
    if isinstance(exc, RequestError):
        return exc.code, prefix + str(exc), exc.field
    if isinstance(exc, SchemaError):
        return grpc.StatusCode.INVALID_ARGUMENT, prefix + str(exc), exc.column
    if isinstance(exc, (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, pa.ArrowIndexError,
                        pa.ArrowKeyError, UnicodeDecodeError)):
        return grpc.StatusCode.INVALID_ARGUMENT, f"{prefix}the batch cannot be scored as sent: {exc}", None
    if isinstance(exc, (pa.ArrowCapacityError, pa.ArrowMemoryError)):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, f"{prefix}the batch is too large to score: {exc}", None
    if isinstance(exc, FlagNotFound):
        return grpc.StatusCode.NOT_FOUND, prefix + str(exc), "flag_id"
    if isinstance(exc, ClaimConflict):
        return grpc.StatusCode.FAILED_PRECONDITION, prefix + str(exc), "flag_id"
    if isinstance(exc, StoreError) or type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg"):
        why = _first_line(exc)
        log.error("flag store: %s", why)
        return (grpc.StatusCode.UNAVAILABLE,
                f"{prefix}the flag store is unavailable ({why}); nothing from this request was kept, send it again",
                None)
    if isinstance(exc, MemoryError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, f"{prefix}out of memory; send smaller batches", None
    # The trace names code, not data: an exception's message may hold a value (KeyError('13097248022')),
    # so it is left out of the log and the reply.
    log.error("internal error (%s); trace:\n%s", type(exc).__name__,
              "".join(traceback.format_tb(exc.__traceback__)).rstrip())
    message = f"{prefix}internal error ({type(exc).__name__}); the server log has the trace"
    return grpc.StatusCode.INTERNAL, message, None


def _first_line(exc: BaseException) -> str:
    """A database error's first line: its DETAIL lines may quote a row (a patient id, a value)."""
    sqlstate = getattr(exc, "sqlstate", None)
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return f"{first} [{sqlstate}]" if sqlstate else first


def abort_with(context: grpc.ServicerContext, code: grpc.StatusCode, message: str, field: str | None):
    """End the RPC with a google.rpc.Status carrying BadRequest details when a field is at fault."""
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    if field is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=field, description=message)]))
        status.details.append(detail)
    context.abort_with_status(rpc_status.to_status(status))
