"""Arrow list<string> columns as the kernels read them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..arrow import one_array, readonly
from ..schema import SchemaError

__all__ = ["list_column"]

_EMPTY = readonly(np.empty(0, np.uint8))


def list_column(arr: pa.Array | pa.ChunkedArray | None, name: str) -> tuple | None:
    """The kernel's view of a list<string> column: (list offsets, list validity, bit offset, code offsets,
    code bytes, code validity, bit offset), every buffer read in place. list<string> (32-bit offsets, what Parquet
    and most clients send) and large_list<large_string> are read as they are: the kernels are compiled for both
    widths, and widening the offsets cost ~6 ms per million patients' codes, a fifth of the matching. Any other
    layout (views, dictionaries, mixed widths) is cast to large_list<large_string> first."""
    if arr is None:
        return None
    arr = one_array(arr)
    t = arr.type
    if pa.types.is_null(t):
        return None
    if not (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t)
            or pa.types.is_large_list_view(t)) or not _is_text(t.value_type):
        raise SchemaError(f"column {name!r} has type {t}; it must be a list of codes (list<string>)", column=name)
    if pa.types.is_list(t) and pa.types.is_string(t.value_type):
        width = np.int32
    elif pa.types.is_large_list(t) and pa.types.is_large_string(t.value_type):
        width = np.int64
    else:
        arr = arr.cast(pa.large_list(pa.large_string()))
        width = np.int64
    offsets = readonly(arr.offsets.to_numpy())
    lbits = arr.buffers()[0]
    child = arr.values
    cbits = child.buffers()[0]
    data = child.buffers()[2]
    size = np.dtype(width).itemsize
    return (
        offsets,
        _EMPTY if lbits is None or arr.null_count == 0 else readonly(np.frombuffer(lbits, np.uint8)), arr.offset,
        readonly(np.frombuffer(child.buffers()[1], width, count=len(child) + 1, offset=child.offset * size)),
        readonly(np.frombuffer(data, np.uint8)) if data is not None and data.size else readonly(np.zeros(1, np.uint8)),
        _EMPTY if cbits is None or child.null_count == 0 else readonly(np.frombuffer(cbits, np.uint8)), child.offset,
    )


def _is_text(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
            or (pa.types.is_dictionary(t) and _is_text(t.value_type)))
