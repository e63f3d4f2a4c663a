"""Polypharmacy kernel: distinct ATC substances per patient from an Arrow list<string> column, read in place."""

from __future__ import annotations

import numba
import numpy as np

from .._jit import cold, helper, parallel, prange, serial
from ._memo import find, home, look_up, remember, shift_of
from ._read import ATC, NO_GROUP, _normalise, _valid, codes_of, sat16
from ._read import EMPTY as EMPTY_CODE
from ._walk import BLOCK, ONE, keep_mask, row_marks

# ATC level-5 code: letter, 2 digits, 2 letters, 2 digits (A10BA02); levels 1-4 are its first 1, 3, 4, 5 characters.
SUBSTANCE, UNDERSPECIFIED, MALFORMED, EMPTY = 0, 1, 2, 3
# A memo word: the substance's id in bits 0-16 (0: none), the outcome in bits 17-18, the packed substance key (below
# 37**7 < 2**37) from bit 19, and bit 63 (SLOW) set unless the code is a substance with an id. A row's words are
# OR-ed, so one test per row says whether it needs the second, slow pass.
ID_MASK = np.uint64((1 << 17) - 1)
OUTCOME_SHIFT = 17
KEY_SHIFT = 19
SLOW = np.uint64(1 << 63)
SUBSTANCE_SLOTS = 8_192  # distinct substances a thread gives an id to (beyond: deduplicated the slow way)
ANY_LETTER = (1 << 26) - 1  # every letter may start an ATC code


@helper
def _atc(data, start, end):
    """(outcome, packed key) of one ATC code, read as every code column is (_read._normalise in its ATC mode: upper
    case, dots and whitespace dropped, a level 1-5 shape). Called once per distinct spelling: the memo keeps the
    rest."""
    outcome, key, length, _, _ = _normalise(data, start, end, ATC, False, ANY_LETTER)
    if outcome == EMPTY_CODE:
        return EMPTY, key
    if outcome != NO_GROUP:
        return MALFORMED, key
    return (SUBSTANCE if length == 7 else UNDERSPECIFIED), key


@helper
def _substance_id(subs, given, key, shift):
    """The id of substance key, given in the order substances are first met (1, 2, ...: given[0] so far), so that
    the stamps of a batch's few hundred substances lie on a few cache lines, not a line each (slot + 1 as the id
    was 5 % slower). subs: (key, id) slots. 0 if key finds no free slot within the probe limit (then it never will:
    slots are never freed, so a substance gets an id at its first meeting or never)."""
    found, slot = find(subs, np.uint64(key), shift)
    if slot < 0:
        return np.uint64(0)
    at = np.uint64(slot)
    if not found:
        given[0] += 1
        subs[at, 0] = np.uint64(key)
        subs[at, 1] = np.uint64(given[0])
    return subs[at, 1]


@helper
def _word(key, sid, outcome):
    """What the memo keeps for a spelling (see SLOW above)."""
    word = (np.uint64(key) << np.uint64(KEY_SHIFT)) | (np.uint64(outcome) << np.uint64(OUTCOME_SHIFT)) | sid
    if outcome != SUBSTANCE or sid == 0:
        word |= SLOW
    return word


@helper
def _code_word(memo, shift, subs, given, sub_shift, data, start, end):
    """The memo word of the code in data[start:end]: remembered, or read (its substance given an id) and
    remembered."""
    raw, hit, slot = look_up(memo, shift, data, start, end)
    if hit:
        return memo[np.uint64(slot), 1]
    return _read_word(memo, slot, raw, subs, given, sub_shift, data, start, end)


@cold
def _read_word(memo, slot, raw, subs, given, sub_shift, data, start, end):
    """The word of a spelling not remembered: read, its substance given an id, and remembered."""
    outcome, key = _atc(data, start, end)
    sid = _substance_id(subs, given, key, sub_shift) if outcome == SUBSTANCE else np.uint64(0)
    word = _word(key, sid, outcome)
    remember(memo, slot, raw, word)
    return word


