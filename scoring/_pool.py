"""Large kernel outputs in Arrow's memory pool, not in pages the operating system maps afresh on every call.

numpy takes a million patients' outputs (~25 MB a Charlson call) from glibc's malloc, which gives memory that
large back to the system when it is freed; the next call's arrays are then new pages, and the first write to each
4 KiB page is a page fault. On a 2-core cloud VM that was ~6,000 faults and 25 ms per call, more than the scoring
(charlson_columns, 1M patients: 40 -> 15 ms). Arrow's pool (mimalloc or jemalloc) keeps freed memory for the next
call, and an Arrow array made from these arrays wraps them without a copy.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

__all__ = ["empty", "full", "zeros"]


def empty(shape: int | tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised, writable, C-contiguous array in Arrow's default memory pool (64-byte aligned)."""
    dtype = np.dtype(dtype)
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)  # numpy integers too
    count = math.prod(shape)
    buf = pa.allocate_buffer(max(count * dtype.itemsize, 1))
    return np.frombuffer(buf, dtype, count=count).reshape(shape)


def full(shape: int | tuple[int, ...], value, dtype) -> np.ndarray:
    out = empty(shape, dtype)
    out.fill(value)
    return out


def zeros(shape: int | tuple[int, ...], dtype) -> np.ndarray:
    return full(shape, 0, dtype)
