"""Hand-written protobuf encoding for the two messages that carry Arrow IPC bytes (ArrowBatch, ScoredBatch).

The generated classes copy a `bytes` field on every step: building the message, serialising it, parsing it,
reading the field. For megabytes of Arrow that was a quarter of a stream's time. These functions produce and read
the same wire format (any protobuf client still talks to the server), with the Arrow bytes as a zero-copy view of
the message and one copy to assemble a message. Only the top level is hand-written; the small nested summary goes
through the generated class.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from varde._proto.varde.v1 import scoring_pb2

__all__ = ["ArrowBatchView", "WireError", "decode_arrow_batch", "decode_scored_batch", "encode_arrow_batch",
           "encode_scored_batch", "ipc_stream"]


def ipc_stream(data: pa.Table | pa.RecordBatch) -> pa.Buffer:
    """`data` as one Arrow IPC stream, in a buffer of exactly its size: a growing BufferOutputStream copied
    everything written so far each time it grew (4 % of the server's CPU on a stream of 4 MiB requests)."""
    def write(sink) -> None:
        with pa.ipc.new_stream(sink, data.schema) as writer:
            writer.write(data)

    mock = pa.MockOutputStream()
    write(mock)
    buf = pa.allocate_buffer(mock.size())
    write(pa.FixedSizeBufferWriter(buf))
    return buf


class WireError(ValueError):
    """Bytes that are not a valid message of the expected type."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(data: memoryview, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(data):
            raise WireError("message ends inside a varint")
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def _fields(data) -> list[tuple[int, int, object, int, int]]:
    """(field number, wire type, value, start, end) of each top-level field; length-delimited values as
    memoryviews of `data`."""
    view = memoryview(data)
    i, out = 0, []
    while i < len(view):
        start = i
        key, i = _read_varint(view, i)
        number, wtype = key >> 3, key & 7
        if wtype == 0:
            value, i = _read_varint(view, i)
        elif wtype == 2:
            length, i = _read_varint(view, i)
            if i + length > len(view):
                raise WireError(f"field {number} says {length} bytes; the message ends first")
            value, i = view[i:i + length], i + length
        elif wtype == 1:
            value, i = view[i:i + 8], i + 8
        elif wtype == 5:
            value, i = view[i:i + 4], i + 4
        else:
            raise WireError(f"field {number} has wire type {wtype}, which protobuf 3 does not use")
        if i > len(view):
            raise WireError("message ends inside a field")
        out.append((number, wtype, value, start, i))
    return out


def _text(value, name: str) -> str:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"{name} is not UTF-8") from None


@dataclass
class ArrowBatchView:
    batch_id: str = ""
    arrow_ipc: memoryview | bytes = b""
    results_only: bool = False
    error: str = ""  # set when the bytes were not an ArrowBatch: the handler answers INVALID_ARGUMENT


def encode_arrow_batch(msg: ArrowBatchView) -> bytes:
    ident = msg.batch_id.encode()
    parts = [b"\x0a", _varint(len(ident)), ident, b"\x12", _varint(len(msg.arrow_ipc)), msg.arrow_ipc]
    if msg.results_only:
        parts.append(b"\x18\x01")
    return b"".join(parts)


def decode_arrow_batch(data: bytes) -> ArrowBatchView:
    out = ArrowBatchView()
    try:
        for number, wtype, value, _, _ in _fields(data):
            if number == 1 and wtype == 2:
                out.batch_id = _text(value, "batch_id")
            elif number == 2 and wtype == 2:
                out.arrow_ipc = value
            elif number == 3 and wtype == 0:
                out.results_only = bool(value)
    except WireError as e:
        out.error = f"the request is not a varde.v1.ArrowBatch message: {e}"
    return out


def encode_scored_batch(item: tuple[scoring_pb2.ScoredBatch, object]) -> bytes:
    """(reply without arrow_ipc, Arrow IPC buffer) -> the ScoredBatch message."""
    reply, ipc = item
    return b"".join([reply.SerializeToString(), b"\x12", _varint(len(ipc)), ipc])


def decode_scored_batch(data: bytes) -> tuple[scoring_pb2.ScoredBatch, memoryview]:
    """The reply (without arrow_ipc) and a view of its Arrow IPC bytes."""
    view = memoryview(data)
    ipc, rest = view[0:0], []
    for number, wtype, value, start, end in _fields(view):
        if number == 2 and wtype == 2:
            ipc = value
        else:
            rest.append(view[start:end])
    reply = scoring_pb2.ScoredBatch()
    reply.ParseFromString(b"".join(rest))  # the small fields, by the generated class
    return reply, ipc
