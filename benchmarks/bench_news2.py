"""NEWS2 scoring speed: Varde against what users would write instead, and against a read of the same bytes.

    python benchmarks/bench_news2.py [--rows N] [--repeat K] [--out FILE] [--skip-python] [--markdown]

Every peer computes news2_total per row (the sum of the present items, a null item adds 0) on the same
synthetic table (benchmarks/_data.py), with the quantisation rule of docs/news2.md for the float32
temperature.
Each peer's totals are checked against Varde's `news2_total`; any mismatch fails the run (exit 1).

What is inside each timing (input conversion is done once, outside, for every peer):
- varde: the public call `score_news2(table)`, Arrow in -> Arrow table with all result columns out.
- floor: a Numba parallel sum over every input buffer the kernel reads (values, validity bitmaps, the
  on_oxygen bitmap, the consciousness indices): the memory-bandwidth floor for "the same bytes".
- write floor: a Numba parallel fill of fresh buffers the size of Varde's result columns: what producing the
  outputs costs in memory traffic alone (no peer but Varde writes them; the others give the total only).
- read+write floor: both in one parallel pass, block by block: no kernel that reads the inputs and writes the
  result columns can be faster.
- numpy: np.select/np.where over numpy views of the columns, validity as bool masks prepared beforehand.
- polars: a lazy select (expressions) + collect, on a DataFrame made once with pl.from_arrow.
- duckdb: a CASE WHEN query over the registered Arrow table, materialised as an Arrow table.
- python: a per-row loop over column lists (made beforehand) on a 200k-row subset, extrapolated per row.

Targets (/work/shared/targets.md): varde <= 1.5x the floor; >= 15x faster than Polars and DuckDB.
On 2 cores any other busy process skews the ratios: the run ends by saying how many cores others used.
"""

from __future__ import annotations

import argparse
import math
import statistics
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import numba
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import generate  # noqa: E402
from _timing import cpu_seconds, machine_line, time_runs  # noqa: E402

PYTHON_SUBSET = 200_000
# The columns score_news2 reads; patient_id only for its validity (null -> rejected).
ITEM_COLUMNS = ("resp_rate", "spo2", "on_oxygen", "systolic_bp", "pulse", "consciousness", "temperature")
READ_COLUMNS = ("patient_id", *ITEM_COLUMNS, "spo2_scale")
PACKAGES = ("numpy", "numba", "pyarrow", "polars", "duckdb")  # their versions in the machine line


# ---------------------------------------------------------------------------------------------- timing


# ---------------------------------------------------------------------------------------------- floor


