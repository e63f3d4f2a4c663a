"""Zero-copy views of Arrow columns for the kernels, and Arrow arrays from the kernels' outputs.

A column reaches a kernel as one fixed-shape tuple, whatever its Arrow type: (kind, data, bit_offset, validity,
validity_offset), where `data` is the column's value bytes (uint8) and `kind` says how to read them; the
kernel reinterprets them in place (`data.view(...)`). This gives every kernel a single compiled signature, so no
client's choice of integer width or float precision costs a compile at request time, and a small one, which
keeps compile times short. All arrays are read-only: Arrow buffers are immutable, and Numba types read-only
arrays separately, so mixing them would compile a second signature.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import _dictionary_kernel as D
from .schema import SchemaError

__all__ = [
    "ABSENT",
    "BOOL",
    "F32",
    "F64",
    "bool_array",
    "check_schema",
    "dictionary_array",
    "int8_array",
    "numeric_column",
    "readonly",
    "string_array",
    "valid_mask",
    "validate_column",
    "validity",
]

# Kinds: which view of the tuple holds the values.
ABSENT, F64, F32, I64, I32, I16, I8, BOOL = -1, 0, 1, 2, 3, 4, 5, 6

_DIRECT = {
    pa.float64(): (F64, np.float64),
    pa.float32(): (F32, np.float32),
    pa.int64(): (I64, np.int64),
    pa.int32(): (I32, np.int32),
    pa.int16(): (I16, np.int16),
    pa.int8(): (I8, np.int8),
}
# Types that hold the values but have no view of their own: widened once (a copy, on the rare path).
_WIDEN = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.float64(),  # cast unchecked: a value past 2**53 is out of every range anyway
    pa.float16(): pa.float32(),
}


def one_array(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one Array: a ChunkedArray of one chunk is that chunk (combine_chunks copies even then: ~4 ms per
    million lists of codes)."""
    if not isinstance(col, pa.ChunkedArray):
        return col
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


_EMPTY_U8 = readonly(np.empty(0, np.uint8))


def validity(arr: pa.Array) -> tuple[np.ndarray, int]:
    """The validity bitmap and its bit offset; an empty bitmap means every slot is valid."""
    buf = arr.buffers()[0]
    if buf is None or arr.null_count == 0:
        return _EMPTY_U8, 0
    return readonly(np.frombuffer(buf, np.uint8)), arr.offset


def valid_mask(arr: pa.Array) -> np.ndarray | None:
    """A bool per slot, True where valid, from the validity bitmap (None: no nulls). pyarrow's is_valid() and
    to_numpy() of a boolean array go one slot at a time."""
    if arr.null_count == 0:
        return None
    bits = np.frombuffer(arr.buffers()[0], np.uint8)
    return np.unpackbits(bits, count=arr.offset + len(arr), bitorder="little")[arr.offset:].view(np.bool_)


def _bytes(buf: pa.Buffer, itemsize: int, offset: int, length: int) -> np.ndarray:
    # Buffers pyarrow allocated itself are mutable, so numpy's view would be writable: mark every view read-only.
    return readonly(np.frombuffer(buf, np.uint8, count=length * itemsize, offset=offset * itemsize))


# Arrow types pyarrow reads from IPC but has no array class for (Type::INTERVAL_MONTHS, INTERVAL_DAY_TIME).
_NO_ARRAY_CLASS = ("month_interval", "day_time_interval")


def check_schema(schema: pa.Schema) -> None:
    """What pyarrow needs to read a schema from an untrusted Arrow IPC stream in Python: every field name (nested
    ones too) and time zone UTF-8 text, and every type one pyarrow has an array class for. The stream may carry any
    bytes as text (pyarrow then raises UnicodeDecodeError wherever it is read, also inside its own errors) and types
    such as day_time_interval that other Arrow libraries write (pyarrow raises KeyError on touching the column)."""

    def text(obj, attribute: str) -> bool:
        try:
            getattr(obj, attribute)
        except UnicodeDecodeError:
            return False
        return True

    def walk(t: pa.DataType, column: str) -> None:
        if str(t) in _NO_ARRAY_CLASS:
            raise SchemaError(f"column {column!r} has type {t}, which Varde cannot read; send it as another type "
                              "or leave it out", column=column)
        if pa.types.is_dictionary(t):
            walk(t.value_type, column)
            return
        if pa.types.is_timestamp(t) and not text(t, "tz"):
            raise SchemaError(f"a time zone in column {column!r} is not UTF-8 text", column=column)
        for i in range(t.num_fields):
            child = t.field(i)
            if not text(child, "name"):
                raise SchemaError(f"the name of field {i} inside column {column!r} is not UTF-8 text", column=column)
            walk(child.type, column)

    for i in range(len(schema)):
        field = schema.field(i)
        if not text(field, "name"):
            raise SchemaError(f"the name of column {i} is not UTF-8 text; Arrow field names are UTF-8")
        walk(field.type, field.name)


