"""A Parquet writer that encodes row groups on several threads: pyarrow's writer encodes one column after another
on one core, and a scored file has 16 more columns than its input.

Each batch is written by pyarrow as a complete Parquet file in memory, on a pool thread (pyarrow releases the GIL
while it encodes). The parts are then appended to the output in order: their bytes between the leading magic and
the footer (the row groups, and any page indexes) are copied as they are, and one footer is written at the end
holding every part's row groups with their file offsets moved by where the part landed. Every part is written by
the same writer with the same schema and options, so the schema, key-value metadata (Arrow's schema) and column
orders of the first part hold for all of them.

The footer is Thrift's compact protocol; `_decode`/`_encode` read and write it generically (field id, type, value),
so fields this module does not know pass through unchanged. The offsets moved are those the Parquet format
defines as file positions (parquet.thrift): RowGroup.file_offset, ColumnChunk.file_offset, offset_index_offset,
column_index_offset, and ColumnMetaData's data, index, dictionary page and bloom filter offsets. Page indexes and
encryption are refused: an offset index in the body holds file positions too, and an encrypted footer is opaque.
"""

from __future__ import annotations

import struct
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ParallelParquetWriter"]

_MAGIC = b"PAR1"

# Thrift compact protocol type codes.
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)

# parquet.thrift field ids (FileMetaData, RowGroup, ColumnChunk, ColumnMetaData).
_FMD_NUM_ROWS, _FMD_ROW_GROUPS = 3, 4
_RG_COLUMNS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 5, 7
_CC_FILE_OFFSET, _CC_META, _CC_OFFSET_INDEX, _CC_COLUMN_INDEX = 2, 3, 4, 6
_CMD_OFFSETS = (9, 10, 11, 14)  # data_page_offset, index_page_offset, dictionary_page_offset, bloom_filter_offset

_UNSUPPORTED = {
    "write_page_index": "an offset index in a part's body holds file positions of its own, which are not moved",
    "encryption_properties": "an encrypted footer cannot be read to move its offsets",
}


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def take(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        if len(out) != n:
            raise ValueError("Parquet footer ends inside a value")
        self.pos += n
        return out


def _read_value(r: _Reader, kind: int):
    if kind in (_TRUE, _FALSE):  # a bool inside a list: one byte of its own
        return r.byte()
    if kind == _BYTE:
        return r.byte()
    if kind in (_I16, _I32, _I64):
        return r.zigzag()
    if kind == _DOUBLE:
        return r.take(8)
    if kind == _BINARY:
        return r.take(r.varint())
    if kind in (_LIST, _SET):
        head = r.byte()
        size, elem = head >> 4, head & 0x0F
        if size == 15:
            size = r.varint()
        return elem, [_read_value(r, elem) for _ in range(size)]
    if kind == _MAP:
        size = r.varint()
        if size == 0:
            return 0, []
        types = r.byte()
        k, v = types >> 4, types & 0x0F
        return types, [(_read_value(r, k), _read_value(r, v)) for _ in range(size)]
    if kind == _STRUCT:
        return _read_struct(r)
    raise ValueError(f"Parquet footer holds an unknown Thrift type {kind}")


def _read_struct(r: _Reader) -> list[list]:
    fields, last = [], 0
    while True:
        head = r.byte()
        if head == _STOP:
            return fields
        kind, delta = head & 0x0F, head >> 4
        fid = last + delta if delta else r.zigzag()
        value = kind == _TRUE if kind in (_TRUE, _FALSE) else _read_value(r, kind)
        fields.append([fid, kind, value])
        last = fid


def _decode(data: bytes) -> list[list]:
    return _read_struct(_Reader(data))


def _varint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _zigzag(out: bytearray, n: int) -> None:
    _varint(out, (n << 1) ^ (n >> 63))


def _write_value(out: bytearray, kind: int, value) -> None:
    if kind in (_TRUE, _FALSE, _BYTE):
        out.append(value)
    elif kind in (_I16, _I32, _I64):
        _zigzag(out, value)
    elif kind == _DOUBLE:
        out += value
    elif kind == _BINARY:
        _varint(out, len(value))
        out += value
    elif kind in (_LIST, _SET):
        elem, items = value
        if len(items) < 15:
            out.append(len(items) << 4 | elem)
        else:
            out.append(0xF0 | elem)
            _varint(out, len(items))
        for item in items:
            _write_value(out, elem, item)
    elif kind == _MAP:
        types, items = value
        _varint(out, len(items))
        if items:
            out.append(types)
            for k, v in items:
                _write_value(out, types >> 4, k)
                _write_value(out, types & 0x0F, v)
    elif kind == _STRUCT:
        _write_struct(out, value)
    else:
        raise ValueError(f"unknown Thrift type {kind}")


def _write_struct(out: bytearray, fields: list[list]) -> None:
    last = 0
    for fid, kind, value in fields:
        if kind in (_TRUE, _FALSE):
            kind = _TRUE if value else _FALSE
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | kind)
        else:
            out.append(kind)
            _zigzag(out, fid)
        if kind not in (_TRUE, _FALSE):
            _write_value(out, kind, value)
        last = fid
    out.append(_STOP)


