"""Polypharmacy from the ATC codes of a patient's regular, active medicines.

Counted: distinct ATC level-5 codes (substances, e.g. C07AB02). Bands: polypharmacy at 5 or more, excessive at 10
or more (Masnoon N, Shakib S, Kalisch-Ellett L, Caughey GE. What is polypharmacy? A systematic review of
definitions. BMC Geriatr 2017;17:230). `medication_review_due` at 4 or more: the Norwegian GP regulation
(fastlegeforskriften, § 25) asks the GP for a medication review (legemiddelgjennomgang) at four or more drugs when
medically indicated. Codes of levels 1-4 (C07, C07AB) cannot be counted as substances: under-specified.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .. import _pool
from . import _atc_kernel as K
from ._lists import list_column
from ._memo import kept
from ._memo import tables as code_memo
from ._walk import BLOCK, scratch

__all__ = ["BANDS", "SERIAL_BELOW", "polypharmacy_columns"]

SERIAL_BELOW = 10_000
BANDS = ("none", "polypharmacy", "excessive")
_BAND_NAMES = pa.array(BANDS, pa.string())


def substance_tables(threads: int, slots: int = K.SUBSTANCE_SLOTS) -> tuple[np.ndarray, np.ndarray]:
    """Per thread: an empty substance table and its count of ids given (see _atc_kernel.atc_serial). At most
    SUBSTANCE_SLOTS slots; a small batch needs no more than its code memo has (two a code)."""
    slots = min(slots, K.SUBSTANCE_SLOTS)
    return np.zeros((threads, slots, 2), np.uint64), np.zeros((threads, 1), np.int64)


def stamps_for(subs: np.ndarray) -> np.ndarray:
    """Per thread: the last row that counted each substance id (0 and every id of subs), none yet (-1)."""
    return np.full((subs.shape[0], subs.shape[1] + 1), -1, np.int64)


def _new_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per thread: a code memo for a large call, with an empty substance table and its count of ids given."""
    memos = code_memo(1 << 40, 2, True)
    return (memos, *substance_tables(memos.shape[0]))


def polypharmacy_columns(n: int, atc, *, parallel: bool | None = None) -> dict[str, pa.Array]:
    """polypharmacy_count, polypharmacy_band, medication_review_due, and the ATC codes' under-specified and
    malformed counts, for n patients (atc None: absent, every count 0). The kernel writes every column itself: the
    numpy passes that made the band and narrowed the counts took a sixth of the time."""
    col = list_column(atc, "atc")
    make = _pool.zeros if col is None else _pool.empty  # the kernel writes every row
    count, n_under, n_malformed = (make(n, np.int16) for _ in range(3))
    band = make(n, np.int8)
    review = make((n + 7) // 8, np.uint8)  # a bit per row, as Arrow lays out booleans: no packing pass (0.4 ms/1M)
    if col is not None:
        if len(col[0]) != n + 1:
            raise ValueError("the atc column has a different number of rows than the table")
        run_parallel = n >= SERIAL_BELOW if parallel is None else parallel
        out = (count, band, review, n_under, n_malformed)
        if run_parallel:
            # The memos, and the substance ids their words hold, are kept for the next call as Charlson's are
            # (_memo.kept); the stamps (rows of this call) are new.
            with kept(("atc",), _new_tables) as (memos, subs, given):
                stamps = stamps_for(subs)
                # scratch per thread as long as the most codes a block holds: no pass over every row's length
                marks, tally, _ = scratch(col[0], n, memos.shape[0])
                seen = np.empty(marks.shape, np.uint64)
                slow = np.empty((memos.shape[0], BLOCK), np.int64)
                K.atc_parallel(n, *col, memos, subs, given, stamps, seen, slow, marks,
                               tally.reshape(memos.shape[0], -1), *out)
        else:
            memos = code_memo(int(col[0][-1] - col[0][0]) if n else 0, 2, run_parallel)
            subs, given = substance_tables(memos.shape[0], memos.shape[1])
            stamps = stamps_for(subs)
            marks, tally, _ = scratch(col[0], n, 1, block=n)  # all rows as one block
            K.atc_serial(0, n, *col, memos[0], subs[0], given[0], stamps[0], np.empty(marks.shape[1], np.uint64),
                         np.empty(max(n, 1), np.int64), marks[0], tally[0].reshape(-1), *out)
    return {
        "polypharmacy_count": pa.array(count),
        "polypharmacy_band": pa.DictionaryArray.from_arrays(pa.array(band), _BAND_NAMES, safe=False),
        "medication_review_due": pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(review)]),
        "atc_underspecified": pa.array(n_under),
        "atc_malformed": pa.array(n_malformed),
    }