@serial
def _count_rows(lo, hi, loff, lbits, lvoff, soff, data, sbits, svoff, flat, shift, stamp, count, band, review, n_under,
                n_malformed, slow, marks, tally):
    """The first pass of atc_serial: each row counted by substance id, from the codes' home memo slots alone
    (_memo.home), and every output written. A code not found there, or whose word has SLOW, counts as stamp[0],
    and its row is noted in slow for atc_serial to count again (a few rows in a hundred). Returns how many were.
    The codes are walked as one run (_walk.py), with no call and no probe loop inside, as
    _charlson_kernel._walk_codes: tally[row] holds the row's count so far, with SLOW set if any code had it."""
    base, n_codes = row_marks(loff, lo, hi, marks)
    for k in range(hi - lo):
        tally[k] = 0
    nulls = sbits.shape[0] != 0
    row = np.uint64(0) - ONE
    acc = np.uint64(0)
    for q in range(n_codes):
        mark = marks[q]
        row += np.uint64(mark)
        j = base + q
        word = np.uint64(0)
        valid = not nulls or _valid(sbits, svoff, j)
        if valid:
            found, at = home(flat, 2, shift, data, soff[j], soff[j + ONE])
            word = flat[at + ONE] if found else SLOW
        sid = word & ID_MASK
        new = (stamp[sid] != np.int64(row + np.uint64(lo))) & valid
        stamp[sid] = np.int64(row + np.uint64(lo))
        acc = ((acc & keep_mask(mark)) | (word & SLOW)) + np.uint64(new)
        tally[row] = acc
    bits = np.uint8(0)
    n_slow = 0
    for i in range(lo, hi):
        t = tally[i - lo] if _valid(lbits, lvoff, i) else np.uint64(0)
        k = np.int64(t & ~SLOW)
        if t & SLOW:
            slow[n_slow] = i
            n_slow += 1
        count[i] = sat16(k)
        band[i] = (k >= 5) + (k >= 10)
        bits |= np.uint8(k >= 4) << np.uint8(i & 7)
        if i & 7 == 7 or i == hi - 1:
            review[i >> 3] = bits
            bits = np.uint8(0)
        n_under[i] = 0
        n_malformed[i] = 0
    return n_slow


@serial
def atc_serial(lo, hi, loff, lbits, lvoff, soff, data, sbits, svoff, memo, subs, given, stamp, seen, slow, marks, tally,
               count, band, review, n_under, n_malformed):
    """Writes rows lo..hi-1 of the outputs (int16 counts, int8 band; review: a bit per row, Arrow's boolean
    layout, so lo is a multiple of 8 and each call writes whole bytes of it). memo: a table of _memo.py
    (width 2: raw key, word) that this call alone writes; subs: a table (width 2: key, id) of the substances met,
    given[0] the ids given so far (_substance_id); stamp[id]: the last row that counted it (-1 at first), so that
    a patient's second spelling of a substance is not counted again.

    _count_rows counts every row by id, walking the codes with marks and tally (_walk.scratch, one-dimensional
    tally). The rows it notes in `slow` (as long as the rows) are counted again here,
    each code read in full (remembered if new): the under-specified and malformed ones are counted, the
    substances with an id deduplicated by stamps of their own (-2 - row, which no first-pass stamp equals), and
    those without one (subs full) against `seen`, scratch as long as the longest list (or longer)."""
    shift = shift_of(memo)
    sub_shift = shift_of(subs)
    n_slow = _count_rows(lo, hi, loff, lbits, lvoff, soff, data, sbits, svoff, memo.reshape(-1), shift, stamp, count,
                         band, review, n_under, n_malformed, slow, marks, tally)
    for r in range(n_slow):
        i = slow[r]
        mark = -2 - i
        k = 0
        extra = 0
        under = 0
        malformed = 0
        for j in codes_of(loff, i):
            if not _valid(sbits, svoff, j):
                continue
            word = _code_word(memo, shift, subs, given, sub_shift, data, soff[j], soff[j + ONE])
            if not word & SLOW:
                sid = word & ID_MASK
                k += stamp[sid] != mark
                stamp[sid] = mark
                continue
            outcome = np.int64((word >> np.uint64(OUTCOME_SHIFT)) & np.uint64(3))
            under += outcome == UNDERSPECIFIED
            malformed += outcome == MALFORMED
            if outcome == SUBSTANCE:  # without an id
                key = word >> np.uint64(KEY_SHIFT) & np.uint64((1 << 44) - 1)
                new = True
                for q in range(extra):
                    if seen[q] == key:
                        new = False
                        break
                if new:
                    seen[extra] = key
                    extra += 1
        total = k + extra
        count[i] = sat16(total)
        band[i] = (total >= 5) + (total >= 10)
        at = i >> 3
        review[at] = (review[at] & ~(np.uint8(1) << np.uint8(i & 7))) | (np.uint8(total >= 4) << np.uint8(i & 7))
        n_under[i] = sat16(under)
        n_malformed[i] = sat16(malformed)


@parallel
def atc_parallel(n, loff, lbits, lvoff, soff, data, sbits, svoff, memos, subs, given, stamps, seen, slow, marks, tally,
                 count, band, review, n_under, n_malformed):
    """memos, subs, given, stamps, seen, slow: one per thread of Numba's pool (seen: as long as a block's codes;
    slow: a block's rows)."""
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        t = numba.get_thread_id()
        atc_serial(b * BLOCK, min(n, (b + 1) * BLOCK), loff, lbits, lvoff, soff, data, sbits, svoff, memos[t],
                   subs[t], given[t], stamps[t], seen[t], slow[t], marks[t], tally[t], count, band, review, n_under,
                   n_malformed)
