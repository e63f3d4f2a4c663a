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

from ..store.base import Findings

__all__ = ["KINDS", "Prepared", "findings", "prepare", "trend", "trend_sets"]

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


def trend(p: Prepared, stored: dict[str, bytes], window_us: int = DAY_US
          ) -> tuple[np.ndarray, np.ndarray, dict[str, bytes]]:
    """Per prepared row: rising and the baseline (lowest total of the window before it, -1: none); and each
    patient's history after these rows, as bytes for the store."""
    state = TrendState.empty(len(p.patients))
    for g, patient in enumerate(p.patients):
        data = stored.get(patient)
        if data is not None:
            state.load(g, bytes(data))
    up, base = rising(p.starts, p.times, p.totals, clinical_risk(p.bands), state, window_us)
    return up, base, {patient: state.to_bytes(g) for g, patient in enumerate(p.patients)}


def trend_sets(p: Prepared, stored: dict[str, bytes], complete: np.ndarray, window_us: int = DAY_US
               ) -> tuple[np.ndarray, np.ndarray, dict[str, bytes]]:
    """`trend` for assembled observation sets: (rising, baseline) per prepared row, and the histories to store.

    A partial set is checked against the history (its total is a lower bound, so a rise it shows is real) but does
    not join it: a set filling up, parameter by parameter, is not a patient getting better then worse.
    """
    state = TrendState.empty(len(p.patients))
    for g, patient in enumerate(p.patients):
        data = stored.get(patient)
        if data is not None:
            state.load(g, bytes(data))
    risk = clinical_risk(p.bands)
    up = np.zeros(len(p.rows), np.bool_)
    base = np.full(len(p.rows), -1, np.int8)
    for g in range(len(p.patients)):
        for i in range(p.starts[g], p.starts[g + 1]):
            one = TrendState(*(a[g:g + 1] if complete[i] else a[g:g + 1].copy() for a in (
                state.count, state.times, state.totals, state.last_time, state.last_risk, state.last_base)))
            r, b = rising(np.array([0, 1]), p.times[i:i + 1], p.totals[i:i + 1], risk[i:i + 1], one, window_us)
            up[i], base[i] = r[0], b[0]
    return up, base, {patient: state.to_bytes(g) for g, patient in enumerate(p.patients)}


def findings(scored: pa.Table, p: Prepared, up: np.ndarray, baseline: np.ndarray | None = None) -> Findings:
    """One finding per (patient, kind), ordered by patient then kind, so that every transaction takes row locks
    in the same order. Vectorised: a batch can find thousands."""
    group = np.repeat(np.arange(len(p.patients)), np.diff(p.starts))
    severity = np.where(p.bands == _HIGH, 3, np.where((p.bands == _MEDIUM) | p.red, 2, 1)).astype(np.int8)
    masks = (p.bands == _HIGH, p.bands == _MEDIUM, p.red, up)
    parts = []  # per kind: (group, kind code, worst row, count, severity)
    for code, mask in enumerate(masks):
        idx = np.flatnonzero(mask)
        if not idx.size:
            continue
        g = group[idx]
        # rows of a patient together, worst (highest total, then newest) last; lexsort's last key is primary
        order = idx[np.lexsort((p.times[idx], p.totals[idx], g))]
        g_sorted = group[order]
        first = np.flatnonzero(np.concatenate(([True], g_sorted[1:] != g_sorted[:-1])))
        last = np.append(first[1:], len(order)) - 1
        parts.append((g_sorted[first], np.full(len(first), code, np.int8), order[last],
                      np.diff(np.append(first, len(order))), np.maximum.reduceat(severity[order], first)))
    if not parts:
        return Findings.empty()
    g, kind, row, count, sev = (np.concatenate(col) for col in zip(*parts, strict=True))
    o = np.lexsort((kind, g))
    g, kind, row, count, sev = g[o], kind[o], row[o], count[o], sev[o]
    patients = np.asarray(p.patients, dtype=object)[g]
    return Findings(
        patient_ids=patients.tolist(),
        kinds=np.asarray(KINDS, dtype=object)[kind].tolist(),
        severity=sev.tolist(),
        worst_total=p.totals[row].tolist(),
        occurrences=count.tolist(),
        assessments=_assessment_json(scored, p.rows[row], up[row], None if baseline is None else baseline[row]),
        scored_rows=p.rows[row].tolist(),
    )


_DETAIL = ("news2_total", "news2_band", "news2_red", "news2_complete", "news2_missing", "news2_monitoring")
# The measurements of the worst row, when the scored table carries them (a batch does): the ISBAR message of the
# flag is built from them when it is read (flags/follow_up.py).
VALUES = ("resp_rate", "spo2", "spo2_scale", "on_oxygen", "systolic_bp", "pulse", "consciousness", "temperature",
          "age")


# Up to this many findings of a table without measurements (a push's) are written out in Python: the same text, but
# without the ~40 Arrow compute calls, which cost a push ~0.7 ms when it finds something.
SMALL_FINDINGS = 64


def _assessment_json(scored: pa.Table, rows: np.ndarray, rising_rows: np.ndarray,
                     baseline_rows: np.ndarray | None = None) -> list[str]:
    """The scored columns of each finding's worst row as JSON text, with the measurements when the table has them."""
    if len(rows) <= SMALL_FINDINGS and not any(name in scored.column_names for name in VALUES):
        return _assessment_json_small(scored, rows, rising_rows, baseline_rows)
    return _assessment_json_arrow(scored, rows, rising_rows, baseline_rows)


