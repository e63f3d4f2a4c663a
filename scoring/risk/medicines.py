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

from . import _atc_kernel as K
from ._lists import list_column
from ._memo import tables as code_memo

__all__ = ["BANDS", "SERIAL_BELOW", "polypharmacy_columns"]

SERIAL_BELOW = 10_000
BANDS = ("none", "polypharmacy", "excessive")
_BAND_NAMES = pa.array(BANDS, pa.string())


def polypharmacy_columns(n: int, atc, *, parallel: bool | None = None) -> dict[str, pa.Array]:
    """polypharmacy_count, polypharmacy_band, medication_review_due, and the ATC codes' under-specified and
    malformed counts, for n patients (atc None: absent, every count 0)."""
    count = np.zeros(n, np.int32)
    n_under = np.zeros(n, np.int32)
    n_malformed = np.zeros(n, np.int32)
    col = list_column(atc, "atc")
    if col is not None:
        if len(col[0]) != n + 1:
            raise ValueError("the atc column has a different number of rows than the table")
        longest = max(1, int(np.diff(col[0]).max())) if n else 1
        run_parallel = n >= SERIAL_BELOW if parallel is None else parallel
        memos = code_memo(int(col[0][-1] - col[0][0]) if n else 0, 2, run_parallel)
        if run_parallel:
            seen = np.empty(((n + K.BLOCK - 1) // K.BLOCK, longest), np.int64)
            K.atc_parallel(n, *col, seen, memos, count, n_under, n_malformed)
        else:
            K.atc_serial(0, n, *col, np.empty(longest, np.int64), memos[0], count, n_under, n_malformed)
    band = (count >= 5).astype(np.int8) + (count >= 10).astype(np.int8)
    return {
        "polypharmacy_count": pa.array(count.astype(np.int16)),
        "polypharmacy_band": pa.DictionaryArray.from_arrays(pa.array(band), _BAND_NAMES),
        "medication_review_due": pa.array(count >= 4),
        "atc_underspecified": pa.array(n_under.astype(np.int16)),
        "atc_malformed": pa.array(n_malformed.astype(np.int16)),
    }
