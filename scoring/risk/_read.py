"""Reading one code from an Arrow list<string> column's buffers: where a row's codes are, whether a slot is
valid, and what a code's bytes say (normalised on the fly, then looked up in a PrefixTable of _codes.py). The
Charlson, condition and polypharmacy kernels all read codes through these.
"""

from __future__ import annotations

import numpy as np

from .._jit import cold, helper
from ._codes import MAX_LEN

POW37 = np.array([37 ** k for k in range(MAX_LEN + 1)], np.int64)
POW37.flags.writeable = False

# Outcome of reading one code. The three a patient's counts report (under-specified, malformed, unknown) have
# bit 2 set: see PROBLEM in _charlson_kernel.py.
EMPTY, MATCHED, NO_GROUP, UNDERSPECIFIED, MALFORMED, UNKNOWN = 0, 1, 2, 4, 5, 6
# max_len of the ATC mode: a letter, 2 digits, 2 letters, 2 digits (levels 1-5: 1, 3, 4, 5, 7 characters).
ATC = 0


@helper
def _space_bytes(data, b, end):
    """How many bytes of whitespace start at data[b] (0: none): what Python's str.isspace() calls whitespace, in
    ASCII or UTF-8 (no-break space and the other Unicode spaces a pasted journal line may carry)."""
    ch = data[b]
    if ch == 32 or (9 <= ch <= 13) or (28 <= ch <= 31):
        return 1
    if ch == 0xC2 and b + 1 < end:
        c1 = data[b + 1]
        return 2 if c1 == 0x85 or c1 == 0xA0 else 0
    if ch == 0xE1 and b + 2 < end:
        return 3 if data[b + 1] == 0x9A and data[b + 2] == 0x80 else 0
    if ch == 0xE2 and b + 2 < end:
        c1 = data[b + 1]
        c2 = data[b + 2]
        if c1 == 0x80 and (0x80 <= c2 <= 0x8A or c2 == 0xA8 or c2 == 0xA9 or c2 == 0xAF):
            return 3
        return 3 if c1 == 0x81 and c2 == 0x9F else 0
    if ch == 0xE3 and b + 2 < end:
        return 3 if data[b + 1] == 0x80 and data[b + 2] == 0x80 else 0
    return 0


@helper
def _valid(bits, off, i):
    if bits.shape[0] == 0:
        return True
    j = np.uint64(off) + np.uint64(i)
    return (bits[j >> np.uint64(3)] >> (j & np.uint64(7))) & np.uint64(1) == np.uint64(1)


@helper
def codes_of(loff, i):
    """The range of row i's codes, unsigned: an index Numba knows is not negative needs no wrap-around select,
    which in the per-code loop cost a quarter of the time of walking the lists."""
    return range(np.uint64(loff[i]), np.uint64(loff[i + 1]))


@helper
def _find(keys, count, key):
    lo = 0
    hi = count
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo < count and keys[lo] == key, lo


@helper
def _plain(data, start, end, max_len, tail_digits):
    """(ok, key, length, key3, key4) of a code written plainly: a letter (either case), two digits, an optional dot,
    then only digits (tail_digits) or letters and digits, at most max_len characters in all. Nearly every code is
    written so; anything else (whitespace, a second dot, a stray byte) is left to the byte-by-byte reading (ok
    False). Branches on whole-code tests, no per-byte classification loop for the rubric."""
    if end - start < 3:
        return False, 0, 0, 0, 0
    u0 = data[start] & 0xDF  # upper case if a letter; no other byte maps into A-Z
    c1 = data[start + 1]
    c2 = data[start + 2]
    if not (65 <= u0 <= 90 and 48 <= c1 <= 57 and 48 <= c2 <= 57):
        return False, 0, 0, 0, 0
    key = ((u0 - 64) * 37 + (c1 - 21)) * 37 + (c2 - 21)  # digits pack as ch - 48 + 27
    key3 = key
    key4 = 0
    length = 3
    b = start + 3
    if b < end and data[b] == 46:
        b += 1
        if b == end:  # "E11.": a trailing dot is dropped like any other
            return length <= max_len, key, length, key3, key4
    while b < end:
        ch = data[b]
        b += 1
        if 48 <= ch <= 57:
            v = ch - 21
        elif not tail_digits and 65 <= (ch & 0xDF) <= 90:
            v = (ch & 0xDF) - 64
        else:
            return False, 0, 0, 0, 0
        if length < MAX_LEN:
            key = key * 37 + v
        length += 1
        if length == 4:
            key4 = key
    return length <= max_len, key, length, key3, key4


