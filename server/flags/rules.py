"""What raises a flag (docs/flags.md).

Per scored row: NEWS2_HIGH (band HIGH, total 7+), NEWS2_MEDIUM (band MEDIUM, 5-6), NEWS2_RED (3 in one
parameter), NEWS2_RISING (scoring.trend). One finding per patient and kind per batch: its worst row (highest
total, then newest) and how many rows found it. Severity: HIGH for band HIGH, MEDIUM for band MEDIUM or a red
score, LOW otherwise (a rise within the low band).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from varde.scoring.schema import BANDS, PARAMETERS, SUBSCORE_COLUMNS
from varde.scoring.trend import DAY_US, TrendState, clinical_risk, rising

from ..store.base import Finding

__all__ = ["KINDS", "Prepared", "findings", "prepare"]

KINDS = ("NEWS2_HIGH", "NEWS2_MEDIUM", "NEWS2_RED", "NEWS2_RISING")
_HIGH, _MEDIUM = BANDS.index("HIGH"), BANDS.index("MEDIUM")
_TS = pa.timestamp("us", tz="UTC")


@dataclass
class Prepared:
    """Scored rows that can raise a flag, sorted by patient and time."""

    rows: np.ndarray  # index of each row in the scored table
    patients: list[str]  # distinct, in group order
    starts: np.ndarray  # group boundaries, len(patients) + 1
    times: np.ndarray  # int64 microseconds UTC
    totals: np.ndarray  # int8
    bands: np.ndarray  # int8 codes into BANDS
    red: np.ndarray  # bool


def _times(table: pa.Table, received_us: int) -> pa.Array:
    if "observed_at" in table.column_names:
        col = table.column("observed_at")
        try:
            if pa.types.is_timestamp(col.type) and col.type.tz is None:
                col = pc.assume_timezone(col, "UTC")
            col = col.cast(_TS)
            return pc.fill_null(col.cast(pa.int64()), received_us).combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass  # not a time: the rows count as observed when received
    return pa.array(np.full(table.num_rows, received_us, np.int64))


def prepare(scored: pa.Table, received_us: int) -> Prepared:
    total = scored.column("news2_total")
    pid = scored.column("patient_id")
    keep = pc.and_(total.is_valid(), pid.is_valid())
    rows = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
    take = pa.array(rows, pa.int64())
    patients = pid.take(take).cast(pa.string()).combine_chunks()
    times = _times(scored, received_us).take(take)
    order = pc.sort_indices(pa.table({"p": patients, "t": times}), [("p", "ascending"), ("t", "ascending")])
    order_np = order.to_numpy()
    rows = rows[order_np]
    patients = patients.take(order)
    n = len(patients)
    if n:
        change = pc.not_equal(patients.slice(1), patients.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        starts = np.concatenate(([0], np.flatnonzero(change) + 1, [n])).astype(np.int64)
    else:
        starts = np.zeros(1, np.int64)
    band = scored.column("news2_band").combine_chunks()
    return Prepared(
        rows=rows,
        patients=patients.take(pa.array(starts[:-1])).to_pylist() if n else [],
        starts=starts,
        times=times.take(order).to_numpy(),
        totals=total.combine_chunks().take(pa.array(rows)).to_numpy(zero_copy_only=False).astype(np.int8),
        bands=band.indices.take(pa.array(rows)).to_numpy(zero_copy_only=False).astype(np.int8),
        red=scored.column("news2_red").combine_chunks().take(pa.array(rows)).to_numpy(zero_copy_only=False),
    )


def trend(p: Prepared, stored: dict[str, bytes], window_us: int = DAY_US) -> tuple[np.ndarray, dict[str, bytes]]:
    """Per prepared row: rising; and each patient's history after these rows, as bytes for the store."""
    state = TrendState.empty(len(p.patients))
    for g, patient in enumerate(p.patients):
        data = stored.get(patient)
        if data is not None:
            state.load(g, bytes(data))
    up, _ = rising(p.starts, p.times, p.totals, clinical_risk(p.bands), state, window_us)
    return up, {patient: state.to_bytes(g) for g, patient in enumerate(p.patients)}


def findings(scored: pa.Table, p: Prepared, up: np.ndarray) -> list[Finding]:
    """One Finding per (patient, kind), sorted so that every transaction takes row locks in the same order."""
    group = np.repeat(np.arange(len(p.patients)), np.diff(p.starts))
    severity = np.where(p.bands == _HIGH, 3, np.where((p.bands == _MEDIUM) | p.red, 2, 1)).astype(np.int8)
    masks = {"NEWS2_HIGH": p.bands == _HIGH, "NEWS2_MEDIUM": p.bands == _MEDIUM, "NEWS2_RED": p.red,
             "NEWS2_RISING": up}
    picked = []  # (patient, kind, prepared row index, count)
    for kind, mask in masks.items():
        idx = np.flatnonzero(mask)
        if not idx.size:
            continue
        g = group[idx]
        # worst row per patient: highest total, then newest; lexsort's last key is the primary one
        order = idx[np.lexsort((p.times[idx], p.totals[idx], g))]
        g_sorted = group[order]
        last = np.flatnonzero(np.append(g_sorted[1:] != g_sorted[:-1], True))
        counts = np.bincount(g, minlength=len(p.patients))
        for i in order[last]:
            picked.append((p.patients[group[i]], kind, i, int(counts[group[i]])))
    if not picked:
        return []
    rows = [p.rows[i] for _, _, i, _ in picked]
    details = _assessments(scored, rows)
    out = []
    for (patient, kind, i, count), detail in zip(picked, details, strict=True):
        detail["rising"] = bool(up[i])
        out.append(Finding(patient, kind, int(severity[i]), int(p.totals[i]), detail, count))
    out.sort(key=lambda f: (f.patient_id, f.kind))
    return out


_DETAIL = ("news2_total", "news2_band", "news2_red", "news2_complete", "news2_missing", "news2_monitoring",
           *SUBSCORE_COLUMNS)


def _assessments(scored: pa.Table, rows: list[int]) -> list[dict]:
    """The scored columns of the rows behind findings, as JSON-ready dicts (never the raw input values)."""
    cols = [c for c in _DETAIL if c in scored.column_names]
    part = scored.select(cols).take(pa.array(rows, pa.int64()))
    out = part.to_pylist()
    if "observed_at" in scored.column_names:
        when = _times(scored.take(pa.array(rows, pa.int64())), 0).to_pylist()
        for d, us in zip(out, when, strict=True):
            d["observed_at"] = (dt.datetime.fromtimestamp(us / 1e6, dt.timezone.utc).isoformat() if us else None)
    for d in out:
        d["sub_scores"] = {p: d.pop(c) for p, c in zip(PARAMETERS, SUBSCORE_COLUMNS, strict=True)}
    return out
