"""Dictionary index bounds: the one check of a full Arrow validation that costs real time (about 3 ns a row in
pyarrow, a third of scoring a batch), done here vectorised. One thread is enough: the check runs at memory speed
(10M int32 indices in 2.8 ms; a parallel twin saved 1.4 ms and cost 8 s of compiling at first start).

Arguments: the indices (any integer type, zero-copy), the validity bitmap and its bit offset (empty: no nulls),
and the dictionary's length. Null slots may hold any index, as the Arrow format allows.
"""

from __future__ import annotations

import numpy as np

from ._jit import serial


@serial
def out_of_bounds(idx, bits, boff, size):
    """How many valid slots hold an index outside [0, size)."""
    info = np.iinfo(idx.dtype)
    # A dictionary longer than the index type can count has no index too large, only negative ones.
    beyond = size > info.max
    hi = idx.dtype.type(min(size, info.max))
    zero = idx.dtype.type(0)
    bad = 0
    for i in range(np.uint64(0), np.uint64(idx.size)):
        v = idx[i]
        bad += ((v < zero) | ((v >= hi) & (not beyond)))
    if bad == 0 or bits.size == 0:
        return bad
    # Some index is out of bounds: count again, now only under valid slots (nulls may hold anything). Reading a
    # bit per row does not vectorise, so this runs only when the fast count found something.
    bad = 0
    for i in range(np.uint64(0), np.uint64(idx.size)):
        j = np.uint64(boff) + i
        valid = ((bits[j >> np.uint64(3)] >> (j & np.uint64(7))) & np.uint8(1)) != 0
        v = idx[i]
        bad += valid & ((v < zero) | ((v >= hi) & (not beyond)))
    return bad

