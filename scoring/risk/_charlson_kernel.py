"""Charlson kernels: Arrow list<string> buffers in, a group bitmask and code counts per patient out.

Column arguments (see charlson.py): list offsets (int64), list validity bits and bit offset, code offsets (int64),
code bytes (uint8), code validity bits and bit offset. A table is the PrefixTable arrays (keys, masks, counts,
under) of _codes.py.
"""

from __future__ import annotations

import numba
import numpy as np

from .._jit import cold, helper, parallel, prange, serial
from ._charlson_finish import finish_row
from ._codes import MAX_LEN
from ._memo import look_up, pack, remember, shift_of, unpack
from ._walk import BLOCK, ONE, keep_mask, row_marks

POW37 = np.array([37 ** k for k in range(MAX_LEN + 1)], np.int64)
POW37.flags.writeable = False

# Outcome of reading one code. The three a patient's counts report have bit 2 set: in a memo word (_memo.pack)
# that is bit 63, so OR-ing a row's words says whether the row has any (PROBLEM) without a test per code.
EMPTY, MATCHED, NO_GROUP, UNDERSPECIFIED, MALFORMED, UNKNOWN = 0, 1, 2, 4, 5, 6
PROBLEM = np.uint64(1 << 63)
GROUPS = np.uint64((1 << 61) - 1)
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


@helper
def _code_word(memo, shift, data, start, end, max_len, tail_digits, letters, keys, masks, counts, lut_masks, lut3,
               lut4, under3):
    """The memo word (_memo.pack) of the code in data[start:end]: remembered, or read and remembered."""
    key, hit, slot = look_up(memo, shift, data, start, end)
    if hit:
        return memo[np.uint64(slot), 1]
    outcome, found = _read_code(data, start, end, max_len, tail_digits, letters, keys, masks, counts, lut_masks,
                                lut3, lut4, under3)
    word = pack(outcome, found)
    remember(memo, slot, key, word)
    return word


@helper
def _count_problems(i, col, memo, shift, max_len, tail_digits, letters, keys, masks, counts, lut_masks, lut3, lut4,
                    under3, n_unknown, n_under, n_malformed):
    """Adds row i's under-specified, malformed and unknown codes to its counts: a second pass over the few rows
    whose words say they have any (a test per code cost a fifth of the matching). memo: the first pass's, of any
    width (column 1: the word of the table given). That pass remembered every code of the row that could be, so a
    code missed here finds no free slot, and nothing is written."""
    loff, lbits, lvoff, soff, data, sbits, svoff = col
    under = 0
    malformed = 0
    unknown = 0
    for j in codes_of(loff, i):
        if not _valid(sbits, svoff, j):
            continue
        outcome = unpack(_code_word(memo, shift, data, soff[j], soff[j + ONE], max_len, tail_digits, letters, keys,
                                    masks, counts, lut_masks, lut3, lut4, under3))[0]
        under += outcome == UNDERSPECIFIED
        malformed += outcome == MALFORMED
        unknown += outcome == UNKNOWN
    n_under[i] = sat16(n_under[i] + under)
    n_malformed[i] = sat16(n_malformed[i] + malformed)
    n_unknown[i] = sat16(n_unknown[i] + unknown)


@serial
def charlson_serial(lo, hi, col, max_len, tail_digits, letters, keys, masks, counts, lut_masks, lut3, lut4, under3,
                   memo, marks, words, mask, n_unknown, n_under, n_malformed, first, finishing, replaces, ranked, sums,
                   final, p1987, p2011):
    """Rows lo..hi-1 of one code column, walking the codes as _walk.py says. memo: a table of _memo.py (width 2)
    that this call alone writes; marks, words: scratch of _walk.scratch (width 1) for these rows. The parallel
    kernel calls it per block; a serial call, once for all rows (one function compiled, not two: the cold compile
    is what a new server waits for).

    Each row's groups are its codes' (first: the first column, which writes the counts, starting from 0) or those
    OR-ed with mask[i] (a later column). finishing (the last column): they go through the hierarchy and weights
    into final, p1987 and p2011 (_charlson_finish.finish_row) and the call returns how many groups are left, with
    mask neither read nor written when first too; else they are written to mask. Finishing here, while the rows
    are in cache, saved the writing, zeroing and reading again of an 8-byte mask per patient."""
    loff, lbits, lvoff, soff, data, sbits, svoff = col
    shift = shift_of(memo)
    base, count = row_marks(loff, lo, hi, marks)
    for k in range(hi - lo):
        words[k, 0] = 0
    nulls = sbits.shape[0] != 0
    row = np.uint64(0) - ONE
    acc = np.uint64(0)
    for q in range(count):
        mark = marks[q]
        row += np.uint64(mark)
        j = base + q
        word = np.uint64(0)
        if not nulls or _valid(sbits, svoff, j):
            word = _code_word(memo, shift, data, soff[j], soff[j + ONE], max_len, tail_digits, letters, keys, masks,
                              counts, lut_masks, lut3, lut4, under3)
        acc = (acc & keep_mask(mark)) | word
        words[row, 0] = acc
    total = 0
    for i in range(lo, hi):
        word = words[i - lo, 0]
        valid = _valid(lbits, lvoff, i)
        m = word & GROUPS if valid else np.uint64(0)
        if first:
            n_unknown[i] = 0
            n_under[i] = 0
            n_malformed[i] = 0
        else:
            m |= mask[i]
        if finishing:
            left, packed = finish_row(m, replaces, ranked, sums)
            final[i] = left
            p1987[i] = packed & 0xFFFF
            p2011[i] = (packed >> 16) & 0xFFFF
            total += packed >> 32
        else:
            mask[i] = m
        if valid and word & PROBLEM:
            _count_problems(i, col, memo, shift, max_len, tail_digits, letters, keys, masks, counts, lut_masks, lut3,
                            lut4, under3, n_unknown, n_under, n_malformed)
    return total


