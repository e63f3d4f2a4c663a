"""Norwegian national identity number kernels: an Arrow string column's buffers in, one code per row out.

The rules are written out in docs/national-id.md. Arguments are the column's offsets (int32, or int64 for
large_string), its UTF-8 data bytes, its validity bitmap (empty: every row is valid) and the bitmap's bit
offset. Only ASCII digits pass, so the kernel never decodes UTF-8: any other byte fails the digit test.
"""

from __future__ import annotations

import numpy as np

from ._jit import helper, parallel, prange, serial

VALID = 0
INVALID = 1
NULL = 2

# Days in each month (index 1-12), February in a leap year. DDMMYY carries no century, and 29 February exists in
# one of 18YY, 19YY and 20YY exactly when YY % 4 == 0 (20YY is then a leap year: 2000 was one).
DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
DAYS_IN_MONTH.flags.writeable = False


@helper
def _bit(bits, offset, i):
    j = np.uint64(offset) + np.uint64(i)
    return (bits[j >> 3] >> (j & 7)) & 1


@helper
def _date_ok(dd, mm, yy):
    """A real date in some century, after taking off the D-number (+40 day) and synthetic (+40, +80 month) marks."""
    if dd > 40:
        dd -= 40
    if mm > 80:
        mm -= 80
    elif mm > 40:
        mm -= 40
    if dd < 1 or mm < 1 or mm > 12 or dd > DAYS_IN_MONTH[mm]:
        return False
    return not (mm == 2 and dd == 29 and yy % 4 != 0)


@helper
def _digit(data, j):
    """The digit at byte j, or 10 for any other byte (a wrapped unsigned subtraction catches both sides)."""
    d = np.uint64(data[j]) - np.uint64(48)
    return np.int64(d) if d <= 9 else np.int64(10)


@helper
def _check(offsets, data, i):
    a = np.int64(offsets[i])
    if np.int64(offsets[i + 1]) - a != 11:
        return INVALID
    d0 = _digit(data, a)
    d1 = _digit(data, a + 1)
    d2 = _digit(data, a + 2)
    d3 = _digit(data, a + 3)
    d4 = _digit(data, a + 4)
    d5 = _digit(data, a + 5)
    i1 = _digit(data, a + 6)
    i2 = _digit(data, a + 7)
    i3 = _digit(data, a + 8)
    k1 = _digit(data, a + 9)
    k2 = _digit(data, a + 10)
    if max(max(max(d0, d1), max(d2, d3)), max(max(d4, d5), max(max(i1, i2), max(max(i3, k1), k2)))) > 9:
        return INVALID
    # Weighted sums including the control digit (weight 1): the first must leave 0-3 (only 0 before 2032, but a
    # number does not say when it was issued), the second 0.
    r1 = (3 * d0 + 7 * d1 + 6 * d2 + d3 + 8 * d4 + 9 * d5 + 4 * i1 + 5 * i2 + 2 * i3 + k1) % 11
    r2 = (5 * d0 + 4 * d1 + 3 * d2 + 2 * d3 + 7 * d4 + 6 * d5 + 5 * i1 + 4 * i2 + 3 * i3 + 2 * k1 + k2) % 11
    if r2 != 0 or r1 > 3:
        return INVALID
    if d0 >= 8:
        # Felles hjelpenummer (Norsk helsenett): random digits, no date; control digits as a classic number.
        return VALID if r1 == 0 else INVALID
    return VALID if _date_ok(d0 * 10 + d1, d2 * 10 + d3, d4 * 10 + d5) else INVALID


@helper
def _row(i, offsets, data, valid, voff, out):
    if valid.size != 0 and _bit(valid, voff, i) == 0:
        out[i] = NULL
    else:
        out[i] = _check(offsets, data, i)


@serial
def check_serial(offsets, data, valid, voff, out):
    for i in range(out.size):
        _row(i, offsets, data, valid, voff, out)


@parallel
def check_parallel(offsets, data, valid, voff, out):
    """check_serial with rows spread over Numba's threads; each row writes its own byte."""
    for i in prange(out.size):
        _row(i, offsets, data, valid, voff, out)
