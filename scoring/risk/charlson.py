"""Charlson Comorbidity Index from GP journal extracts: ICD-10 and ICPC-2 list columns, read in place.

Sources. Quan H, Sundararajan V, Halfon P, et al. Coding algorithms for defining comorbidities in ICD-9-CM and
ICD-10 administrative data. Med Care 2005;43:1130-9 (the ICD-10 codes of each group). Charlson ME, Pompei P,
Ales KL, MacKenzie CR. A new method of classifying prognostic comorbidity in longitudinal studies. J Chronic Dis
1987;40:373-83 (the original weights). Quan H, Li B, Couris CM, et al. Updating and validating the Charlson
comorbidity index and score for risk adjustment in hospital discharge abstracts using data from 6 countries. Am J
Epidemiol 2011;173:676-82 (the updated weights). The code tables, with every choice made for ICPC-2, are the CSV
files in data/; docs/risk.md says how codes are read.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa

from .. import _pool
from ..arrow import readonly
from ..schema import SchemaError
from . import _charlson_finish as F
from . import _charlson_kernel as K
from . import _read as R
from ._codes import MAX_LEN, PrefixTable, read_rows
from ._lists import list_column
from ._memo import kept
from ._memo import tables as code_memo
from ._walk import BLOCK, scratch

__all__ = ["SERIAL_BELOW", "Charlson", "charlson_columns", "tables"]

SERIAL_BELOW = 10_000
# Stand-ins for the arrays a call that does not finish, or needs no mask, never touches (same types: no new compile).
_NO_MASK = np.empty(0, np.uint64)
_NOT_FINISHING = (np.empty(0, np.uint32), np.empty(0, np.int8), np.empty(0, np.int8))


def _letters(chapters: str) -> int:
    return sum(1 << (ord(c) - 65) for c in chapters)


# How each system's codes are written (docs/risk.md): (longest length, only digits after the rubric, letters that
# start a code of the system). ICD-10: a letter, two digits, up to four letters or digits ([A-Z][0-9]{2}[0-9A-Z]{0,4}).
# ICPC-2: a chapter letter, the two-digit rubric, up to two digits of a national extension (Norway's R991).
ICD10 = (MAX_LEN, False, _letters("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
ICPC2 = (5, True, _letters("ABDFHKLNPRSTUWXYZ"))
ATC = (R.ATC, False, _letters("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def match_three(n: int, col: tuple | None, tables3: tuple, system: tuple, masks3: tuple, counts: tuple,
                parallel: bool) -> None:
    """match_codes for three tables in one pass over the column (each code normalised once); counts follow the
    first table."""
    if col is None:
        return
    if len(col[0]) != n + 1:
        raise SchemaError("a code column has a different number of rows than the table")
    flat = [a for tb in tables3 for a in (tb.keys, tb.masks, tb.counts, tb.lut_masks, tb.lut3, tb.lut4, tb.under3)]
    if parallel:
        with kept(("three", *tables3, system), lambda: code_memo(1 << 40, 4, True)) as memos:
            marks, words, notes = scratch(col[0], n, memos.shape[0], 3)
            K.codes3_parallel(n, *col, *system, *flat, memos, marks, words, notes, *masks3, *counts)
    else:
        memos = code_memo(int(col[0][-1] - col[0][0]) if n else 0, 4, False)
        marks, words, notes = scratch(col[0], n, 1, 3, block=n)
        K.codes3_serial(0, n, col, *system, *(tuple(flat[k:k + 7]) for k in (0, 7, 14)), memos[0], marks[0], words[0],
                        notes[0, 1], *masks3, *counts)


def match_codes(n: int, col: tuple | None, table: PrefixTable, system: tuple, mask: np.ndarray,
                counts: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, parallel: bool | None = None, *,
                first: bool = False, finish_into: tuple | None = None) -> np.ndarray | None:
    """OR into mask[i] the groups of row i's codes (col from list_column; None: nothing). counts: the unknown,
    under-specified and malformed arrays to add to, or None to count nowhere (a column already counted).

    first: mask and counts are written, not added to (they need no zeroing). finish_into: (final, p1987, p2011)
    of Charlson's finish, done here for the last column (see _charlson_kernel.charlson_serial); the groups left
    per block (blocks of _walk.BLOCK rows; one block when serial) are returned, for the groups column."""
    if col is None:
        return None
    if len(col[0]) != n + 1:
        raise SchemaError("a code column has a different number of rows than the table")
    if counts is None:
        counts = (_pool.zeros(n, np.int16),) * 3
    t = tables()
    finishing = finish_into is not None
    tail = (first, finishing, t.replaces, t.ranked, t.sums, *(finish_into or _NOT_FINISHING))
    tabs = (*system, table.keys, table.masks, table.counts, table.lut_masks, table.lut3, table.lut4, table.under3)
    run_parallel = n >= SERIAL_BELOW if parallel is None else parallel
    if run_parallel:
        totals = np.zeros((n + BLOCK - 1) // BLOCK, np.int64)
        with kept(("one", table, system), lambda: code_memo(1 << 40, 2, True)) as memos:
            marks, words, notes = scratch(col[0], n, memos.shape[0])
            K.charlson_parallel(n, *col, *tabs, memos, marks, words, notes, mask, *counts, *tail, totals)
        return totals
    memos = code_memo(int(col[0][-1] - col[0][0]) if n else 0, 2, run_parallel)
    marks, words, notes = scratch(col[0], n, 1, block=n)
    total = K.charlson_serial(0, n, col, *tabs, memos[0], marks[0], words[0], notes[0], mask, *counts, *tail)
    return np.array([total], np.int64)


@functools.lru_cache(maxsize=1)
def tables() -> Charlson:
    """The shipped tables, read once."""
    return Charlson()


class Charlson:
    def __init__(self):
        weights = read_rows("charlson_weights.csv")
        self.groups = tuple(r["group"] for r in weights)
        self.names = tuple(r["name"] for r in weights)
        index = {g: i for i, g in enumerate(self.groups)}
        if len(index) > 32:
            raise ValueError("at most 32 Charlson groups fit the kernel's bitmask")
        self.weights_1987 = readonly(np.array([int(r["weight_1987"]) for r in weights], np.int64))
        self.weights_2011 = readonly(np.array([int(r["weight_quan2011"]) for r in weights], np.int64))
        self.replaces = readonly(np.array([index[r["hierarchy_replaces"]] if r["hierarchy_replaces"] else -1
                                           for r in weights], np.int64))
        self.ranked = readonly(np.flatnonzero(self.replaces >= 0).astype(np.int64))
        self.sums = F.byte_sums(self.weights_1987, self.weights_2011)
        self.icd10 = PrefixTable([(r["prefix"].strip().upper(), index[r["group"]])
                                  for r in read_rows("charlson_icd10_quan2005.csv")])
        self.icpc2 = PrefixTable([(r["icpc2"].strip().upper(), index[r["group"]])
                                  for r in read_rows("charlson_icpc2.csv")])
        self.group_names = pa.array(self.groups, pa.string())


def charlson_columns(n: int, icd10, icpc2, *, parallel: bool | None = None) -> dict[str, pa.Array]:
    """charlson_groups, charlson_1987, charlson_quan2011, codes_unknown, codes_underspecified, codes_malformed for n
    patients from their ICD-10 and ICPC-2 list columns (either may be None: absent). The last column present
    finishes the scores as it is matched."""
    t = tables()
    run_parallel = n >= SERIAL_BELOW if parallel is None else parallel
    counts = (_pool.empty(n, np.int16), _pool.empty(n, np.int16), _pool.empty(n, np.int16))
    cols = [(col, table, system) for col, table, system in ((list_column(icd10, "icd10"), t.icd10, ICD10),
                                                             (list_column(icpc2, "icpc2"), t.icpc2, ICPC2))
            if col is not None]
    if not cols:
        for c in counts:
            c.fill(0)
        return finish(n, _pool.zeros(n, np.uint64), counts, run_parallel)
    final = _pool.empty(n, np.uint32)
    scores = (_pool.empty(n, np.int8), _pool.empty(n, np.int8))
    # one column: its groups never pass through a mask
    mask = _pool.empty(n, np.uint64) if len(cols) > 1 else _NO_MASK
    for k, (col, table, system) in enumerate(cols):
        last = k == len(cols) - 1
        totals = match_codes(n, col, table, system, mask, counts, run_parallel, first=k == 0,
                             finish_into=(final, *scores) if last else None)
    return _columns(n, final, scores, totals, counts)


def finish(n: int, mask: np.ndarray, counts: tuple, run_parallel: bool) -> dict[str, pa.Array]:
    """The Charlson columns from the groups found per patient (before the hierarchy) and the code counts."""
    t = tables()
    final = _pool.empty(n, np.uint32)
    scores = (_pool.empty(n, np.int8), _pool.empty(n, np.int8))
    args = (mask, t.replaces, t.ranked, t.sums, final, *scores)
    if run_parallel:
        totals = np.empty((n + BLOCK - 1) // BLOCK, np.int64)
        F.finish_parallel(n, *args, totals)
    else:
        totals = np.array([F.finish_block(0, n, *args)], np.int64)
    return _columns(n, final, scores, totals, counts)


def _columns(n: int, final: np.ndarray, scores: tuple, totals: np.ndarray, counts: tuple) -> dict[str, pa.Array]:
    """The Charlson columns from the groups left per patient (final), the scores, and the groups left per block
    (totals: blocks of _walk.BLOCK rows, or one block of all)."""
    t = tables()
    starts = np.zeros(len(totals) + 1, np.int64)
    np.cumsum(totals, out=starts[1:])
    offsets = _pool.empty(n + 1, np.int32)
    offsets[0] = 0
    values = _pool.empty(int(starts[-1]), np.int8)
    if len(totals) > 1:
        F.fill_parallel(n, final, starts, offsets, values)
    else:
        F.fill_block(0, n, final, 0, len(values), offsets, values)
    n_unknown, n_under, n_malformed = counts
    # safe=False here and for the other risk bands: the kernels write only indices in range, and checking them
    # again cost 0.5 ms per million.
    return {
        "charlson_groups": pa.ListArray.from_arrays(pa.array(offsets), pa.DictionaryArray.from_arrays(
            pa.array(values), t.group_names, safe=False)),
        "charlson_1987": pa.array(scores[0]),
        "charlson_quan2011": pa.array(scores[1]),
        "codes_unknown": pa.array(n_unknown),
        "codes_underspecified": pa.array(n_under),
        "codes_malformed": pa.array(n_malformed),
    }
