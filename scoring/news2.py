"""NEWS2 for Arrow batches: the one way into the deterioration kernel.

Royal College of Physicians. National Early Warning Score (NEWS) 2. London: RCP, 2017. What is computed, the
rounding rule and the reject codes are written out in docs/news2.md.
"""

from __future__ import annotations

import threading
import unicodedata

import numpy as np
import pyarrow as pa

from . import _news2_kernel as K
from ._jit import PARALLEL_LOCK
from .arrow import (
    BOOL,
    F64,
    I8,
    bool_array,
    check_schema,
    dictionary_array,
    int8_array,
    numeric_column,
    readonly,
    string_array,
    validate_column,
    validity,
)
from .schema import (
    BANDS,
    MISSING_NAMES,
    MONITORING,
    NOT_APPLICABLE_REASONS,
    REJECT_REASONS,
    REQUIRED_COLUMNS,
    RESULT_COLUMNS,
    SchemaError,
    missing_column_error,
    result_schema,
)

__all__ = ["SERIAL_BELOW", "Raw", "score_news2", "score_one", "score_values", "warm_up"]

# Below this many rows the serial twin runs: handing work to the thread pool costs more than it saves.
SERIAL_BELOW = 10_000


_RESULT_SCHEMA = result_schema()
_DICTIONARIES = {
    "news2_band": string_array(BANDS),
    "news2_missing": string_array(MISSING_NAMES),
    "news2_not_applicable_reason": string_array(NOT_APPLICABLE_REASONS),
    "news2_monitoring": string_array(MONITORING),
    "reject_reason": string_array(REJECT_REASONS),
}

# Accepted spellings beyond the single letters, as a nurse's app or a journal may send them.
_A, _C, _V, _P, _U = 2, 3, 4, 5, 6  # stored codes, see _news2_kernel.CONSCIOUSNESS_CODES
_WORDS = {
    "A": _A, "ALERT": _A, "VÅKEN": _A,
    "C": _C, "CONFUSED": _C, "CONFUSION": _C, "NEW CONFUSION": _C, "NY FORVIRRING": _C, "FORVIRRET": _C,
    "V": _V, "VOICE": _V, "TILTALE": _V, "REAGERER PÅ TILTALE": _V,
    "P": _P, "PAIN": _P, "SMERTE": _P, "REAGERER PÅ SMERTE": _P,
    "U": _U, "UNRESPONSIVE": _U, "INGEN RESPONS": _U, "IKKE KONTAKTBAR": _U,
}
_UNKNOWN = 1


def _word_code(value: str | None) -> int:
    if value is None:
        return 0
    code = _WORDS.get(value)  # written as listed ("A", "ALERT"): no normalising
    if code is not None:
        return code
    key = unicodedata.normalize("NFC", value).strip().upper()
    return _WORDS.get(key, _UNKNOWN)


def _string_codes(arr: pa.Array, run_parallel: bool) -> np.ndarray:
    """Stored consciousness codes (0 null, 1 unknown, 2-6 ACVPU) for a plain string array."""
    t = arr.type
    if pa.types.is_string_view(t):
        arr = arr.cast(pa.string())
        t = arr.type
    offsets_type = np.int64 if pa.types.is_large_string(t) else np.int32
    bufs = arr.buffers()
    offsets = readonly(
        np.frombuffer(bufs[1], offsets_type, count=len(arr) + 1, offset=arr.offset * np.dtype(offsets_type).itemsize)
    )
    # An all-empty column has no data bytes; one zero byte keeps the kernel's reads in bounds.
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None and bufs[2].size else np.zeros(1, np.uint8)
    valid, voff = validity(arr)
    out = np.empty(len(arr), np.int8)
    (K.letters_parallel if run_parallel else K.letters_serial)(offsets, readonly(data), valid, voff, out)
    # Words and anything else that is not one letter: resolved once per distinct value, not per row.
    rows = np.flatnonzero(out == _UNKNOWN)
    if rows.size:
        encoded = arr.take(pa.array(rows)).dictionary_encode()
        mapped = np.array([_word_code(v) for v in encoded.dictionary.to_pylist()], np.int8)
        out[rows] = mapped[np.asarray(encoded.indices)]
    return readonly(out)


