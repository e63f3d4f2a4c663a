"""Complex-needs risk for a table of GP journal extracts: one row per listed patient in, the same rows with the
published scores, a risk tier and its reasons out (docs/risk.md)."""

from __future__ import annotations

import contextlib
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import _pool
from .._jit import PARALLEL_LOCK
from ..arrow import check_schema, validate_column
from ..schema import SchemaError, missing_column_error
from ._lists import list_column
from .charlson import ICD10, ICPC2, SERIAL_BELOW, finish, match_three, tables
from .conditions import condition_tables, finish_conditions
from .medicines import polypharmacy_columns
from .policy import TIERS, Policy, apply_policy, load_policy

__all__ = ["RISK_COLUMNS", "score_risk", "warm_up"]

FOLLOW_UP = ("has_coordinator", "has_individual_plan", "has_followup_team")
RISK_COLUMNS = (
    "age_years", "charlson_groups", "charlson_1987", "charlson_quan2011", "multimorbidity", "polypharmacy_count",
    "polypharmacy_band", "medication_review_due", "efi", "efi_band", "risk_tier", "risk_points", "risk_reasons",
    "risk_policy", "followed_up", "unmet_need", "codes_unknown", "codes_malformed", "codes_underspecified",
    "reject_reason",
)
_HIGH = TIERS.index("HIGH")


def _age(batch: pa.RecordBatch | pa.Table, as_of: dt.date) -> pa.Array:
    names = batch.schema.names
    if "age" in names:
        age = batch.column("age")
        if not (pa.types.is_integer(age.type) or pa.types.is_floating(age.type) or pa.types.is_decimal(age.type)):
            raise SchemaError(f"column 'age' has type {age.type}; it must be a number of years", column="age")
        return pc.floor(age.cast(pa.float64())).cast(pa.int16())
    if "birth_date" in names:
        born = batch.column("birth_date")
        if not (pa.types.is_date(born.type) or pa.types.is_timestamp(born.type)):
            raise SchemaError(f"column 'birth_date' has type {born.type}; it must be a date", column="birth_date")
        y, m, d = pc.year(born), pc.month(born), pc.day(born)
        before = pc.or_(pc.greater(m, as_of.month), pc.and_(pc.equal(m, as_of.month), pc.greater(d, as_of.day)))
        return pc.subtract(pc.subtract(pa.scalar(as_of.year, pa.int64()), y), before.cast(pa.int64())).cast(pa.int16())
    raise SchemaError("a risk table needs 'age' (years) or 'birth_date' (date); found neither", column="age")


def _check_input(data: pa.Table) -> None:
    """One column per name; patient_id a text or integer id; every column valid Arrow data (a table from an Arrow
    IPC stream is not validated when pyarrow reads it, and the kernels read the code lists without bounds checks)."""
    check_schema(data.schema)
    names = data.schema.names
    for name in set(names):
        if names.count(name) > 1:
            raise SchemaError(f"column {name!r} appears {names.count(name)} times; keep one", column=name)
    if "patient_id" not in names:
        raise missing_column_error("patient_id", names)
    t = data.schema.field("patient_id").type
    value_type = t.value_type if pa.types.is_dictionary(t) else t
    if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)
            or pa.types.is_string_view(value_type) or pa.types.is_integer(value_type) or pa.types.is_null(t)):
        raise SchemaError(f"column 'patient_id' has type {t}; it must be text (or an integer id)",
                          column="patient_id")
    for i, name in enumerate(names):
        validate_column(data.column(i), name)


def _add16(a: pa.Array, b: pa.Array) -> pa.Array:
    """a + b of two int16 count columns, at most 32,767 (as the kernels count): never wrapped to a negative."""
    total = a.to_numpy(zero_copy_only=False).astype(np.int32) + b.to_numpy(zero_copy_only=False)
    return pa.array(np.minimum(total, 32767).astype(np.int16))


def _bool(batch, name: str) -> np.ndarray:
    """True where the column says true; null or absent is not true."""
    if name not in batch.schema.names:
        return np.zeros(batch.num_rows, np.bool_)
    col = batch.column(name)
    if not pa.types.is_boolean(col.type):
        raise SchemaError(f"column {name!r} has type {col.type}; it must be true/false", column=name)
    return pc.fill_null(col, False).to_numpy(zero_copy_only=False)