@helper
def _normalise(data, start, end, max_len, tail_digits, letters):
    """(outcome, packed key, length, key of the first 3 characters, of the first 4) of the code in data[start:end],
    normalised on the fly; outcome is EMPTY, MALFORMED, UNKNOWN or NO_GROUP (well-formed, not looked up yet).

    Well-formed: a letter, two digits, then up to max_len - 3 more digits (tail_digits) or letters and digits.
    A well-formed code whose letter is not in `letters` (bit k: letter A + k) is UNKNOWN. With max_len == ATC:
    an ATC code of any level (A, A10, A10B, A10BA, A10BA02), matched by prefix.
    """
    atc = max_len == ATC
    if not atc:
        ok, key, length, key3, key4 = _plain(data, start, end, max_len, tail_digits)
        if ok:
            if not (letters >> ((data[start] & 0xDF) - 65)) & 1:
                return UNKNOWN, key, length, key3, key4
            return NO_GROUP, key, length, key3, key4
    length = 0
    key = 0
    key3 = 0
    key4 = 0
    bad = False
    first = 0
    b = start
    while b < end:
        ch = data[b]
        b += 1
        if 97 <= ch <= 122:
            ch -= 32
        # letters and digits first: they are nearly every byte
        if 65 <= ch <= 90:
            v = ch - 64
            if length == 0:
                first = ch - 65
            elif atc:
                if not (length == 3 or length == 4):
                    bad = True
            elif length <= 2 or tail_digits:  # the 2nd and 3rd characters are digits
                bad = True
        elif 48 <= ch <= 57:
            v = ch - 48 + 27
            if length == 0 or (atc and (length == 3 or length == 4)):  # the 1st is a letter
                bad = True
        elif ch == 46:  # dots are dropped
            continue
        else:
            skip = _space_bytes(data, b - 1, end)
            if skip:
                b += skip - 1
                continue
            bad = True
            v = 0
        if length < MAX_LEN:
            key = key * 37 + v
        length += 1
        if length == 3:
            key3 = key
        elif length == 4:
            key4 = key
    if length == 0:
        return EMPTY, key, length, key3, key4
    if atc:
        if bad or length == 2 or length == 6 or length > 7:
            return MALFORMED, key, length, key3, key4
    elif bad or length < 3 or length > max_len:
        return MALFORMED, key, length, key3, key4
    if not (letters >> first) & 1:
        return UNKNOWN, key, length, key3, key4
    return NO_GROUP, key, length, key3, key4


@helper
def _lookup(key, length, key3, key4, keys, masks, counts, lut_masks, lut3, lut4, under3):
    """(outcome, group mask) of a well-formed code in one table: MATCHED, UNDERSPECIFIED or NO_GROUP. key3 and key4
    are the keys of its first 3 and 4 characters (a division per prefix cost more than the rest of the look-up)."""
    found = np.uint64(0)
    if length >= 3:
        found = lut_masks[lut3[key3]]
    if length >= 4:
        found |= lut_masks[lut4[key4]]
    for plen in (1, 2, 5):  # other prefix lengths, by binary search (none in the shipped tables)
        n = counts[plen]
        if n == 0 or plen > length:
            continue
        hit, at = _find(keys[plen], n, key // POW37[length - plen])
        if hit:
            found |= masks[plen, at]
    if found != 0:
        return MATCHED, found
    if length == 3 and under3[key3] != 0:
        return UNDERSPECIFIED, np.uint64(0)
    return NO_GROUP, np.uint64(0)


@cold
def _read_code(data, start, end, max_len, tail_digits, letters, keys, masks, counts, lut_masks, lut3, lut4, under3):
    """(outcome, group mask) of the code in data[start:end] in one table."""
    outcome, key, length, key3, key4 = _normalise(data, start, end, max_len, tail_digits, letters)
    if outcome != NO_GROUP:
        return outcome, np.uint64(0)
    return _lookup(key, length, key3, key4, keys, masks, counts, lut_masks, lut3, lut4, under3)


@helper
def sat16(x):
    """x as int16, at most 32,767: a row with more problem codes than that says 32,767, not a negative count."""
    return np.int16(min(x, 32767))