def _consciousness(arr: pa.Array, run_parallel: bool) -> tuple[tuple, np.ndarray]:
    t = arr.type
    if pa.types.is_null(t):
        return numeric_column(arr, "consciousness"), K.CONSCIOUSNESS_CODES
    if pa.types.is_dictionary(t) and _is_text(t.value_type):
        dict_codes = _string_codes(arr.dictionary, False)
        return numeric_column(arr.indices, "consciousness"), readonly(K.CONSCIOUSNESS_CODES[dict_codes])
    if _is_text(t):
        codes = pa.Array.from_buffers(pa.int8(), len(arr), [None, pa.py_buffer(_string_codes(arr, run_parallel))])
        return numeric_column(codes, "consciousness"), K.CONSCIOUSNESS_CODES
    raise SchemaError(
        f"column 'consciousness' has type {t}; it must be text (A, C, V, P or U)", column="consciousness"
    )


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _check_columns(schema: pa.Schema) -> None:
    check_schema(schema)
    names = schema.names
    for name in REQUIRED_COLUMNS:
        if name not in names:
            raise missing_column_error(name, names)
    for name in set(names):
        if names.count(name) > 1:
            raise SchemaError(f"column {name!r} appears {names.count(name)} times; keep one", column=name)


def _check_arrays(batch: pa.RecordBatch) -> None:
    for i, name in enumerate(batch.schema.names):
        validate_column(batch.column(i), name)


def _score_batch(batch: pa.RecordBatch, force_parallel: bool | None, row_rejects: np.ndarray | None = None
                 ) -> pa.RecordBatch:
    _check_arrays(batch)
    run_parallel = batch.num_rows >= SERIAL_BELOW if force_parallel is None else force_parallel
    if run_parallel:
        with PARALLEL_LOCK:
            return _score(batch, True, row_rejects)
    return _score(batch, False, row_rejects)


_INVALID_ID = REJECT_REASONS.index("INVALID_NATIONAL_ID")
_FUTURE = REJECT_REASONS.index("OBSERVED_IN_FUTURE")


def reject_invalid_ids(raw: Raw, bad: np.ndarray, code: int = _INVALID_ID) -> None:
    """Rows scored with their patient taken as absent (so rejected first, nothing else scored) get the reason
    `code` (INVALID_NATIONAL_ID, OBSERVED_IN_FUTURE) instead of MISSING_PATIENT_ID."""
    rows = np.flatnonzero(bad)
    if len(rows):
        raw.reject[rows] = code


def _row_rejects(n: int, invalid_ids: np.ndarray | None, future: np.ndarray | None) -> np.ndarray | None:
    """Per row the reject code decided before the kernel (-1: none); a national id problem comes first."""
    if invalid_ids is None and future is None:
        return None
    codes = np.full(n, -1, np.int8)
    for mask, code in ((future, _FUTURE), (invalid_ids, _INVALID_ID)):  # the later wins: national id first
        if mask is not None:
            mask = np.asarray(mask, np.bool_)
            if mask.shape != (n,):
                raise ValueError(f"a reject mask has {mask.shape} entries for {n} rows")
            codes[mask] = code
    return codes


