"""The client's error type, in a module of its own: the CLI catches it without importing gRPC (about 0.1 s of
every local `varde score`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc

__all__ = ["VardeError"]


class VardeError(Exception):
    """The server refused a request; `code` is the gRPC status code and the message says why."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.details = message
