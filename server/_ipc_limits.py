"""What an Arrow IPC request will cost, known before it is read: its record batches, and how large its compressed
buffers say they become.

pyarrow inflates a compressed buffer to whatever size the stream declares, before anything can look at the rows:
17 KB of zstd can ask for gigabytes. So the messages' metadata (flatbuffers) is read here, with every offset checked,
and the request refused if it would inflate past the limit or carry too many batches (each costs a kernel call).
"""

from __future__ import annotations

import struct

import grpc
import pyarrow as pa

from .errors import RequestError

__all__ = ["check_ipc"]

_RECORD_BATCH, _DICTIONARY_BATCH = 3, 2  # MessageHeader union types (Arrow format/Message.fbs)


class _Malformed(Exception):
    pass


class _Flat:
    """Just enough of the flatbuffers wire format to read Message -> RecordBatch -> buffers, bounds-checked."""

    def __init__(self, data: bytes):
        self.b = data

    def _get(self, fmt: str, pos: int):
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.b):
            raise _Malformed
        return struct.unpack_from(fmt, self.b, pos)[0]

    def root(self) -> int:
        return self._get("<I", 0)

    def field(self, table: int, index: int) -> int | None:
        """Position of a table's field `index`, or None when absent."""
        vtable = table - self._get("<i", table)
        size = self._get("<H", vtable)
        slot = 4 + 2 * index
        if slot + 2 > size:
            return None
        offset = self._get("<H", vtable + slot)
        return table + offset if offset else None

    def ref(self, pos: int) -> int:
        """Follow an offset (a sub-table or a vector)."""
        return pos + self._get("<I", pos)

    def u8(self, pos: int) -> int:
        return self._get("<B", pos)

    def i64(self, pos: int) -> int:
        return self._get("<q", pos)

    def u32(self, pos: int) -> int:
        return self._get("<I", pos)


def _inflated(flat: _Flat, batch: int, body: pa.Buffer | None) -> int:
    """Bytes the record batch's buffers take once read: their declared uncompressed sizes if compressed."""
    buffers_at = flat.field(batch, 2)
    if buffers_at is None:
        return 0
    vector = flat.ref(buffers_at)
    count = flat.u32(vector)
    compressed = flat.field(batch, 3) is not None
    view = memoryview(body) if body is not None else memoryview(b"")
    total = 0
    for i in range(count):
        offset, length = flat.i64(vector + 4 + 16 * i), flat.i64(vector + 12 + 16 * i)
        if offset < 0 or length < 0 or offset + length > len(view):
            raise _Malformed
        if compressed and length >= 8:
            declared = struct.unpack_from("<q", view, offset)[0]
            total += length - 8 if declared == -1 else max(declared, 0)
        else:
            total += length
    return total


def check_ipc(data, *, max_batches: int, max_inflated_bytes: int) -> None:
    """Raise RESOURCE_EXHAUSTED if the stream holds more than `max_batches` record batches or its buffers would take
    more than `max_inflated_bytes` once decompressed. A stream too broken to tell is left for pyarrow to refuse."""
    batches = inflated = 0
    try:
        reader = pa.ipc.MessageReader.open_stream(pa.py_buffer(data))
        for message in reader:
            if message.type not in ("record batch", "dictionary batch"):
                continue
            flat = _Flat(message.metadata.to_pybytes())
            msg = flat.root()
            header_type = flat.field(msg, 1)
            header = flat.field(msg, 2)
            if header_type is None or header is None:
                continue
            table = flat.ref(header)
            if flat.u8(header_type) == _DICTIONARY_BATCH:
                data_at = flat.field(table, 1)
                if data_at is None:
                    continue
                table = flat.ref(data_at)
            elif flat.u8(header_type) == _RECORD_BATCH:
                batches += 1
            inflated += _inflated(flat, table, message.body)
            if batches > max_batches:
                raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"the request holds more than {max_batches:,} record batches; send fewer, larger "
                                   "batches (each costs a kernel call)", field="arrow_ipc")
            if inflated > max_inflated_bytes:
                raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"the request's buffers would take more than {max_inflated_bytes:,} bytes once "
                                   "decompressed; send smaller batches", field="arrow_ipc")
    except _Malformed:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "arrow_ipc holds a record batch whose metadata points "
                           "outside the message; it is not a valid Arrow IPC stream", field="arrow_ipc") from None
    except (pa.ArrowException, OSError, EOFError, ValueError):
        return  # unreadable framing: reading it fails with its own clear error