def _score(batch: pa.RecordBatch, run_parallel: bool, row_rejects: np.ndarray | None = None) -> pa.RecordBatch:
    n = batch.num_rows
    col = batch.column
    names = batch.schema.names

    def opt(name):
        return col(name) if name in names else None

    pid_bits, pid_off = validity(col("patient_id"))
    bad = None if row_rejects is None else row_rejects >= 0
    if bad is not None and bad.any():
        present = col("patient_id").is_valid().to_numpy(zero_copy_only=False) & ~bad
        pid_bits, pid_off = _bits(present), 0
    cons, cons_codes = _consciousness(col("consciousness"), run_parallel)
    # In the kernel's PASS_ORDER: scale, oxygen, resp, spo2, sbp, pulse, consciousness, temperature, age, pregnant
    cols = (
        numeric_column(opt("spo2_scale"), "spo2_scale"),
        numeric_column(col("on_oxygen"), "on_oxygen"),
        numeric_column(col("resp_rate"), "resp_rate"),
        numeric_column(col("spo2"), "spo2"),
        numeric_column(col("systolic_bp"), "systolic_bp"),
        numeric_column(col("pulse"), "pulse"),
        cons,
        numeric_column(col("temperature"), "temperature"),
        numeric_column(opt("age"), "age"),
        numeric_column(opt("pregnant"), "pregnant"),
    )
    raw = _run(n, pid_bits, pid_off, cols, cons_codes, run_parallel)
    if bad is not None and bad.any():
        raw.reject[bad] = row_rejects[bad]
    out = raw.arrays()
    keep = [i for i, name in enumerate(names) if name not in RESULT_COLUMNS]
    arrays = [batch.column(i) for i in keep] + out
    fields = [batch.schema.field(i) for i in keep] + list(_RESULT_SCHEMA)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields, metadata=batch.schema.metadata))


class Raw:
    """The kernel's outputs for n rows: codes and bitmaps, before they become Arrow arrays (or protobuf)."""

    __slots__ = ("n", "sub", "sub_valid", "total", "band", "missing", "monitoring", "reject", "na_reason", "bm")

    def __init__(self, n: int):
        nbytes = (n + 7) // 8
        self.n = n
        self.sub = np.empty((7, n), np.int8)
        self.sub_valid = np.empty((7, nbytes), np.uint8)
        self.total, self.band, self.missing, self.monitoring, self.reject, self.na_reason = (
            np.empty(n, np.int8) for _ in range(6))
        self.bm = np.empty((K.N_BITMAPS, nbytes), np.uint8)

    def outputs(self) -> tuple:
        return (self.sub, self.sub_valid, self.total, self.band, self.missing, self.monitoring, self.reject,
                self.na_reason, self.bm)

    def bits(self, which: int) -> np.ndarray:
        """One of the kernel's bitmaps (K.BM_*) as booleans."""
        return np.unpackbits(self.bm[which], count=self.n, bitorder="little").view(np.bool_)

    def sub_bits(self, k: int) -> np.ndarray:
        return np.unpackbits(self.sub_valid[k], count=self.n, bitorder="little").view(np.bool_)

    def arrays(self) -> list[pa.Array]:
        """The result columns, in RESULT_COLUMNS order."""
        n, bm = self.n, self.bm
        scored = bm[K.BM_SCORED]
        out = [int8_array(self.sub[k], self.sub_valid[k]) for k in range(7)]
        out += [
            int8_array(self.total, scored),
            dictionary_array(self.band, scored, _DICTIONARIES["news2_band"]),
            bool_array(bm[K.BM_RED], scored, n),
            bool_array(bm[K.BM_COMPLETE], scored, n),
            dictionary_array(self.missing, bm[K.BM_MISSING], _DICTIONARIES["news2_missing"]),
            bool_array(bm[K.BM_APPLICABLE], bm[K.BM_APPLICABLE_VALID], n),
            dictionary_array(self.na_reason, bm[K.BM_NA], _DICTIONARIES["news2_not_applicable_reason"]),
            dictionary_array(self.monitoring, scored, _DICTIONARIES["news2_monitoring"]),
            dictionary_array(self.reject, bm[K.BM_REJECT], _DICTIONARIES["reject_reason"]),
        ]
        return out


