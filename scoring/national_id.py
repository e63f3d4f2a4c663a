"""Which Norwegian national identity numbers are malformed: a check of the digits, never a look-up.

A value passes when it is exactly 11 ASCII digits (no spaces or separators) and is one of:
- a fødselsnummer, D-number (day + 40), H-number or synthetic test number (month + 40 or + 80), or a D-number
  with a synthetic month: after taking the marks off, DDMMYY is a real date in 18YY, 19YY or 20YY; the weighted
  sum of digits 1-10 (weights 3 7 6 1 8 9 4 5 2 1) leaves 0, 1, 2 or 3 modulo 11 (0 before 2032, 0-3 for numbers
  issued from 1 January 2032); the weighted sum of all 11 digits (5 4 3 2 7 6 5 4 3 2 1) leaves 0;
- a felles hjelpenummer (Norsk helsenett): first digit 8 or 9, no date; both sums leave 0.

The individual number is not checked against a century, and no age or sex is ever read from a number: from 2032
neither is encoded in it. Sources and a worked example: docs/national-id.md.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import _national_id_kernel as K
from ._jit import PARALLEL_LOCK  # one parallel kernel at a time, whatever it computes
from .arrow import readonly, validity
from .news2 import SERIAL_BELOW  # the same threshold as NEWS2

__all__ = ["check_national_ids", "is_valid_national_id", "warm_up"]

_NO_DATA = readonly(np.zeros(1, np.uint8))  # an all-empty column has no data bytes; keeps the kernel's reads in bounds
_NO_NULLS = readonly(np.empty(0, np.uint8))


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _codes(arr: pa.Array, run_parallel: bool) -> np.ndarray:
    """The kernel's code per row (K.VALID, K.INVALID, K.NULL) of a plain string array, zero-copy."""
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    offsets_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bufs = arr.buffers()
    n = len(arr)
    if bufs[1] is None:  # only an empty array may come without offsets
        offsets = readonly(np.zeros(n + 1, offsets_type))
    else:
        size = np.dtype(offsets_type).itemsize
        offsets = readonly(np.frombuffer(bufs[1], offsets_type, count=n + 1, offset=arr.offset * size))
    data = readonly(np.frombuffer(bufs[2], np.uint8)) if bufs[2] is not None and bufs[2].size else _NO_DATA
    valid, voff = validity(arr)
    out = np.empty(n, np.int8)
    if run_parallel:
        with PARALLEL_LOCK:
            K.check_parallel(offsets, data, valid, voff, out)
    else:
        K.check_serial(offsets, data, valid, voff, out)
    return out


def _check_chunk(arr: pa.Array, force: bool | None) -> np.ndarray:
    t = arr.type
    if pa.types.is_null(t):
        return np.zeros(len(arr), np.bool_)
    if pa.types.is_dictionary(t):
        # Each distinct value is checked once; rows take their value's answer (a null index is not checked).
        bad = _check_chunk(arr.dictionary, force)
        indices = arr.indices
        if len(bad) == 0:
            return np.zeros(len(arr), np.bool_)
        out = bad[indices.fill_null(0).to_numpy()]
        if indices.null_count:
            out &= indices.is_valid().to_numpy(zero_copy_only=False)
        return out
    run_parallel = len(arr) >= SERIAL_BELOW if force is None else force
    return _codes(arr, run_parallel) == K.INVALID


def _check_type(t: pa.DataType) -> None:
    value = t.value_type if pa.types.is_dictionary(t) else t
    if not (_is_text(value) or pa.types.is_null(value)):
        raise TypeError(
            f"national identity numbers must be text (string, large_string, string_view or a dictionary of "
            f"strings), not {t}"
        )


def check_national_ids(array: pa.Array | pa.ChunkedArray, *, parallel: bool | None = None) -> np.ndarray:
    """True where a value is present and is not a valid number; a null is False (a missing id is reported
    elsewhere). `parallel` forces the parallel (True) or serial (False) kernel; by default arrays under
    SERIAL_BELOW rows run serially.
    """
    if not isinstance(array, (pa.Array, pa.ChunkedArray)):
        raise TypeError(f"check_national_ids takes a pyarrow Array or ChunkedArray, not {type(array).__name__}")
    _check_type(array.type)
    if isinstance(array, pa.Array):
        return _check_chunk(array, parallel)
    parts = [_check_chunk(chunk, parallel) for chunk in array.chunks]
    return np.concatenate(parts) if parts else np.zeros(0, np.bool_)


_ONE = readonly(np.array([0, 11], np.int32))


def is_valid_national_id(text: str) -> bool:
    """One value, for callers that hold no Arrow data; the column kernel itself, so the answers cannot drift."""
    if not isinstance(text, str):
        raise TypeError(f"is_valid_national_id takes a str, not {type(text).__name__}")
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) != 11:
        return False
    out = np.empty(1, np.int8)
    K.check_serial(_ONE, readonly(np.frombuffer(raw, np.uint8)), _NO_NULLS, 0, out)
    return bool(out[0] == K.VALID)


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel variant, so that no request pays for it."""
    values = ["01010000000", None, "x"]
    for t in (pa.string(), pa.large_string()):
        arr = pa.array(values, t)
        for run_parallel in (False, True):
            check_national_ids(arr, parallel=run_parallel)
    is_valid_national_id("01010000000")