@numba.njit(nogil=True, inline="always")
def _sum_slice(buffers, b, n_blocks):
    """The sum of the b-th of n_blocks slices of every buffer: summing 64-bit words keeps the loop memory-bound."""
    acc = np.uint64(0)
    for i in range(len(buffers)):
        buf = buffers[i]
        m = buf.shape[0]
        for j in range(m * b // n_blocks, m * (b + 1) // n_blocks):
            acc += buf[j]
    return acc


@numba.njit(nogil=True, inline="always")
def _fill_slice(buffers, b, n_blocks, value):
    """Write the b-th of n_blocks slices of every buffer, a 64-bit word at a time."""
    for i in range(len(buffers)):
        buf = buffers[i]
        m = buf.shape[0]
        for j in range(m * b // n_blocks, m * (b + 1) // n_blocks):
            buf[j] = value + np.uint64(j)


@numba.njit(parallel=True, nogil=True)
def _read_all(buffers, n_blocks):
    # Block b reads the b-th slice of every buffer, as a row-blocked kernel would.
    total = np.uint64(0)
    for b in numba.prange(n_blocks):
        total += _sum_slice(buffers, b, n_blocks)
    return total


def _used_bytes(arr: pa.Array, buf_index: int, bit_width: int) -> np.ndarray | None:
    """The bytes of one buffer of `arr` that its rows cover, as uint8 (None when the buffer is absent)."""
    buf = arr.buffers()[buf_index]
    if buf is None:
        return None
    if bit_width == 1:
        start, stop = arr.offset // 8, (arr.offset + len(arr) + 7) // 8
    else:
        start, stop = arr.offset * bit_width // 8, (arr.offset + len(arr)) * bit_width // 8
    return np.frombuffer(buf, dtype=np.uint8)[start:stop]


def floor_buffers(table: pa.Table) -> list[np.ndarray]:
    """Every input buffer score_news2 has to read, as uint8 arrays."""
    out = []
    for name in READ_COLUMNS:
        for chunk in table.column(name).chunks:
            if pa.types.is_dictionary(chunk.type):
                # The (tiny) dictionary is read once; the rows are the indices and their validity.
                chunk = chunk.indices
            parts = [(0, 1)]  # validity bitmap
            if name != "patient_id":
                parts.append((1, chunk.type.bit_width))
            for idx, width in parts:
                b = _used_bytes(chunk, idx, width)
                if b is not None and len(b):
                    out.append(b)
    return out


def make_floor(table: pa.Table) -> tuple[Callable[[], int], int]:
    """A callable reading every input byte in parallel, and the number of bytes it reads."""
    raw = floor_buffers(table)
    n_bytes = sum(len(b) for b in raw)
    words = tuple(b[: len(b) // 8 * 8].view(np.uint64) for b in raw)
    tails = [b[len(b) // 8 * 8 :] for b in raw if len(b) % 8]
    n_blocks = 8 * numba.get_num_threads()

    def run() -> int:
        s = int(_read_all(words, n_blocks))
        for t in tails:  # < 8 bytes per buffer
            s += int(t.sum())
        return s

    return run, n_bytes


# ---------------------------------------------------------------------------------------------- numpy


def _values_and_mask(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    arr = col.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.indices
    valid = None if arr.null_count == 0 else arr.is_valid().to_numpy(zero_copy_only=False)
    return pc.fill_null(arr, False if pa.types.is_boolean(arr.type) else 0).to_numpy(zero_copy_only=False), valid


def prepare_numpy(table: pa.Table) -> dict:
    cols = {name: _values_and_mask(table.column(name)) for name in (*ITEM_COLUMNS, "spo2_scale")}
    dictionary = table.column("consciousness").combine_chunks().dictionary.to_pylist()
    # A dictionary of strings -> points: 0 for alert, 3 for anything else (the data holds only ACVPU).
    cols["consciousness_points"] = np.array([0 if s.strip().upper() == "A" else 3 for s in dictionary], np.int8)
    cols["n"] = table.num_rows
    return cols


def temperature_tenths_numpy(t: np.ndarray) -> np.ndarray:
    """Temperature in whole tenths per docs/news2.md: half away from zero on the decimal the sender meant.

    A float32 is on a half-way point when it is the nearest float32 to (k + 0.5) / 10; otherwise plain
    rounding of the exact value is right (and never a tie). Valid temperatures are positive, so "away from
    zero" is up.
    """
    x = t.astype(np.float64) * 10  # exact: a float32 times 10 fits in a float64
    k = np.floor(x)
    on_half = ((k + 0.5) / 10).astype(t.dtype) == t
    return np.where(on_half, k + 1, np.rint(x))


def news2_numpy(a: dict) -> np.ndarray:
    i8 = np.int8
    total = np.zeros(a["n"], dtype=i8)

    def add(points, valid):
        nonlocal total
        total += points if valid is None else np.where(valid, points, i8(0))

    rr, rr_ok = a["resp_rate"]
    add(np.select([rr <= 8, rr <= 11, rr <= 20, rr <= 24], [i8(3), i8(1), i8(0), i8(2)], i8(3)), rr_ok)

    s, s_ok = a["spo2"]
    scale, scale_ok = a["spo2_scale"]
    oxy, oxy_ok = a["on_oxygen"]
    on_o2 = oxy if oxy_ok is None else oxy & oxy_ok
    scale2 = scale == 2 if scale_ok is None else (scale == 2) & scale_ok
    s1 = np.select([s <= 91, s <= 93, s <= 95], [i8(3), i8(2), i8(1)], i8(0))
    s2 = np.select(
        [s <= 83, s <= 85, s <= 87, (s <= 92) | ~on_o2, s <= 94, s <= 96],
        [i8(3), i8(2), i8(1), i8(0), i8(1), i8(2)],
        i8(3),
    )
    add(np.where(scale2, s2, s1), s_ok)

    total += np.where(on_o2, i8(2), i8(0))  # a null on_oxygen is False in on_o2: adds 0

    bp, bp_ok = a["systolic_bp"]
    add(np.select([bp <= 90, bp <= 100, bp <= 110, bp <= 219], [i8(3), i8(2), i8(1), i8(0)], i8(3)), bp_ok)

    p, p_ok = a["pulse"]
    add(
        np.select([p <= 40, p <= 50, p <= 90, p <= 110, p <= 130], [i8(3), i8(1), i8(0), i8(1), i8(2)], i8(3)),
        p_ok,
    )

    c, c_ok = a["consciousness"]
    add(a["consciousness_points"][c], c_ok)

    t, t_ok = a["temperature"]
    q = temperature_tenths_numpy(t)
    add(np.select([q <= 350, q <= 360, q <= 380, q <= 390], [i8(3), i8(1), i8(0), i8(1)], i8(2)), t_ok)
    return total


# ---------------------------------------------------------------------------------------------- polars


def _pl_item(col: str, bands: list[tuple[object, int]], otherwise: int, value: pl.Expr | None = None) -> pl.Expr:
    """Points from ascending upper bounds; a null value scores 0.

    The null test comes first: a null condition in when/then counts as false and would fall to `otherwise`.
    """
    v = pl.col(col) if value is None else value
    expr = pl.when(v.is_null()).then(0)
    for bound, points in bands:
        expr = expr.when(v <= bound).then(points)
    return expr.otherwise(otherwise)


def polars_total_expr() -> pl.Expr:
    s = pl.col("spo2")
    on_o2 = pl.col("on_oxygen").fill_null(False)
    scale1 = pl.when(s <= 91).then(3).when(s <= 93).then(2).when(s <= 95).then(1).otherwise(0)
    scale2 = (
        pl.when(s <= 83).then(3).when(s <= 85).then(2).when(s <= 87).then(1)
        .when((s <= 92) | ~on_o2).then(0)
        .when(s <= 94).then(1).when(s <= 96).then(2).otherwise(3)
    )  # fmt: skip
    spo2 = pl.when(s.is_null()).then(0).when(pl.col("spo2_scale").fill_null(1) == 2).then(scale2).otherwise(scale1)

    t = pl.col("temperature")
    x = t.cast(pl.Float64) * 10
    k = x.floor()
    tenths = pl.when(((k + 0.5) / 10).cast(pl.Float32) == t).then(k + 1).otherwise(x.round(0))

    return (
        _pl_item("resp_rate", [(8, 3), (11, 1), (20, 0), (24, 2)], 3)
        + spo2
        + pl.when(on_o2).then(2).otherwise(0)
        + _pl_item("systolic_bp", [(90, 3), (100, 2), (110, 1), (219, 0)], 3)
        + _pl_item("pulse", [(40, 3), (50, 1), (90, 0), (110, 1), (130, 2)], 3)
        + pl.when(pl.col("consciousness").is_null() | (pl.col("consciousness") == "A")).then(0).otherwise(3)
        + _pl_item("temperature", [(350, 3), (360, 1), (380, 0), (390, 1)], 2, value=tenths)
    ).alias("news2_total")


# ---------------------------------------------------------------------------------------------- duckdb

DUCKDB_SQL = """
WITH q AS (
    SELECT *, coalesce(on_oxygen, false) AS on_o2, temperature::DOUBLE * 10 AS t_x
    FROM obs
), r AS (
    -- temperature in tenths per docs/news2.md (see temperature_tenths_numpy)
    SELECT *, CASE WHEN ((floor(t_x) + 0.5) / 10)::FLOAT = temperature THEN floor(t_x) + 1
                   ELSE round(t_x) END AS tt
    FROM q
)
SELECT
    CASE WHEN resp_rate IS NULL THEN 0 WHEN resp_rate <= 8 THEN 3 WHEN resp_rate <= 11 THEN 1
         WHEN resp_rate <= 20 THEN 0 WHEN resp_rate <= 24 THEN 2 ELSE 3 END
  + CASE WHEN spo2 IS NULL THEN 0
         WHEN coalesce(spo2_scale, 1) = 2 THEN
             CASE WHEN spo2 <= 83 THEN 3 WHEN spo2 <= 85 THEN 2 WHEN spo2 <= 87 THEN 1
                  WHEN spo2 <= 92 OR NOT on_o2 THEN 0
                  WHEN spo2 <= 94 THEN 1 WHEN spo2 <= 96 THEN 2 ELSE 3 END
         ELSE CASE WHEN spo2 <= 91 THEN 3 WHEN spo2 <= 93 THEN 2 WHEN spo2 <= 95 THEN 1 ELSE 0 END END
  + CASE WHEN on_o2 THEN 2 ELSE 0 END
  + CASE WHEN systolic_bp IS NULL THEN 0 WHEN systolic_bp <= 90 THEN 3 WHEN systolic_bp <= 100 THEN 2
         WHEN systolic_bp <= 110 THEN 1 WHEN systolic_bp <= 219 THEN 0 ELSE 3 END
  + CASE WHEN pulse IS NULL THEN 0 WHEN pulse <= 40 THEN 3 WHEN pulse <= 50 THEN 1 WHEN pulse <= 90 THEN 0
         WHEN pulse <= 110 THEN 1 WHEN pulse <= 130 THEN 2 ELSE 3 END
  + CASE WHEN consciousness IS NULL OR consciousness = 'A' THEN 0 ELSE 3 END
  + CASE WHEN tt IS NULL THEN 0 WHEN tt <= 350 THEN 3 WHEN tt <= 360 THEN 1 WHEN tt <= 380 THEN 0
         WHEN tt <= 390 THEN 1 ELSE 2 END
    AS news2_total
FROM r
"""


def make_duckdb(table: pa.Table) -> Callable[[], pa.Table]:
    con = duckdb.connect()
    con.register("obs", table)

    def run() -> pa.Table:
        return con.sql(DUCKDB_SQL).to_arrow_table()

    return run


# ---------------------------------------------------------------------------------------------- python

_F32 = struct.Struct("<f")


def news2_python(cols: dict[str, list]) -> list[int]:
    f32 = _F32
    out = []
    for rr, s, scale, oxy, bp, p, c, t in zip(
        cols["resp_rate"], cols["spo2"], cols["spo2_scale"], cols["on_oxygen"], cols["systolic_bp"],
        cols["pulse"], cols["consciousness"], cols["temperature"], strict=True,
    ):  # fmt: skip
        total = 0
        if rr is not None:
            total += 3 if rr <= 8 else 1 if rr <= 11 else 0 if rr <= 20 else 2 if rr <= 24 else 3
        if s is not None:
            if scale == 2:
                if s <= 83:
                    total += 3
                elif s <= 85:
                    total += 2
                elif s <= 87:
                    total += 1
                elif s <= 92 or oxy is not True:
                    pass
                else:
                    total += 1 if s <= 94 else 2 if s <= 96 else 3
            else:
                total += 3 if s <= 91 else 2 if s <= 93 else 1 if s <= 95 else 0
        if oxy:
            total += 2
        if bp is not None:
            total += 3 if bp <= 90 else 2 if bp <= 100 else 1 if bp <= 110 else 0 if bp <= 219 else 3
        if p is not None:
            total += 3 if p <= 40 else 1 if p <= 50 else 0 if p <= 90 else 1 if p <= 110 else 2 if p <= 130 else 3
        if c is not None and c.strip().upper() != "A":
            total += 3
        if t is not None:
            x = t * 10  # t is the float32 widened to a Python float: exact, and so is x
            k = math.floor(x)
            q = k + 1 if f32.unpack(f32.pack((k + 0.5) / 10))[0] == t else round(x)
            total += 3 if q <= 350 else 1 if q <= 360 else 0 if q <= 380 else 1 if q <= 390 else 2
        out.append(total)
    return out


# ---------------------------------------------------------------------------------------------- checks


def check_quantisation(table: pa.Table) -> int:
    """The peers' temperature arithmetic against the spec's wording: the shortest decimal that round-trips
    the float32 (numpy 2 `str`; `repr` adds "np.float32(...)"), rounded half away from zero."""
    values = np.unique(pc.drop_null(table.column("temperature")).to_numpy())
    ours = temperature_tenths_numpy(values).astype(np.int64)
    bad = 0
    for v, q in zip(values, ours, strict=True):
        ref = int(Decimal(str(np.float32(v))).scaleb(1).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if ref != q:
            bad += 1
            print(f"  quantisation mismatch: float32 {v!r}: rule {ref}, peers {q}")
    return bad


def compare(name: str, got: np.ndarray, want: np.ndarray, table: pa.Table, ref_name: str) -> int:
    diff = np.flatnonzero(got.astype(np.int16) != want.astype(np.int16))
    if len(diff):
        print(f"  MISMATCH {name} vs {ref_name}: {len(diff)} rows; first rows:")
        for i in diff[:5]:
            row = table.slice(int(i), 1).to_pylist()[0]
            row = {k: v for k, v in row.items() if k in READ_COLUMNS}
            print(f"    row {i}: {name}={int(got[i])} {ref_name}={int(want[i])} {row}")
    return len(diff)


# ---------------------------------------------------------------------------------------------- report


@dataclass
class Peer:
    """A prepared peer: `run()` is what is timed; `totals()` gives news2_total per row for the check."""

    run: Callable[[], object]
    totals: Callable[[], np.ndarray]
    note: str
    scale: float = 1.0  # timed on a subset: times are multiplied by this (rows / subset rows)


def peer_varde(table: pa.Table) -> Peer | None:
    try:
        from varde.scoring import score_news2
    except ImportError as exc:
        print(f"varde not importable ({exc}): timing the peers only, checked against the numpy peer")
        return None

    def totals() -> np.ndarray:
        scored = score_news2(table)
        total, reject = scored.column("news2_total"), scored.column("reject_reason")
        rejected = len(reject) - reject.null_count
        print(f"varde: {total.null_count} null totals, {rejected} rejected rows (expected 0 and 0)")
        return pc.fill_null(total, 0).to_numpy(zero_copy_only=False)

    score_news2(table.slice(0, 1000))  # compiles unless cached; the full call in totals() warms the rest
    return Peer(lambda: score_news2(table), totals, "score_news2(table): Arrow in, table + all result columns out")


def peer_floor(table: pa.Table) -> tuple[Peer, int]:
    run, n_bytes = make_floor(table)
    note = f"Numba parallel sum over the {n_bytes / 1e6:.0f} MB of input buffers the kernel reads"
    return Peer(run, lambda: None, note), n_bytes


@numba.njit(parallel=True, nogil=True)
def _write_all(buffers, n_blocks):
    # Block b fills the b-th slice of every output buffer: the cheapest possible producer of the result columns'
    # bytes. The buffers are fresh each call, as every scoring call's outputs are.
    for b in numba.prange(n_blocks):
        _fill_slice(buffers, b, n_blocks, np.uint64(0))


@numba.njit(parallel=True, nogil=True)
def _read_write_all(inputs, outputs, n_blocks):
    # Both at once, block by block as the kernel works: read the block's slice of every input, then fill its
    # slice of every fresh output.
    total = np.uint64(0)
    for b in numba.prange(n_blocks):
        acc = _sum_slice(inputs, b, n_blocks)
        _fill_slice(outputs, b, n_blocks, acc)
        total += acc
    return total


def output_sizes(table: pa.Table) -> list[int]:
    """The byte size of every buffer of Varde's result columns (values, validity bitmaps, dictionary indices)."""
    from varde.scoring import RESULT_COLUMNS, score_news2

    sizes = []
    scored = score_news2(table.slice(0, min(table.num_rows, 1 << 20)))
    scale = table.num_rows / scored.num_rows
    for name in RESULT_COLUMNS:
        for chunk in scored.column(name).chunks:
            arr = chunk.indices if pa.types.is_dictionary(chunk.type) else chunk
            for buf in arr.buffers():
                if buf is not None:
                    sizes.append(int(buf.size * scale))
    return sizes


def peer_write_floor(table: pa.Table) -> tuple[Peer, int]:
    """Fresh buffers of the result columns' sizes, filled in parallel: what producing Varde's outputs costs in
    memory traffic alone, with no reading and no arithmetic."""
    sizes = output_sizes(table)
    n_bytes = sum(sizes)
    n_blocks = 8 * numba.get_num_threads()

    def run() -> None:
        _write_all(tuple(np.empty(max(1, s // 8), np.uint64) for s in sizes), n_blocks)

    note = f"Numba parallel fill of fresh buffers the size of Varde's {n_bytes / 1e6:.0f} MB of result columns"
    return Peer(run, lambda: None, note), n_bytes


def peer_read_write_floor(table: pa.Table) -> Peer:
    """The read floor's inputs read and the write floor's fresh outputs filled in one parallel pass."""
    raw = floor_buffers(table)
    words = tuple(b[: len(b) // 8 * 8].view(np.uint64) for b in raw)
    sizes = output_sizes(table)
    n_blocks = 8 * numba.get_num_threads()

    def run() -> None:
        _read_write_all(words, tuple(np.empty(max(1, s // 8), np.uint64) for s in sizes), n_blocks)

    return Peer(run, lambda: None, "both floors in one parallel pass: read every input block, fill every output block")


def peer_numpy(table: pa.Table) -> Peer:
    arrays = prepare_numpy(table)
    note = "np.select/np.where, one thread; numpy views and null masks prepared outside the timing"
    return Peer(lambda: news2_numpy(arrays), lambda: news2_numpy(arrays), note)


def peer_polars(table: pa.Table) -> Peer:
    # Lazy, not eager df.select: only the lazy engine eliminates the common subexpressions (the temperature
    # in tenths is used four times); eager select was 4-6x slower here.
    lf = pl.from_arrow(table).lazy()
    expr = polars_total_expr()

    def run() -> pl.DataFrame:
        return lf.select(expr).collect()

    note = f"lazy select + collect, {pl.thread_pool_size()} threads; pl.from_arrow outside"
    return Peer(run, lambda: run().to_series().to_numpy(), note)


def peer_duckdb(table: pa.Table) -> Peer:
    run = make_duckdb(table)
    threads = duckdb.sql("SELECT current_setting('threads')").fetchall()[0][0]
    note = f"CASE WHEN over the registered Arrow table -> Arrow table, {threads} threads"
    return Peer(run, lambda: run().column("news2_total").to_numpy(), note)


def peer_python(table: pa.Table) -> Peer:
    m = min(PYTHON_SUBSET, table.num_rows)
    sub = table.slice(0, m)
    cols = {name: sub.column(name).to_pylist() for name in (*ITEM_COLUMNS, "spo2_scale")}
    note = f"per-row loop over column lists, timed on {m:,} rows, extrapolated to {table.num_rows:,}"
    return Peer(lambda: news2_python(cols), lambda: np.array(news2_python(cols)), note, table.num_rows / m)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per peer (best and median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="also write the generated table as Parquet (for CLI timing)")
    ap.add_argument("--skip-python", action="store_true", help="skip the plain-Python peer")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table and a machine line")
    args = ap.parse_args(argv)
    n = args.rows

    t0 = time.perf_counter()
    busy0, own0 = cpu_seconds()
    table = generate(n, args.seed)
    print(f"generated {n:,} rows in {time.perf_counter() - t0:.1f} s ({table.nbytes / 1e6:.0f} MB in Arrow)")
    if args.out:
        pq.write_table(table, args.out)
        print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.0f} MB)")

    bad = check_quantisation(table)
    if bad:
        print(f"FAIL: the peers' temperature rounding disagrees with docs/news2.md on {bad} values")
        return 1

    floor, floor_bytes = peer_floor(table)
    write_floor, write_bytes = peer_write_floor(table)
    setups = {
        "varde": lambda: peer_varde(table),
        "floor": lambda: floor,
        "write floor": lambda: write_floor,
        "read+write floor": lambda: peer_read_write_floor(table),
        "numpy": lambda: peer_numpy(table),
        "polars": lambda: peer_polars(table),
        "duckdb": lambda: peer_duckdb(table),
    }
    if not args.skip_python:
        setups["python"] = lambda: peer_python(table)

    times: dict[str, list[float]] = {}
    totals: dict[str, np.ndarray] = {}
    notes: dict[str, str] = {}
    for name, setup in setups.items():
        peer = setup()
        if peer is None:
            continue
        got = peer.totals()  # also the warm-up run
        if got is not None:
            totals[name] = got
        peer.run()
        times[name] = [t * peer.scale for t in time_runs(peer.run, args.repeat)]
        notes[name] = peer.note
        del peer  # free the peer's prepared inputs before the next one

    # Every peer must agree with Varde (or, without it, with numpy) on every row.
    ref = "varde" if "varde" in totals else "numpy"
    mismatches = 0
    for name, got in totals.items():
        if name != ref:
            mismatches += compare(name, got, totals[ref][: len(got)], table, ref)
    print(f"totals checked against {ref}: {mismatches} mismatching rows")

    report(times, notes, n, args, floor_bytes, write_bytes)
    busy1, own1 = cpu_seconds()
    others = (busy1 - busy0) - (own1 - own0)
    wall = time.perf_counter() - t0
    if others / wall > 0.1:
        print(f"WARNING: other processes used {others / wall:.2f} cores on average during this {wall:.0f} s run; "
              "timings are inflated, rerun on a quiet machine")  # fmt: skip
    else:
        print(f"machine quiet: other processes used {max(others, 0) / wall:.2f} cores on average during the run")
    if mismatches:
        print(f"FAIL: {mismatches} rows where a peer's total differs from {ref}")
        return 1
    if "varde" not in times:
        return 3  # the peers agree, but without Varde there is nothing to benchmark against
    return 0


def report(times: dict[str, list[float]], notes: dict[str, str], n: int, args, floor_bytes: int,
           write_bytes: int) -> None:
    best = {name: min(t) for name, t in times.items()}
    median = {name: statistics.median(t) for name, t in times.items()}
    base = best.get("varde")
    rows = []
    for name in times:
        r = best[name] / base if base else None
        ratio = "-" if r is None else f"{r:.0f}x" if r >= 10 else f"{r:.2f}x"
        mrows = n / best[name] / 1e6
        rate = f"{mrows:,.0f}M" if mrows >= 100 else f"{mrows:.3g}M"
        rows.append((name, f"{best[name] * 1e3:.1f}", f"{median[name] * 1e3:.1f}", rate, ratio, notes[name]))

    header = ("peer", "best ms", "median ms", "rows/s", "peer/varde", "what is timed")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print(f"\nNEWS2 total, {n:,} rows, best and median of {args.repeat}:")
    for r in [header, *rows]:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r[:5], widths, strict=True))]
        print("  " + "  ".join(cells) + "  " + r[5])

    floor_gbs = floor_bytes / best["floor"] / 1e9
    print(f"\nread floor: {floor_bytes / 1e6:.0f} MB in {best['floor'] * 1e3:.2f} ms = {floor_gbs:.1f} GB/s")
    write_ms = best["write floor"] * 1e3
    print(f"write floor: {write_bytes / 1e6:.0f} MB of fresh result buffers in {write_ms:.2f} ms = "
          f"{write_bytes / best['write floor'] / 1e9:.1f} GB/s; writing the outputs alone is "
          f"{best['write floor'] / best['floor']:.2f}x the read floor and {best['polars'] / best['write floor']:.1f}x "
          "faster than Polars")
    both = best["read+write floor"]
    print(f"read+write floor: {both * 1e3:.2f} ms = {both / best['floor']:.2f}x the read floor; Polars / it = "
          f"{best['polars'] / both:.1f}x (a kernel that reads the inputs and writes the outputs cannot beat it)")
    verdicts = []
    if base:
        vs_floor = base / best["floor"]
        vs_polars, vs_duckdb = best["polars"] / base, best["duckdb"] / base
        verdicts = [
            f"varde / floor = {vs_floor:.2f}x (target <= 1.5x: {'met' if vs_floor <= 1.5 else 'NOT met'})",
            f"polars / varde = {vs_polars:.1f}x, duckdb / varde = {vs_duckdb:.1f}x "
            f"(target >= 15x both: {'met' if min(vs_polars, vs_duckdb) >= 15 else 'NOT met'})",
        ]
        for v in verdicts:
            print(v)
    if "python" in times:
        print(f"python: timed on {min(PYTHON_SUBSET, n):,} rows, times extrapolated per row to {n:,}")

    if args.markdown:
        print("\n---- Markdown ----\n")
        cmd = f"benchmarks/bench_news2.py --rows {n} --repeat {args.repeat}"
        print(f"NEWS2 total, {n:,} rows (`{cmd}`), best and median of {args.repeat}.\n")
        print("| peer | best (ms) | median (ms) | rows/s | peer / Varde | what is timed |")
        print("|---|---:|---:|---:|---:|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        print(f"\nRead floor: {floor_bytes / 1e6:.0f} MB at {floor_gbs:.1f} GB/s. Write floor: {write_bytes / 1e6:.0f} "
              f"MB of fresh result buffers in {write_ms:.1f} ms ({best['write floor'] / best['floor']:.2f}x the read "
              f"floor; Polars / write floor = {best['polars'] / best['write floor']:.1f}x). Read + write floor, one "
              f"pass: {both * 1e3:.1f} ms ({both / best['floor']:.2f}x the read floor; Polars / it = "
              f"{best['polars'] / both:.1f}x).")
        for v in verdicts:
            print(f"{v[0].upper()}{v[1:]}.")
        print(f"\nMachine: {machine_line(PACKAGES)}.")


if __name__ == "__main__":
    sys.exit(main())
