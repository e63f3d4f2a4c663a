"""Polypharmacy kernel: distinct ATC substances per patient from an Arrow list<string> column, read in place."""

from __future__ import annotations

import numba
import numpy as np

from .._jit import helper, parallel, prange, serial
from ._charlson_kernel import _space_bytes, _valid
from ._memo import look_up, remember, shift_of

BLOCK = 1024

# ATC level-5 code: letter, 2 digits, 2 letters, 2 digits (A10BA02); levels 1-4 are its first 1, 3, 4, 5 characters.
SUBSTANCE, UNDERSPECIFIED, MALFORMED, EMPTY = 0, 1, 2, 3


@helper
def _is_letter(ch):
    return 65 <= (ch & 0xDF) <= 90  # either case; no other byte maps into A-Z


@helper
def _is_digit(ch):
    return 48 <= ch <= 57


@helper
def _atc(data, start, end):
    """(outcome, packed key) of one ATC code, normalised on the fly (upper case; dots and whitespace dropped).
    A substance written plainly (seven characters: letter, 2 digits, 2 letters, 2 digits), as nearly every code
    is, is packed at once; anything else is read byte by byte."""
    if end - start == 7:
        c0, c1, c2, c3 = data[start], data[start + 1], data[start + 2], data[start + 3]
        c4, c5, c6 = data[start + 4], data[start + 5], data[start + 6]
        if (_is_letter(c0) and _is_digit(c1) and _is_digit(c2) and _is_letter(c3) and _is_letter(c4)
                and _is_digit(c5) and _is_digit(c6)):
            key = np.int64((c0 & 0xDF) - 64)
            key = key * 37 + (c1 - 21)
            key = key * 37 + (c2 - 21)
            key = key * 37 + ((c3 & 0xDF) - 64)
            key = key * 37 + ((c4 & 0xDF) - 64)
            key = key * 37 + (c5 - 21)
            key = key * 37 + (c6 - 21)
            return SUBSTANCE, key
    length = 0
    key = np.int64(0)
    bad = False
    b = start
    while b < end:
        ch = data[b]
        b += 1
        if 97 <= ch <= 122:
            ch -= 32
        if not (65 <= ch <= 90 or 48 <= ch <= 57):  # rare: a dot, whitespace or a stray character
            if ch == 46:
                continue
            skip = _space_bytes(data, b - 1, end)
            if skip:
                b += skip - 1
                continue
        if length >= 7:
            bad = True
            length += 1
            continue
        letter_here = length == 0 or length == 3 or length == 4
        if 65 <= ch <= 90 and letter_here:
            key = key * 37 + (ch - 64)
        elif 48 <= ch <= 57 and not letter_here:
            key = key * 37 + (ch - 48 + 27)
        else:
            bad = True
        length += 1
    if length == 0:
        return EMPTY, key
    if bad or length == 2 or length == 6 or length > 7:
        return MALFORMED, key
    if length == 7:
        return SUBSTANCE, key
    return UNDERSPECIFIED, key


@serial
def atc_serial(lo, hi, loff, lbits, lvoff, soff, data, sbits, svoff, seen, memo, count, n_under, n_malformed):
    """`seen`: scratch for one patient's substance keys (as long as the longest list). memo: a table of _memo.py
    (width 2: key, substance key * 4 + outcome) that this call alone writes."""
    shift = shift_of(memo)
    for i in range(lo, hi):
        if not _valid(lbits, lvoff, i):
            continue
        k = 0
        under = 0
        malformed = 0
        for j in range(loff[i], loff[i + 1]):
            if not _valid(sbits, svoff, j):
                continue
            start = soff[j]
            end = soff[j + 1]
            raw, hit, slot = look_up(memo, shift, data, start, end)
            if hit:
                value = memo[slot, 1]
                outcome = np.int64(value & np.uint64(3))
                key = np.int64(value >> np.uint64(2))
            else:
                outcome, key = _atc(data, start, end)
                remember(memo, slot, raw, (np.uint64(key) << np.uint64(2)) | np.uint64(outcome))
            if outcome == SUBSTANCE:
                new = True  # the same substance twice counts once (a patient's lists are short)
                for q in range(k):
                    if seen[q] == key:
                        new = False
                        break
                if new:
                    seen[k] = key
                    k += 1
            under += outcome == UNDERSPECIFIED
            malformed += outcome == MALFORMED
        count[i] += k
        n_under[i] += under
        n_malformed[i] += malformed


@parallel
def atc_parallel(n, loff, lbits, lvoff, soff, data, sbits, svoff, seen, memos, count, n_under, n_malformed):
    """seen: one scratch row per block; memos: one table per thread of Numba's pool."""
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        atc_serial(b * BLOCK, min(n, (b + 1) * BLOCK), loff, lbits, lvoff, soff, data, sbits, svoff, seen[b],
                   memos[numba.get_thread_id()], count, n_under, n_malformed)