def _run(n, pid_bits, pid_off, cols, cons_codes, run_parallel: bool) -> Raw:
    raw = Raw(n)
    if run_parallel:
        K.news2_parallel(n, pid_bits, pid_off, *cols, cons_codes, *raw.outputs())
    else:
        K.news2_serial(0, n, pid_bits, pid_off, cols, cons_codes, *raw.outputs(), *K.scratch_for_block())
    return raw


_NUMBERS = ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature", "spo2_scale", "age")
_FLAGS = ("on_oxygen", "pregnant")


_ONE_ROW_BITS = (readonly(np.zeros(1, np.uint8)), readonly(np.ones(1, np.uint8)))


def _bits(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask, np.bool_)
    if mask.shape == (1,):  # a single push: one of two constant bitmaps, not a packbits and a view per column
        return _ONE_ROW_BITS[int(mask[0])]
    return readonly(np.packbits(mask, bitorder="little"))


def score_values(patient_present: np.ndarray, values: dict, consciousness: list) -> Raw:
    """Score rows given as numpy arrays, for callers that hold no Arrow data (protobuf observations): the serial
    kernel, no Arrow arrays made. `values` maps column names (resp_rate, spo2, systolic_bp, pulse, temperature,
    spo2_scale, age: float64; on_oxygen, pregnant: bool) to (values, present) array pairs; a missing name is an
    absent column. `consciousness` holds the text per row (None: not assessed).
    """
    n = len(consciousness)
    present = np.asarray(patient_present, np.bool_)
    if present.shape != (n,):
        raise ValueError("patient_present, values and consciousness must describe the same rows")

    def column(name):
        if name not in values:
            return numeric_column(None, name)
        v, ok = values[name]
        if len(v) != n or len(ok) != n:
            raise ValueError(f"{name}: {len(v)} values for {n} rows")
        if name in _FLAGS:
            return (BOOL, _bits(v), 0, _bits(ok), 0)
        return (F64, readonly(np.ascontiguousarray(v, np.float64).view(np.uint8)), 0, _bits(ok), 0)

    codes = readonly(np.array([_word_code(c) for c in consciousness], np.int8))
    cons = (I8, readonly(codes.view(np.uint8)), 0, readonly(np.empty(0, np.uint8)), 0)
    cols = (column("spo2_scale"), column("on_oxygen"), column("resp_rate"), column("spo2"), column("systolic_bp"),
            column("pulse"), cons, column("temperature"), column("age"), column("pregnant"))
    return _run(n, _bits(present), 0, cols, K.CONSCIOUSNESS_CODES, False)


_ONE_ABSENT = numeric_column(None, "")
_ONE_TRUE = _ONE_ROW_BITS[1]
_ONE_FLAG = tuple((BOOL, _ONE_ROW_BITS[v], 0, _ONE_TRUE, 0) for v in (0, 1))
_ONE_CONSCIOUSNESS = tuple((I8, readonly(np.array([c], np.int8).view(np.uint8)), 0, readonly(np.empty(0, np.uint8)), 0)
                           for c in range(len(K.CONSCIOUSNESS_CODES)))
_ONE_SLOT = {name: k for k, name in enumerate(_NUMBERS)}
_scratch = threading.local()