def numeric_column(arr: pa.Array | None, name: str) -> tuple:
    """The kernel's view of a column of numbers (or booleans); None gives an absent column."""
    if arr is None:
        return _absent()
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_null(t):
        arr = pa.array([None] * len(arr), pa.float64()) if len(arr) < 1024 else arr.cast(pa.float64())
        t = arr.type
    if t in _WIDEN:
        arr = arr.cast(_WIDEN[t], safe=False)
        t = arr.type
    elif pa.types.is_decimal(t):
        arr = arr.cast(pa.float64())
        t = arr.type
    valid, voff = validity(arr)
    if pa.types.is_boolean(t):
        return (BOOL, readonly(np.frombuffer(arr.buffers()[1], np.uint8)), arr.offset, valid, voff)
    if t not in _DIRECT:
        raise SchemaError(
            f"column {name!r} has type {t}; it must hold numbers (any integer or float type)", column=name
        )
    kind, dtype = _DIRECT[t]
    return (kind, _bytes(arr.buffers()[1], np.dtype(dtype).itemsize, arr.offset, len(arr)), 0, valid, voff)


def _absent() -> tuple:
    return (ABSENT, _EMPTY_U8, 0, _EMPTY_U8, 0)


def string_array(values: list[str] | tuple[str, ...]) -> pa.Array:
    """Strings (no nulls) built from their buffers: pa.array() imports pandas, where it is installed, on its first
    call, and that was 0.15 s of every `varde score` start."""
    data = [v.encode() for v in values]
    offsets = np.zeros(len(data) + 1, np.int32)
    np.cumsum(np.fromiter((len(d) for d in data), np.int64, len(data)), out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def int8_array(values: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    bufs = [None if valid is None else pa.py_buffer(valid), pa.py_buffer(values)]
    return pa.Array.from_buffers(pa.int8(), len(values), bufs, null_count=-1)


def bool_array(bits: np.ndarray, valid: np.ndarray | None, length: int) -> pa.Array:
    bufs = [None if valid is None else pa.py_buffer(valid), pa.py_buffer(bits)]
    return pa.Array.from_buffers(pa.bool_(), length, bufs, null_count=-1)


def dictionary_array(codes: np.ndarray, valid: np.ndarray | None, dictionary: pa.Array) -> pa.Array:
    # safe=False: the kernel writes only codes inside the dictionary; checking them again is a pass for nothing.
    return pa.DictionaryArray.from_arrays(int8_array(codes, valid), dictionary, safe=False)



def validate_column(arr: pa.Array | pa.ChunkedArray, name: str) -> None:
    """Raise SchemaError unless the column holds what its metadata claims: pyarrow's full validation, with the
    bounds of dictionary indices checked by a kernel instead (pyarrow's check of them cost 30 ms per 10M rows,
    as much as scoring them). A batch read from an Arrow IPC stream is not validated when pyarrow reads it;
    kernels read columns in place without bounds checks, and columns passed through go back to the caller,
    whose next Arrow call on them (a take, a cast) would read outside their buffers too."""
    if isinstance(arr, pa.ChunkedArray):
        for chunk in arr.chunks:
            validate_column(chunk, name)
        return
    try:
        if not pa.types.is_dictionary(arr.type):
            arr.validate(full=True)
            return
        arr.validate()
        arr.dictionary.validate(full=True)
        indices = arr.indices
        values = _index_view(indices)
        bits, offset = validity(indices)
        bad = D.out_of_bounds(values, bits, offset, len(arr.dictionary))
    except pa.ArrowException as e:
        raise SchemaError(f"column {name!r} is not valid Arrow data ({e})", column=name) from None
    if bad:
        raise SchemaError(f"column {name!r} is not valid Arrow data ({bad} dictionary indices are outside the "
                          f"dictionary of {len(arr.dictionary)} values)", column=name)


def _index_view(indices: pa.Array) -> np.ndarray:
    """Dictionary indices as one of the four signed types the kernel is compiled for. uint8 and uint16 are
    widened (a copy); uint32 and uint64 are read as signed, so an index of 2**31 (2**63) or more reads as
    negative and is refused: no dictionary that large can be sent."""
    t = indices.type
    signed = np.dtype(t.to_pandas_dtype())
    values = _bytes(indices.buffers()[1], t.bit_width // 8, indices.offset, len(indices)).view(signed)
    if signed.kind == "u":
        if signed.itemsize <= 2:
            return readonly(values.astype(np.int32))
        values = values.view(np.dtype(f"i{signed.itemsize}"))
    return values
