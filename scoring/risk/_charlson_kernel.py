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
from ._memo import home, look_up, pack, remember, shift_of, unpack
from ._read import (
    MALFORMED,
    NO_GROUP,
    UNDERSPECIFIED,
    UNKNOWN,
    _lookup,
    _normalise,
    _read_code,
    _valid,
    sat16,
)
from ._walk import BLOCK, ONE, keep_mask, row_marks

# A memo word (_memo.pack) holds the outcome in bits 61-63: the outcomes a patient's counts report have bit 2
# set, which is bit 63, so OR-ing a row's words says whether the row has any (PROBLEM) without a test per code.
PROBLEM = np.uint64(1 << 63)
GROUPS = np.uint64((1 << 61) - 1)


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
def _count_coded(i, loff, base, coded, n_unknown, n_under, n_malformed):
    """Adds row i's under-specified, malformed and unknown codes to its counts, from the words its codes were
    found to have (coded: by block-local code, as _walk_codes kept them)."""
    under = 0
    malformed = 0
    unknown = 0
    for q in range(np.uint64(loff[i]) - base, np.uint64(loff[i + ONE]) - base):
        outcome = unpack(coded[q])[0]
        under += outcome == UNDERSPECIFIED
        malformed += outcome == MALFORMED
        unknown += outcome == UNKNOWN
    n_under[i] = sat16(n_under[i] + under)
    n_malformed[i] = sat16(n_malformed[i] + malformed)
    n_unknown[i] = sat16(n_unknown[i] + unknown)


@serial
def _walk_codes(marks, count, base, soff, data, sbits, svoff, flat, shift, words, missed, coded):
    """The walk of charlson_serial: each code's memo word from its home slot (_memo.home), OR-ed into its row's
    words[row] (one-dimensional) and kept in coded[code]; a code not found there is noted in missed (row << 32 |
    code) and its coded left 0. Returns how many were. A function of its own, called once a block, with no call
    and no probe loop inside: charlson_serial over one thread's half of 1M patients went from 9.4-9.7 to
    8.9-9.1 ms."""
    nulls = sbits.shape[0] != 0
    row = np.uint64(0) - ONE
    acc = np.uint64(0)
    n_missed = np.uint64(0)
    for q in range(count):
        mark = marks[q]
        row += np.uint64(mark)
        j = base + q
        word = np.uint64(0)
        if not nulls or _valid(sbits, svoff, j):
            found, at = home(flat, 2, shift, data, soff[j], soff[j + ONE])
            if found:
                word = flat[at + ONE]
            else:
                missed[n_missed] = (row << np.uint64(32)) | np.uint64(q)
                n_missed += ONE
        coded[q] = word
        acc = (acc & keep_mask(mark)) | word
        words[row] = acc
    return n_missed


@serial
def charlson_serial(lo, hi, col, max_len, tail_digits, letters, keys, masks, counts, lut_masks, lut3, lut4, under3,
                   memo, marks, words, notes, mask, n_unknown, n_under, n_malformed, first, finishing, replaces,
                   ranked, sums, final, p1987, p2011):
    """Rows lo..hi-1 of one code column, walking the codes as _walk.py says. memo: a table of _memo.py (width 2)
    that this call alone writes; marks, words, notes: scratch of _walk.scratch (width 1) for these rows. A code
    not in its memo slot's home (_memo.home) is noted and read after the walk, its word OR-ed into its row's (the
    last word the walk stored for a row is the OR of all its codes'). The parallel kernel calls it per block; a
    serial call, once for all rows (one function compiled, not two: the cold compile is what a new server waits
    for).

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
    missed = notes[0]
    coded = notes[1]
    n_missed = _walk_codes(marks, count, base, soff, data, sbits, svoff, memo.reshape(-1), shift, words.reshape(-1),
                           missed, coded)
    for k in range(n_missed):
        q = missed[k] & np.uint64(0xFFFFFFFF)
        j = base + q
        word = _code_word(memo, shift, data, soff[j], soff[j + ONE], max_len, tail_digits, letters, keys, masks,
                          counts, lut_masks, lut3, lut4, under3)
        coded[q] = word
        words[missed[k] >> np.uint64(32), 0] |= word
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
            _count_coded(i, loff, base, coded, n_unknown, n_under, n_malformed)
    return total


@parallel
def charlson_parallel(n, loff, lbits, lvoff, soff, data, sbits, svoff, max_len, tail_digits, letters, keys, masks,
                      counts, lut_masks, lut3, lut4, under3, memos, marks, words, notes, mask, n_unknown, n_under,
                      n_malformed, first, finishing, replaces, ranked, sums, final, p1987, p2011, totals):
    """memos, marks, words, notes: one per thread of Numba's pool; totals[b]: block b's groups left (when
    finishing)."""
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        t = numba.get_thread_id()
        totals[b] = charlson_serial(b * BLOCK, min(n, (b + 1) * BLOCK), (loff, lbits, lvoff, soff, data, sbits,
                                                                          svoff),
                                    max_len, tail_digits, letters, keys, masks, counts, lut_masks, lut3, lut4, under3,
                                    memos[t], marks[t], words[t], notes[t], mask, n_unknown, n_under, n_malformed,
                                    first, finishing, replaces, ranked, sums, final, p1987, p2011)


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
def codes3_serial(lo, hi, col, max_len, tail_digits, letters, ta, tb, tc, memo, marks, words, coded, mask_a, mask_b,
                  mask_c, n_unknown, n_under, n_malformed):
    """One pass over a code column for three tables (Charlson, conditions, frailty): each distinct code is read
    once per memo (width 4: key, outcome and table a's groups, table b's, table c's). The counts follow table a
    (under-specified is a Charlson notion), from its word per code kept in coded (a row of _walk.scratch's
    notes). Walks the codes as charlson_serial does (words: width 3)."""
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
        coded[q] = a
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
        if a & PROBLEM:
            _count_coded(i, loff, base, coded, n_unknown, n_under, n_malformed)


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
                    words, notes, mask_a, mask_b, mask_c, n_unknown, n_under, n_malformed):
    """memos, marks, words, notes: one per thread of Numba's pool (notes[t, 1]: codes3_serial's coded)."""
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        t = numba.get_thread_id()
        codes3_serial(b * BLOCK, min(n, (b + 1) * BLOCK), (loff, lbits, lvoff, soff, data, sbits, svoff),
                     max_len, tail_digits, letters, (a0, a1, a2, a3, a4, a5, a6), (b0, b1, b2, b3, b4, b5, b6),
                     (c0, c1, c2, c3, c4, c5, c6), memos[t], marks[t], words[t], notes[t, 1], mask_a, mask_b, mask_c,
                     n_unknown, n_under, n_malformed)