def _assessment_json_arrow(scored: pa.Table, rows: np.ndarray, rising_rows: np.ndarray,
                           baseline_rows: np.ndarray | None = None) -> list[str]:
    """_assessment_json built column-wise by Arrow, for batches with thousands of findings."""
    take = pa.array(rows, pa.int64())
    parts: list = []

    def field(name: str, values, quoted: bool = False) -> None:
        text = values.cast(pa.string())
        if quoted:
            text = pc.binary_join_element_wise('"', text, '"', "")
        parts.extend([f'"{name}":', pc.fill_null(text, "null"), ","])

    for name in _DETAIL:
        if name in scored.column_names:
            col = scored.column(name).take(take)
            if pa.types.is_dictionary(col.type):
                col = col.cast(pa.string())
            field(name, col, quoted=pa.types.is_string(col.type))
    if "observed_at" in scored.column_names:
        us = _times(scored.take(take), 0)
        when = pc.strftime(us.cast(_TS), format="%Y-%m-%dT%H:%M:%S")
        field("observed_at", pc.if_else(pc.equal(us, 0), pa.scalar(None, pa.string()),
                                        pc.binary_join_element_wise(when, "Z", "")), quoted=True)
    field("rising", pa.array(rising_rows, pa.bool_()))
    if baseline_rows is not None:
        base = pa.array(baseline_rows.astype(np.int16))
        field("lowest_total_24h", pc.if_else(pc.less(base, 0), pa.scalar(None, pa.int16()), base))
    present = [name for name in VALUES if name in scored.column_names]
    if present:
        parts.append('"values":{')
        for k, name in enumerate(present):
            col = scored.column(name).take(take)
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            if pa.types.is_floating(col.type):  # NaN and infinities are not JSON; such rows are rejected anyway
                col = pc.if_else(pc.is_finite(col), col, pa.scalar(None, col.type))
            quoted = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
            text = col.cast(pa.string())
            if quoted:
                text = pc.binary_join_element_wise('"', pc.replace_substring_regex(text, r'["\\\x00-\x1f]', ""),
                                                   '"', "")
            parts.extend([f'"{name}":', pc.fill_null(text, "null")])
            parts.append("," if k < len(present) - 1 else "},")
    parts.append('"sub_scores":{')
    for k, (param, col) in enumerate(zip(PARAMETERS, SUBSCORE_COLUMNS, strict=True)):
        parts.extend([f'"{param}":', pc.fill_null(scored.column(col).take(take).cast(pa.string()), "null")])
        if k < len(PARAMETERS) - 1:
            parts.append(",")
    parts.append("}}")
    arrays = [pa.chunked_array([a]) if isinstance(a, pa.Array) else a for a in parts]
    joined = pc.binary_join_element_wise("{", *arrays, "")
    return joined.to_pylist()


def _assessment_json_small(scored: pa.Table, rows: np.ndarray, rising_rows: np.ndarray,
                           baseline_rows: np.ndarray | None) -> list[str]:
    """_assessment_json's text for a few rows of a table without measurements, written out in Python (a test holds
    the two to the same text)."""
    names = [name for name in _DETAIL if name in scored.column_names]
    # quoted as the Arrow path quotes: a string column, or a dictionary of strings
    quoted = [pa.types.is_dictionary(t) or pa.types.is_string(t) for t in (scored.schema.field(n).type
                                                                            for n in names)]
    picked = scored.select([*names, *SUBSCORE_COLUMNS]).take(pa.array(rows, pa.int64())).to_pylist()
    times = (_times(scored.take(pa.array(rows, pa.int64())), 0).to_pylist() if "observed_at" in scored.column_names
             else None)
    out = []
    for k, row in enumerate(picked):
        parts = ["{"]
        for name, q in zip(names, quoted, strict=True):
            parts += [f'"{name}":', _json_value(row[name], q), ","]
        if times is not None:
            us = times[k]
            parts += ['"observed_at":', "null" if us == 0 else f'"{_utc_text(us)}Z"', ","]
        parts += ['"rising":', "true" if rising_rows[k] else "false", ","]
        if baseline_rows is not None:
            base = int(baseline_rows[k])
            parts += ['"lowest_total_24h":', "null" if base < 0 else str(base), ","]
        parts.append('"sub_scores":{')
        parts.append(",".join(f'"{param}":{_json_value(row[col], False)}'
                              for param, col in zip(PARAMETERS, SUBSCORE_COLUMNS, strict=True)))
        parts.append("}}")
        out.append("".join(parts))
    return out


def _json_value(v, quoted: bool) -> str:
    if v is None:
        return "null"
    if quoted:
        return f'"{v}"'
    if v is True or v is False:
        return "true" if v else "false"
    return str(v)


_EPOCH = dt.datetime(1970, 1, 1)


def _utc_text(us: int) -> str:
    """Arrow's strftime('%Y-%m-%dT%H:%M:%S') of a UTC microsecond time: seconds with six decimals, a 4-digit year."""
    t = _EPOCH + dt.timedelta(microseconds=us)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}."
            f"{t.microsecond:06d}")