def _encode(fields: list[list]) -> bytes:
    out = bytearray()
    _write_struct(out, fields)
    return bytes(out)


def _field(fields: list[list], fid: int) -> list | None:
    for f in fields:
        if f[0] == fid:
            return f
    return None


def _set(fields: list[list], fid: int, kind: int, value) -> None:
    f = _field(fields, fid)
    if f is not None:
        f[1], f[2] = kind, value
        return
    fields.append([fid, kind, value])
    fields.sort(key=lambda f: f[0])


def _move(fields: list[list], fids, by: int) -> None:
    for f in fields:
        if f[0] in fids and f[1] in (_I32, _I64):
            f[2] += by


def _moved_row_groups(meta: list[list], by: int) -> list[list]:
    """The part's row groups with every file position moved `by` bytes."""
    groups = _field(meta, _FMD_ROW_GROUPS)
    if groups is None:
        return []
    for rg in groups[2][1]:
        _move(rg, (_RG_FILE_OFFSET,), by)
        for chunk in _field(rg, _RG_COLUMNS)[2][1]:
            _move(chunk, (_CC_FILE_OFFSET, _CC_OFFSET_INDEX, _CC_COLUMN_INDEX), by)
            cmd = _field(chunk, _CC_META)
            if cmd is not None:
                _move(cmd[2], _CMD_OFFSETS, by)
    return groups[2][1]


def _encode_part(table: pa.Table, options: dict) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, **options) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _split(part: pa.Buffer) -> tuple[memoryview, bytes]:
    """A part's row-group bytes (everything between the leading magic and the footer) and its footer."""
    data = memoryview(part)
    if len(data) < 12 or data[:4] != _MAGIC or data[-4:] != _MAGIC:
        raise ValueError("pyarrow wrote a Parquet part without its magic bytes")
    (length,) = struct.unpack("<I", data[-8:-4])
    return data[4:len(data) - 8 - length], bytes(data[len(data) - 8 - length:-8])


class ParallelParquetWriter:
    """write_batch() hands the batch to a pool thread and returns; parts are appended in the order written.
    close() writes the footer (and must be called: the file is not Parquet before it)."""

    def __init__(self, path: str, schema: pa.Schema, *, threads: int = 2, **options):
        for option in _UNSUPPORTED:
            if options.get(option):
                raise ValueError(f"ParallelParquetWriter cannot write {option}: {_UNSUPPORTED[option]}")
        self._schema = schema
        self._options = options
        self._threads = max(1, threads)
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="varde-parquet")
        self._pending: deque[Future] = deque()
        self._file = open(path, "wb")  # noqa: SIM115 (closed in close())
        self._file.write(_MAGIC)
        self._pos = len(_MAGIC)
        self._meta: list[list] | None = None
        self._groups: list[list] = []
        self._rows = 0

    def write_batch(self, batch: pa.RecordBatch) -> None:
        if not batch.schema.equals(self._schema):
            raise ValueError(f"batch schema differs from the file's:\n{batch.schema}\nvs\n{self._schema}")
        table = pa.Table.from_batches([batch], self._schema)
        self._pending.append(self._pool.submit(_encode_part, table, self._options))
        # At most one part waits for each thread: memory stays flat in the file's size.
        while len(self._pending) > self._threads or (self._pending and self._pending[0].done()):
            self._append(self._pending.popleft().result())

    def _append(self, part: pa.Buffer) -> None:
        body, footer = _split(part)
        meta = _decode(footer)
        groups = _moved_row_groups(meta, self._pos - len(_MAGIC))
        self._file.write(body)
        self._pos += len(body)
        if self._meta is None:
            self._meta = meta
        self._groups.extend(groups)
        rows = _field(meta, _FMD_NUM_ROWS)
        self._rows += rows[2] if rows is not None else 0

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            while self._pending:
                self._append(self._pending.popleft().result())
            if self._meta is None:  # nothing written: the footer of an empty file
                _, footer = _split(_encode_part(self._schema.empty_table(), self._options))
                self._meta = _decode(footer)
            for i, rg in enumerate(self._groups):
                if _field(rg, _RG_ORDINAL) is not None:  # an i16: past its range, no ordinal rather than a wrong one
                    if i < 32768:
                        _set(rg, _RG_ORDINAL, _I16, i)
                    else:
                        rg[:] = [f for f in rg if f[0] != _RG_ORDINAL]
            _set(self._meta, _FMD_NUM_ROWS, _I64, self._rows)
            _set(self._meta, _FMD_ROW_GROUPS, _LIST, (_STRUCT, self._groups))
            footer = _encode(self._meta)
            self._file.write(footer)
            self._file.write(struct.pack("<I", len(footer)))
            self._file.write(_MAGIC)
        finally:
            for f in self._pending:
                f.cancel()
            self._pool.shutdown(wait=True)
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
