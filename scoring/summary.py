"""Counts over scored batches: what a batch job prints at the end, and what the server reports per batch."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Counts", "count", "count_values"]


@dataclass
class Counts:
    rows: int = 0
    scored: int = 0
    not_applicable: int = 0
    rejected: int = 0
    red: int = 0
    complete: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    bands: Counter = field(default_factory=Counter)

    def __iadd__(self, other: Counts) -> Counts:
        for name in ("rows", "scored", "not_applicable", "rejected", "red", "complete"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected_by_reason.update(other.rejected_by_reason)
        self.bands.update(other.bands)
        return self


def count(batch: pa.RecordBatch | pa.Table) -> Counts:
    """Counts of a batch that score_news2 returned (it reads the result columns only)."""
    by_reason = _value_counts(batch.column("reject_reason"))
    return Counts(
        rows=batch.num_rows,
        scored=batch.num_rows - batch.column("news2_total").null_count,
        not_applicable=batch.num_rows - batch.column("news2_not_applicable_reason").null_count,
        rejected=sum(by_reason.values()),
        red=_true(batch.column("news2_red")),
        complete=_true(batch.column("news2_complete")),
        rejected_by_reason=by_reason,
        bands=_value_counts(batch.column("news2_band")),
    )


def _true(arr) -> int:
    return int(pc.sum(arr).as_py() or 0)


def count_values(arr) -> Counter:
    """Rows per value of a (dictionary-encoded) column, nulls left out."""
    return _value_counts(arr)


def _value_counts(arr) -> Counter:
    out = Counter()
    for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        if chunk.null_count == len(chunk):
            continue
        if pa.types.is_dictionary(chunk.type):
            # The result columns are dictionary-encoded with a handful of values: count the codes.
            codes = chunk.indices.to_numpy(zero_copy_only=False) if not chunk.null_count else \
                chunk.indices.fill_null(0).to_numpy()[chunk.is_valid().to_numpy(zero_copy_only=False)]
            counts = np.bincount(codes.astype(np.intp, copy=False), minlength=len(chunk.dictionary))
            names = chunk.dictionary.to_pylist()
            for code in np.flatnonzero(counts).tolist():
                out[names[code]] += int(counts[code])
        else:
            for item in pc.value_counts(chunk.drop_null()).to_pylist():
                out[item["values"]] += item["counts"]
    return out
