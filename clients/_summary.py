"""Counts over scored batches: what a batch job prints at the end, and what the server reports per batch."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from varde.scoring.schema import BANDS

__all__ = ["Summary"]


@dataclass
class Summary:
    rows: int = 0
    rejected: Counter = field(default_factory=Counter)
    bands: Counter = field(default_factory=Counter)
    not_applicable: int = 0
    incomplete: int = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        self.rejected.update(_counts(batch.column("reject_reason")))
        self.bands.update(_counts(batch.column("news2_band")))
        self.not_applicable += batch.num_rows - batch.column("news2_not_applicable_reason").null_count
        complete = batch.column("news2_complete")
        self.incomplete += int(pc.sum(pc.invert(complete.fill_null(True))).as_py() or 0)

    def render(self) -> str:
        lines = [f"scored {self.rows:,} rows"]
        n_rej = sum(self.rejected.values())
        lines.append(f"  rejected: {n_rej:,}")
        for reason, n in sorted(self.rejected.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {reason:<32} {n:>12,}")
        if self.not_applicable:
            lines.append(f"  not applicable (under 16 or pregnant): {self.not_applicable:,}")
        lines.append(f"  incomplete (a parameter missing): {self.incomplete:,}")
        lines.append("  NEWS2 band:")
        for band in BANDS:
            lines.append(f"    {band:<32} {self.bands.get(band, 0):>12,}")
        return "\n".join(lines)


def _counts(arr: pa.Array) -> Counter:
    if arr.null_count == len(arr):
        return Counter()
    out = Counter()
    for item in pc.value_counts(arr.drop_null()).to_pylist():
        out[item["values"]] += item["counts"]
    return out
