"""The kernel equals the slow reference (tests/reference/news2.py) row for row, on random tables.

The reference is also held to the hand-written chart cases of test_news2_boundaries.py, so neither twin can drift
from docs/news2.md without a test failing.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reference import news2 as reference
from tests.scoring.test_news2_boundaries import CASES, RESULT_COLUMNS, Case, result_rows

# =================================================================================================================
# The reference against the chart


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_reference_matches_hand_written_case(c: Case):
    assert reference.score_table(c.table()) == [c.expected]


def test_reference_result_columns_match_contract():
    assert reference.RESULT_COLUMNS == RESULT_COLUMNS


@pytest.mark.parametrize(
    "value,step,expected",
    [
        (np.float32(35.05), "0.1", "35.1"),
        (35.05, "0.1", "35.1"),
        (float(np.float32(35.05)), "0.1", "35.0"),
        (0.5, "1", "1"),
        (1.5, "1", "2"),
        (2.5, "1", "3"),  # half away from zero, not to even
        (-0.5, "1", "-1"),
        (-2.5, "1", "-3"),
        (np.float32(-0.45), "0.1", "-0.5"),
        (7, "1", "7"),
        (2**64 - 1, "1", str(2**64 - 1)),
        (1e300, "1", "1" + "0" * 300),
    ],
)
def test_reference_quantise(value, step, expected):
    from decimal import Decimal

    assert reference.quantise(value, Decimal(step)) == Decimal(expected)


# =================================================================================================================
# Random tables: the kernel against the reference

# Points around and across every band boundary and range limit of docs/news2.md.
RESP = [1, 8, 9, 11, 12, 20, 21, 24, 25, 80]
SPO2 = [0, 83, 84, 85, 86, 87, 88, 91, 92, 93, 94, 95, 96, 97, 100]
SBP = [1, 90, 91, 100, 101, 110, 111, 219, 220, 300]
PULSE = [1, 40, 41, 50, 51, 90, 91, 110, 111, 130, 131, 300]
TEMP = [20.0, 35.0, 35.1, 36.0, 36.1, 38.0, 38.1, 39.0, 39.1, 45.0, 86.0, 113.0]
AGE = [0, 15, 16, 130]

CONSCIOUSNESS = [
    "A", "a", " A", "A ", "\tA\n", "alert", "ALERT", "Alert ", "våken", "VÅKEN", " Våken",
    "C", "c", "V", "v", "P", "p", "U", "u", " u ", "confused", "confusion", "new confusion", "New Confusion",
    "voice", "pain", "unresponsive", "UNRESPONSIVE", "ny forvirring", "forvirret", "tiltale", "smerte",
    "ingen respons", "ikke kontaktbar", "Ikke kontaktbar ",
    "X", "", " ", "AV", "alertt", "new  confusion", "?", "0",
]

INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
FLOAT_TYPES = [pa.float32(), pa.float64()]


def _int_range(typ: pa.DataType) -> tuple[int, int]:
    info = np.iinfo(typ.to_pandas_dtype())
    return int(info.min), int(info.max)


@functools.cache
def pool(points: tuple, step: float) -> list[float]:
    """Values near the boundaries: on them, one and two steps either side, half a step either side (the rounding
    ties) and a hair either side of the ties; random decimals across the chart; far out of range; NaN and inf."""
    rng = np.random.default_rng(int(sum(points) * 10))
    near = []
    for p in points:
        for d in (-2 * step, -step, -step / 2, 0.0, step / 2, step):
            near.append(round(p + d, 6))
        near.append(round(p + step / 2 - step / 100, 6))
        near.append(round(p - step / 2 + step / 100, 6))
    lo, hi = min(points) - 10 * step, max(points) + 10 * step
    decimals = [round(float(v), 1 if step >= 1 else 2) for v in rng.uniform(lo, hi, 60)]
    decimals += [float(v) for v in rng.uniform(lo, hi, 10)]
    far = [0.0, -0.0, -1.0, -0.5, -0.4, 0.4, 0.5, 1e6, -1e6, 1e30, 5e-324]
    return sorted(set(near)) + decimals + far + [math.nan, math.inf, -math.inf]


# Up to this many rows every value is its own hypothesis draw (failures shrink to a readable row); above it the
# values come from a drawn seed, which keeps a few-hundred-row table as cheap to generate as a small one.
DRAWN_ROWS = 16


def pick(draw, n: int, candidates: list) -> list:
    """n values from candidates (None among them means null)."""
    if n <= DRAWN_ROWS:
        return draw(st.lists(st.sampled_from(candidates), min_size=n, max_size=n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return [candidates[i] for i in rng.integers(0, len(candidates), n)]


def integer_candidates(draw, points, typ) -> list[int]:
    lo, hi = _int_range(typ)
    near = [p + d for p in points for d in (-2, -1, 0, 1, 2)]
    near += [0, -1, 1000, 255, 256, -128, 127, -(2**31), 2**31 - 1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]
    near += draw(st.lists(st.integers(lo, hi), min_size=3, max_size=3))
    return [v for v in near if lo <= v <= hi]


@st.composite
def numeric_column(draw, n, points, step, *, float_only=False, null_rate=None):
    typ = draw(st.sampled_from(FLOAT_TYPES if float_only else FLOAT_TYPES * 2 + INT_TYPES))
    if null_rate is None:
        null_rate = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    if pa.types.is_floating(typ):
        values = pick(draw, n, pool(tuple(points), step))
        if pa.types.is_float32(typ):
            # Out of float32's range the cast overflows to inf (a NumPy warning, an error under -W error).
            values = [v if abs(v) < 3e38 or not math.isfinite(v) else math.copysign(math.inf, v) for v in values]
    else:
        values = pick(draw, n, integer_candidates(draw, points, typ))
    if null_rate == 1.0:
        values = [None] * n
    elif null_rate > 0:
        nulls = pick(draw, n, list(range(100)))
        values = [None if k < null_rate * 100 else v for v, k in zip(values, nulls, strict=True)]
    nullable = draw(st.booleans()) or any(v is None for v in values)
    return pa.array(values, type=typ), nullable


def string_type():
    return st.sampled_from([
        pa.string(), pa.large_string(), pa.string_view(),
        pa.dictionary(pa.int8(), pa.string()), pa.dictionary(pa.int32(), pa.string()),
        pa.dictionary(pa.int16(), pa.large_string()),
    ])


@st.composite
def observation_tables(draw, max_rows=300):
    n = draw(st.integers(0, max_rows))
    fields, arrays = [], []

    def add(name, array, nullable=True):
        fields.append(pa.field(name, array.type, nullable=nullable))
        arrays.append(array)

    if draw(st.booleans()):
        add("note", pa.array([f"n{i}" for i in range(n)]))

    id_type = draw(st.one_of(string_type(), st.just(pa.int64())))
    ids = pick(draw, n, [None, 1, 2, 3, 0] if id_type == pa.int64() else [None, "p1", "p2", "p3", ""])
    if draw(st.booleans()):
        ids = [i if i is not None else ("p0" if id_type != pa.int64() else 0) for i in ids]
    add("patient_id", pa.array(ids, type=id_type), nullable=any(i is None for i in ids) or draw(st.booleans()))

    if draw(st.booleans()):
        add("observed_at", pa.array(range(n), pa.timestamp(draw(st.sampled_from(["s", "ms", "us", "ns"])))))

    for name, points, step in [("resp_rate", RESP, 1.0), ("spo2", SPO2, 1.0)]:
        add(name, *draw(numeric_column(n, points, step)))

    oxygen_kind = draw(st.sampled_from(["bool", "bool", "int"]))
    if oxygen_kind == "bool":
        add("on_oxygen", pa.array(pick(draw, n, [None, True, False, False]), pa.bool_()))
    else:
        typ = draw(st.sampled_from([pa.int8(), pa.uint8(), pa.int64()]))
        lo, _ = _int_range(typ)
        add("on_oxygen", pa.array(pick(draw, n, [None, 0, 1, 0, 1, 2, 255 if lo == 0 else -1]), typ))

    for name, points, step in [("systolic_bp", SBP, 1.0), ("pulse", PULSE, 1.0)]:
        add(name, *draw(numeric_column(n, points, step)))

    add("consciousness", pa.array(pick(draw, n, [None, *CONSCIOUSNESS]), type=draw(string_type())))

    temp_float = draw(st.booleans())
    if temp_float:
        add("temperature", *draw(numeric_column(n, TEMP, 0.1, float_only=True)))
    else:
        add("temperature", *draw(numeric_column(n, [20, 35, 36, 37, 38, 39, 40, 45, 86, 98, 113], 1.0)))

    if draw(st.booleans()):
        typ = draw(st.sampled_from([pa.int8(), pa.uint8(), pa.float32(), pa.float64()]))
        choices = [None, 1, 2, 1, 2, 0, 3] + ([1.5, 2.0000001, math.nan] if pa.types.is_floating(typ) else [])
        values = pick(draw, n, choices)
        if pa.types.is_float32(typ):
            values = [v if v != 2.0000001 else 2.0000002 for v in values]  # a float32 neighbour of 2
        add("spo2_scale", pa.array(values, typ))

    if draw(st.booleans()):
        ages = draw(numeric_column(n, AGE, 0.1, null_rate=draw(st.sampled_from([0.0, 0.2]))))
        add("age", *ages)

    if draw(st.booleans()):
        add("pregnant", pa.array(pick(draw, n, [None, True, False, False]), pa.bool_()))

    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    layout = draw(st.sampled_from(["plain", "plain", "sliced", "chunked", "batch"]))
    if layout == "sliced" and n > 0:
        start = draw(st.integers(0, n))
        table = table.slice(start, draw(st.integers(0, n - start)))
    elif layout == "chunked" and n > 0:
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
        bounds = [0, *cuts, n]
        table = pa.concat_tables([table.slice(a, b - a) for a, b in itertools.pairwise(bounds)])
    elif layout == "batch":
        return table.combine_chunks().to_batches()[0] if n > 0 else pa.RecordBatch.from_pylist(
            [], schema=table.schema)
    return table


@pytest.fixture(scope="module")
def scoring():
    return pytest.importorskip("varde.scoring")


def _show(value):
    return repr(value) if not isinstance(value, np.float32) else f"np.float32({value})"


def assert_kernel_matches_reference(scoring, data, **options):
    result = scoring.score_news2(data, **options)
    assert type(result) is type(data)
    assert result.column_names == data.column_names + list(RESULT_COLUMNS)
    for i in range(data.num_columns):
        assert result.schema.field(i) == data.schema.field(i)
    actual = result_rows(result)
    expected = reference.score_table(data)
    assert len(actual) == len(expected)
    if actual != expected:
        inputs = reference.table_rows(data)
        for row, a, e in zip(inputs, actual, expected, strict=True):
            if a != e:
                diff = {k: (a[k], e[k]) for k in RESULT_COLUMNS if a[k] != e[k]}
                shown = {k: _show(v) for k, v in row.items()}
                types = {f.name: str(f.type) for f in data.schema}
                pytest.fail(f"kernel != reference\ninput {shown}\ntypes {types}\n(kernel, reference) {diff}")


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(observation_tables(), st.sampled_from([None, True, False]))
def test_kernel_matches_reference(scoring, data, parallel):
    # parallel=True on small tables runs the block-parallel path on partial blocks and odd offsets.
    assert_kernel_matches_reference(scoring, data, parallel=parallel)


@settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(observation_tables(max_rows=8))
def test_kernel_matches_reference_small(scoring, data):
    # Small tables shrink to readable counterexamples.
    assert_kernel_matches_reference(scoring, data)


def _large_table(n: int, seed: int) -> pa.Table:
    """Mostly valid observation sets across every band (values on and around the boundaries, decimals), with a
    few nulls and bad values; the first and last rows are always valid and score, to catch edge-of-block bugs."""
    rng = np.random.default_rng(seed)

    def values(points, step, bad, decimals, normal):
        points = np.asarray(points, dtype=np.float64)
        v = rng.choice(points, n) + rng.choice([-step, -step / 2, 0, 0, 0, step / 2, step], n)
        v = np.where(rng.random(n) < 0.3, rng.uniform(points.min(), points.max(), n), v)
        v = np.where(rng.random(n) < 0.6, normal, v)  # so that every band, ZERO included, is common
        v = np.round(v, decimals)
        v = np.where(rng.random(n) < 0.01, rng.choice(np.asarray(bad), n), v)
        return v

    def column(v, dtype, first_last, null_rate=0.03):
        v = v.copy()
        v[0], v[-1] = first_last
        mask = rng.random(n) < null_rate
        mask[0] = mask[-1] = False
        return pa.array(v.astype(dtype), mask=mask)

    resp = np.round(values([2, 8, 9, 11, 12, 20, 21, 24, 25, 40], 1.0, [0, 81], 0, 16))
    words = np.array(CONSCIOUSNESS, dtype=object)[rng.integers(0, len(CONSCIOUSNESS), n)]
    words = np.where(rng.random(n) < 0.7, "A", words)
    words[0], words[-1] = "A", "v"
    pregnant = rng.random(n) < 0.02
    pregnant[0] = pregnant[-1] = False
    return pa.table({
        "patient_id": pa.array([f"p{i % 997}" for i in range(n)], mask=np.r_[False, rng.random(n - 2) < 0.002,
                                                                           False]).dictionary_encode(),
        "resp_rate": column(resp, np.int16, (8, 22)),
        "spo2": column(values(SPO2[1:], 1.0, [-1, 101, np.inf], 2, 97), np.float64, (93, 97)),
        "on_oxygen": column(rng.random(n) < 0.3, np.bool_, (True, True), 0.05),
        "systolic_bp": column(values(SBP[1:-1], 1.0, [0, 301, np.nan], 1, 125), np.float32, (95.5, 219.5)),
        "pulse": column(values(PULSE[1:-1], 1.0, [0, 400, -np.inf], 2, 72), np.float64, (40.5, 130.49)),
        "consciousness": pa.array(words, mask=np.r_[False, rng.random(n - 2) < 0.03, False]),
        "temperature": column(values(TEMP[1:-2], 0.1, [98.6, 50.0, np.nan], 2, 37.0), np.float32, (35.05, 39.05)),
        "spo2_scale": column(rng.choice([1, 2], n), np.uint8, (1, 2), 0.2),
        "age": column(rng.uniform(14, 100, n).round(1), np.float64, (40.0, 70.0), 0.2),
        "pregnant": column(pregnant, np.bool_, (False, False), 0.5),
    })


@pytest.mark.parametrize("n,seed", [(20_000, 1), (20_001, 2)])
def test_kernel_matches_reference_large(scoring, n, seed):
    # Large enough to take the kernel's parallel path; an odd size leaves a remainder for the last thread.
    table = _large_table(n, seed)
    assert_kernel_matches_reference(scoring, table)
    # Two chunks, the second starting at an odd offset.
    chunked = pa.concat_tables([table.slice(0, 7_777), table.slice(7_777)])
    assert_kernel_matches_reference(scoring, chunked)
    # The same rows forced through the serial kernel.
    assert_kernel_matches_reference(scoring, table, parallel=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_matches_reference_next_to_every_rounding_tie(scoring, dtype):
    """The kernel reads a float's rounding from its scaled fraction and decides only the rows within a hair of one
    half by the exact rule: values on every tie of the temperature and pulse charts (tenths and whole numbers), and
    one to a few float steps and a few millionths either side of it, must all round as the reference does."""
    ties = np.r_[np.arange(195, 460) + 0.5, np.arange(855, 1135) + 0.5] / 10
    offsets = [0.0, 1e-7, -1e-7, 1e-6, -1e-6, 5e-6, -5e-6, 2e-5, -2e-5]
    temps = np.concatenate([ties + d for d in offsets]).astype(dtype)
    temps = np.concatenate([temps, np.nextafter(temps, dtype(np.inf)), np.nextafter(temps, dtype(-np.inf))])
    pulses = (np.arange(0, 320) + 0.5).astype(dtype)
    pulses = np.concatenate([pulses, np.nextafter(pulses, dtype(np.inf)), np.nextafter(pulses, dtype(-np.inf))])
    n = len(temps)
    table = pa.table({
        "patient_id": pa.array(["p"] * n),
        "resp_rate": pa.array(np.full(n, 16), pa.int16()),
        "spo2": pa.array(np.full(n, 97.0)),
        "on_oxygen": pa.array(np.zeros(n, np.bool_)),
        "systolic_bp": pa.array(np.full(n, 120.0)),
        "pulse": pa.array(np.resize(pulses, n)),
        "consciousness": pa.array(["A"] * n),
        "temperature": pa.array(temps),
    })
    assert_kernel_matches_reference(scoring, table, parallel=False)
    assert_kernel_matches_reference(scoring, table, parallel=True)