@parallel
def charlson_parallel(n, loff, lbits, lvoff, soff, data, sbits, svoff, max_len, tail_digits, letters, keys, masks,
                      counts, lut_masks, lut3, lut4, under3, memos, marks, words, mask, n_unknown, n_under,
                      n_malformed, first, finishing, replaces, ranked, sums, final, p1987, p2011, totals):
    """memos, marks, words: one per thread of Numba's pool; totals[b]: block b's groups left (when finishing)."""
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        t = numba.get_thread_id()
        totals[b] = charlson_serial(b * BLOCK, min(n, (b + 1) * BLOCK), (loff, lbits, lvoff, soff, data, sbits,
                                                                          svoff),
                                    max_len, tail_digits, letters, keys, masks, counts, lut_masks, lut3, lut4, under3,
                                    memos[t], marks[t], words[t], mask, n_unknown, n_under, n_malformed, first,
                                    finishing, replaces, ranked, sums, final, p1987, p2011)


@helper
def _code_words3(memo, shift, data, start, end, max_len, tail_digits, letters, ta, tb, tc):
    """(memo word of table a, groups in table b, in table c) of the code in data[start:end]."""
    key, hit, slot = look_up(memo, shift, data, start, end)
    if hit:
        at = np.uint64(slot)
        return memo[at, 1], memo[at, 2], memo[at, 3]
    outcome, a, b, c = _read_three(data, start, end, max_len, tail_digits, letters, ta, tb, tc)
    word = pack(outcome, a)
    if slot >= 0:
        memo[slot, 2] = b
        memo[slot, 3] = c
    remember(memo, slot, key, word)
    return word, b, c


@serial
def codes3_serial(lo, hi, col, max_len, tail_digits, letters, ta, tb, tc, memo, marks, words, mask_a, mask_b, mask_c,
                 n_unknown, n_under, n_malformed):
    """One pass over a code column for three tables (Charlson, conditions, frailty): each distinct code is read
    once per memo (width 4: key, outcome and table a's groups, table b's, table c's). The counts follow table a
    (under-specified is a Charlson notion). Walks the codes as charlson_serial does (words: width 3)."""
    loff, lbits, lvoff, soff, data, sbits, svoff = col
    shift = shift_of(memo)
    base, count = row_marks(loff, lo, hi, marks)
    for k in range(hi - lo):
        words[k, 0] = 0
        words[k, 1] = 0
        words[k, 2] = 0
    nulls = sbits.shape[0] != 0
    row = np.uint64(0) - ONE
    wa = np.uint64(0)
    mb = np.uint64(0)
    mc = np.uint64(0)
    for q in range(count):
        mark = marks[q]
        row += np.uint64(mark)
        j = base + q
        a = b = c = np.uint64(0)
        if not nulls or _valid(sbits, svoff, j):
            a, b, c = _code_words3(memo, shift, data, soff[j], soff[j + ONE], max_len, tail_digits, letters, ta, tb, tc)
        keep = keep_mask(mark)
        wa = (wa & keep) | a
        mb = (mb & keep) | b
        mc = (mc & keep) | c
        words[row, 0] = wa
        words[row, 1] = mb
        words[row, 2] = mc
    for i in range(lo, hi):
        if not _valid(lbits, lvoff, i):
            continue
        k = i - lo
        a = words[k, 0]
        mask_a[i] |= a & GROUPS
        mask_b[i] |= words[k, 1]
        mask_c[i] |= words[k, 2]
        if a & PROBLEM:  # column 1 of this memo is table a's word, as _count_problems reads it
            _count_problems(i, col, memo, shift, max_len, tail_digits, letters, ta[0], ta[1], ta[2], ta[3], ta[4],
                            ta[5], ta[6], n_unknown, n_under, n_malformed)


@cold
def _read_three(data, start, end, max_len, tail_digits, letters, ta, tb, tc):
    """(outcome, groups in table a, b, c) of one code: MALFORMED, UNKNOWN, EMPTY, or table a's look-up outcome."""
    zero = np.uint64(0)
    outcome, key, length, key3, key4 = _normalise(data, start, end, max_len, tail_digits, letters)
    if outcome != NO_GROUP:
        return outcome, zero, zero, zero
    got, a = _lookup(key, length, key3, key4, ta[0], ta[1], ta[2], ta[3], ta[4], ta[5], ta[6])
    b = _lookup(key, length, key3, key4, tb[0], tb[1], tb[2], tb[3], tb[4], tb[5], tb[6])[1]
    c = _lookup(key, length, key3, key4, tc[0], tc[1], tc[2], tc[3], tc[4], tc[5], tc[6])[1]
    return got, a, b, c


@parallel
def codes3_parallel(n, loff, lbits, lvoff, soff, data, sbits, svoff, max_len, tail_digits, letters,
                    a0, a1, a2, a3, a4, a5, a6, b0, b1, b2, b3, b4, b5, b6, c0, c1, c2, c3, c4, c5, c6, memos, marks,
                    words, mask_a, mask_b, mask_c, n_unknown, n_under, n_malformed):
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        t = numba.get_thread_id()
        codes3_serial(b * BLOCK, min(n, (b + 1) * BLOCK), (loff, lbits, lvoff, soff, data, sbits, svoff),
                     max_len, tail_digits, letters, (a0, a1, a2, a3, a4, a5, a6), (b0, b1, b2, b3, b4, b5, b6),
                     (c0, c1, c2, c3, c4, c5, c6), memos[t], marks[t], words[t], mask_a, mask_b, mask_c, n_unknown,
                     n_under, n_malformed)