def score_one(patient_present: bool, numbers: tuple, flags: tuple, consciousness: str | None) -> Raw:
    """score_values for one row, as a device's push brings it: `numbers` holds the values of _NUMBERS (None: not
    measured), `flags` on_oxygen and pregnant (None: not given). What score_values costs per column (two arrays,
    a bitmap and a view each) was most of a push; here the row's numbers share one array and every bitmap is a
    constant. Same kernel, same results (tests/scoring/test_score_values.py)."""
    buf = np.array([0.0 if v is None else v for v in numbers], np.float64)
    buf.flags.writeable = False
    u8 = buf.view(np.uint8)

    def number(name):
        k = _ONE_SLOT[name]
        return _ONE_ABSENT if numbers[k] is None else (F64, u8[8 * k:8 * k + 8], 0, _ONE_TRUE, 0)

    oxygen, pregnant = flags
    cols = (number("spo2_scale"), _ONE_ABSENT if oxygen is None else _ONE_FLAG[bool(oxygen)], number("resp_rate"),
            number("spo2"), number("systolic_bp"), number("pulse"), _ONE_CONSCIOUSNESS[_word_code(consciousness)],
            number("temperature"), number("age"), _ONE_ABSENT if pregnant is None else _ONE_FLAG[bool(pregnant)])
    scratch = getattr(_scratch, "block", None)
    if scratch is None:  # the kernel's working memory, once per thread: a push allocates only its outputs
        scratch = _scratch.block = K.scratch_for_block()
    raw = Raw(1)
    K.news2_serial(0, 1, _ONE_ROW_BITS[bool(patient_present)], 0, cols, K.CONSCIOUSNESS_CODES, *raw.outputs(),
                   *scratch)
    return raw


def score_news2(data: pa.Table | pa.RecordBatch, *, parallel: bool | None = None,
                invalid_ids: np.ndarray | None = None, future: np.ndarray | None = None
                ) -> pa.Table | pa.RecordBatch:
    """Score every row of an observation table; return its columns followed by the NEWS2 result columns.

    A bad row is rejected with a `reject_reason` and never stops the batch; a missing required column raises
    `SchemaError` naming it. Result columns already present in the input are replaced. `parallel` forces the
    parallel (True) or serial (False) kernel; by default batches under SERIAL_BELOW rows run serially.
    `invalid_ids` (a bool per row, from national_id.check_national_ids) rejects those rows with
    INVALID_NATIONAL_ID, `future` (a bool per row: measured later than the caller accepts) with OBSERVED_IN_FUTURE.
    """
    codes = _row_rejects(data.num_rows, invalid_ids, future)
    if isinstance(data, pa.RecordBatch):
        _check_columns(data.schema)
        return _score_batch(data, parallel, codes)
    if not isinstance(data, pa.Table):
        raise TypeError(f"score_news2 takes a pyarrow Table or RecordBatch, not {type(data).__name__}")
    _check_columns(data.schema)
    batches, start = [], 0
    for b in data.to_batches():
        batches.append(_score_batch(b, parallel, None if codes is None else codes[start:start + b.num_rows]))
        start += b.num_rows
    if not batches:
        empty = data.schema.empty_table().to_batches() or [pa.RecordBatch.from_pylist([], schema=data.schema)]
        batches = [_score_batch(empty[0], parallel)]
    return pa.Table.from_batches(batches)


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel, so that no request pays for it."""
    for cons_type in (pa.string(), pa.large_string(), pa.dictionary(pa.int8(), pa.string())):
        table = pa.table(
            {
                "patient_id": pa.array(["a", None, "c"]),
                "resp_rate": pa.array([14, None, 30], pa.int16()),
                "spo2": pa.array([97.0, 90.0, None]),
                "on_oxygen": pa.array([False, True, None]),
                "systolic_bp": pa.array([120, 95, None], pa.int32()),
                "pulse": pa.array([70.0, 135.0, None], pa.float32()),
                "consciousness": pa.array(["A", "v", None]).cast(cons_type),
                "temperature": pa.array([36.8, 39.2, None], pa.float32()),
                "spo2_scale": pa.array([1, 2, None], pa.int8()),
                "age": pa.array([40, 12, None], pa.int64()),
                "pregnant": pa.array([False, None, True]),
            }
        )
        for run_parallel in (False, True):
            score_news2(table, parallel=run_parallel)
    # Dictionary columns of every index type a client may send (read as one of four signed types).
    for index_type in (pa.int8(), pa.int16(), pa.int32(), pa.int64()):
        validate_column(pa.DictionaryArray.from_arrays(pa.array([0], index_type), pa.array(["A"])), "w")