def score_risk(data: pa.Table | pa.RecordBatch, *, policy: Policy | None = None, as_of: dt.date | None = None,
               parallel: bool | None = None, invalid_ids: np.ndarray | None = None) -> pa.Table:
    """Score every row; return its columns followed by RISK_COLUMNS. A missing required column raises
    SchemaError naming it; a bad code is counted in its row, never an error. Rows marked in `invalid_ids`
    (national_id.check_national_ids) are rejected: reject_reason INVALID_NATIONAL_ID, every score null."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if not isinstance(data, pa.Table):
        raise TypeError(f"score_risk takes a pyarrow Table or RecordBatch, not {type(data).__name__}")
    _check_input(data)
    policy = policy or load_policy()
    as_of = as_of or dt.date.today()
    n = data.num_rows

    def col(name):
        return data.column(name) if name in data.schema.names else None

    age = _age(data, as_of)
    run_parallel = n >= SERIAL_BELOW if parallel is None else parallel
    # One parallel kernel at a time (_jit.PARALLEL_LOCK): two ScorePatients calls at once aborted the server
    # under Numba's workqueue threading layer, the one used where OpenMP and TBB are missing.
    with PARALLEL_LOCK if run_parallel else contextlib.nullcontext():
        # One pass per diagnosis column finds the Charlson groups, the long-term conditions and the frailty
        # deficits.
        found = _pool.zeros(n, np.uint64), _pool.zeros(n, np.uint64), _pool.zeros(n, np.uint64)
        counts = _pool.zeros(n, np.int16), _pool.zeros(n, np.int16), _pool.zeros(n, np.int16)
        for name, system in (("icd10", ICD10), ("icpc2", ICPC2)):
            charlson_table = tables().icd10 if name == "icd10" else tables().icpc2
            match_three(n, list_column(col(name), name), (charlson_table, *condition_tables(name)), system, found,
                        counts, run_parallel)
        charlson = finish(n, found[0], counts, run_parallel)
        drugs = polypharmacy_columns(n, col("atc"), parallel=run_parallel)
        conditions = finish_conditions(n, found[1], found[2], col("atc"),
                                       drugs["polypharmacy_count"].to_numpy(zero_copy_only=False),
                                       parallel=run_parallel)
    scores = {"age": age, **charlson, **drugs, **conditions}
    for name in ("admissions_12m", "emergency_visits_12m", "gp_contacts_12m"):
        if name in data.schema.names:
            scores[name] = data.column(name)
    if "lives_alone" in data.schema.names:
        scores["lives_alone"] = data.column("lives_alone")
    tiered = apply_policy(policy, scores, parallel=run_parallel)
    followed = np.zeros(n, np.bool_)
    for name in FOLLOW_UP:
        followed |= _bool(data, name)
    tier_codes = tiered["risk_tier"].indices.to_numpy()
    out = {
        "age_years": age,
        **{k: charlson[k] for k in ("charlson_groups", "charlson_1987", "charlson_quan2011")},
        "multimorbidity": conditions["multimorbidity"],
        **{k: drugs[k] for k in ("polypharmacy_count", "polypharmacy_band", "medication_review_due")},
        "efi": conditions["efi"],
        "efi_band": conditions["efi_band"],
        **tiered,
        "followed_up": pa.array(followed),
        "unmet_need": pa.array((tier_codes >= _HIGH) & ~followed),
        "codes_unknown": charlson["codes_unknown"],
        "codes_malformed": _add16(charlson["codes_malformed"], drugs["atc_malformed"]),
        "codes_underspecified": _add16(charlson["codes_underspecified"], drugs["atc_underspecified"]),
        "reject_reason": pa.nulls(n, pa.string()),
    }
    if invalid_ids is not None and np.any(invalid_ids):
        keep_row = pa.array(~np.asarray(invalid_ids, np.bool_))
        out = {name: pc.if_else(keep_row, v, pa.nulls(n, v.type)) for name, v in out.items()}
        out["reject_reason"] = pc.if_else(keep_row, pa.nulls(n, pa.string()), "INVALID_NATIONAL_ID")
    keep = [name for name in data.schema.names if name not in out]
    return pa.Table.from_arrays([data.column(name) for name in keep] + [pa.chunked_array([v]) if isinstance(
        v, pa.Array) else v for v in out.values()], names=keep + list(out))


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every risk kernel, serial and parallel, so no request pays for it."""
    codes = pa.array([["I50.9", "E11"], None, ["x"]] * 4, pa.list_(pa.string()))
    icpc = pa.array([["K77"], [], None] * 4, pa.list_(pa.string()))
    atc = pa.array([["C07AB02", "C07"], None, []] * 4, pa.list_(pa.string()))
    table = pa.table({"patient_id": ["a", "b", "c"] * 4, "age": [80, 50, None] * 4, "icd10": codes, "icpc2": icpc,
                      "atc": atc})
    # The kernels are compiled per offset width: list<string> (32-bit) and large_list<large_string> (64-bit).
    large = pa.large_list(pa.large_string())
    wide = table.set_column(2, "icd10", codes.cast(large)).set_column(3, "icpc2", icpc.cast(large)).set_column(
        4, "atc", atc.cast(large))
    for parallel in (False, True):
        for t in (table, wide):
            score_risk(t, parallel=parallel)
