"""One Arrow boundary for every engine that runs the kernels on its own workers (Spark, Dask, a process pool):
record batch in, record batch out, in an importable module, so that a worker loads compiled kernels from the Numba
cache instead of compiling a function defined in a driver script (which never hits the cache).

Flags are not raised from workers: `news2_findings` picks the scored rows that raise a flag by themselves, for a
findings dataset that `varde flags import` loads into the queue.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from .news2 import score_news2
from .risk import score_risk
from .schema import BANDS

__all__ = ["news2_findings", "news2_output_schema", "risk_output_schema", "score_news2_batch", "score_risk_batch"]

_FLAGGED_BANDS = pa.array([BANDS[3], BANDS[4]])  # MEDIUM, HIGH


def score_news2_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """NEWS2 for one record batch: its columns followed by the result columns (score_news2)."""
    return score_news2(batch)


def news2_output_schema(input_schema: pa.Schema) -> pa.Schema:
    """The schema score_news2_batch gives for batches of `input_schema` (Spark's mapInArrow needs it up front)."""
    return score_news2(pa.RecordBatch.from_pylist([], schema=input_schema)).schema


def score_risk_batch(batch: pa.RecordBatch, as_of: dt.date) -> pa.RecordBatch:
    """Complex-needs risk for one record batch, scored as of `as_of` (one date for every worker of a job)."""
    table = score_risk(batch, as_of=as_of)
    return table.combine_chunks().to_batches()[0] if table.num_rows else _empty_batch(table.schema)


def risk_output_schema(input_schema: pa.Schema, as_of: dt.date) -> pa.Schema:
    return score_risk(pa.RecordBatch.from_pylist([], schema=input_schema), as_of=as_of).schema


def news2_findings(scored: pa.RecordBatch) -> pa.RecordBatch:
    """The scored rows that raise a flag by themselves (band MEDIUM or HIGH, or a red score), every column kept, so
    that the queue can score them again and raise their flags. A rise by trend needs each patient's history across
    the whole dataset; the queue finds it when the rows are imported."""
    band = scored.column("news2_band")
    if pa.types.is_dictionary(band.type):
        band = band.cast(band.type.value_type)
    flagged = pc.or_kleene(pc.is_in(band, value_set=_FLAGGED_BANDS), scored.column("news2_red"))
    return scored.filter(pc.fill_null(flagged, False))


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)
