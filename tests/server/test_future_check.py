"""ScoreBatches' future check (a row measured more than five minutes after the server's now is rejected with
OBSERVED_IN_FUTURE), read from the column's own integers, against truncating each time to microseconds in Python."""

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from varde.server import clock
from varde.server.services.scoring import FUTURE_TOLERANCE_US, in_the_future

NOW_US = 1_795_000_000_000_000  # 2026-11-18
PER_US = {"s": 1e-6, "ms": 1e-3, "us": 1, "ns": 1000}


@pytest.fixture(autouse=True)
def fixed_clock():
    clock.use(lambda: NOW_US)
    yield
    clock.use(None)


def _expected(values: list, unit: str) -> list[bool]:
    limit = NOW_US + FUTURE_TOLERANCE_US
    scale = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}[unit]
    out = []
    for v in values:
        if v is None:
            out.append(False)
        else:
            micros = v * scale if scale else v // 1000  # nanoseconds truncated to whole microseconds
            out.append(micros > limit)
    return out


def _with_garbage_under_nulls(values: list, unit: str, garbage: int) -> pa.Array:
    """A timestamp array whose null slots hold a time in the future: a reader that ignores validity would see it."""
    data = pa.array([garbage if v is None else v for v in values], pa.int64()).buffers()[1]
    validity = pa.array([v is not None for v in values], pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(pa.timestamp(unit, tz="UTC"), len(values), [validity, data],
                                 null_count=sum(v is None for v in values))


@settings(deadline=None, max_examples=200)
@given(unit=st.sampled_from(["s", "ms", "us", "ns"]), data=st.data())
def test_rows_later_than_now_plus_the_tolerance(unit, data):
    near = int((NOW_US + FUTURE_TOLERANCE_US) * PER_US[unit])  # the bound, in the column's unit
    value = st.one_of(st.none(), st.integers(near - 3000, near + 3000), st.integers(-2**40, 2**40))
    chunks = data.draw(st.lists(st.lists(value, max_size=40), min_size=1, max_size=3))
    start = data.draw(st.integers(0, 5))
    arrays = [_with_garbage_under_nulls(c, unit, near + 5000) for c in chunks]
    arrays[0] = arrays[0].slice(min(start, len(arrays[0])))
    table = pa.table({"observed_at": pa.chunked_array(arrays, pa.timestamp(unit, tz="UTC"))})
    flat = [v.value if v.is_valid else None for a in arrays for v in a]
    assert in_the_future(table).tolist() == _expected(flat, unit)


def test_no_time_column_or_not_a_time_is_left_to_the_scoring():
    assert in_the_future(pa.table({"x": [1]})) is None
    assert in_the_future(pa.table({"observed_at": ["2026-11-18"]})) is None


def test_a_nanosecond_time_that_is_not_whole_microseconds_is_still_checked():
    later = dt.datetime.fromtimestamp(NOW_US / 1e6 + 3600, dt.UTC)
    ns = int(later.timestamp() * 1e9) + 1
    assert in_the_future(pa.table({"observed_at": pa.array([ns, None], pa.timestamp("ns", tz="UTC"))})).tolist() \
        == [True, False]
