"""A flag's assessment JSON: written out in Python for a push's few findings, by Arrow for a batch's thousands; the
two must give the same text, byte for byte (stored flags are compared and parsed by other readers)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from varde.scoring import score_news2
from varde.server.flags import rules

VITALS = {
    "resp_rate": st.integers(0, 60), "spo2": st.integers(50, 100), "systolic_bp": st.integers(40, 260),
    "pulse": st.integers(10, 250), "temperature": st.floats(30.0, 44.0).map(lambda v: round(v, 2)),
    "consciousness": st.sampled_from(["A", "C", "V", "P", "U", "a", "X"]), "on_oxygen": st.booleans(),
}
TIMES = st.one_of(st.none(), st.integers(-2_000_000_000_000_000, 4_000_000_000_000_000), st.just(0))


@st.composite
def scored_tables(draw):
    n = draw(st.integers(1, 8))
    records = [{name: draw(st.one_of(st.none(), strategy)) for name, strategy in VITALS.items()} for _ in range(n)]
    table = score_news2(pa.Table.from_pylist(
        [{"patient_id": f"p{k}", "observed_at": None, **r} for k, r in enumerate(records)],
        schema=pa.schema([("patient_id", pa.string()), ("observed_at", pa.timestamp("us", tz="UTC")),
                          ("resp_rate", pa.int64()), ("spo2", pa.int64()), ("systolic_bp", pa.int64()),
                          ("pulse", pa.int64()), ("temperature", pa.float64()), ("consciousness", pa.string()),
                          ("on_oxygen", pa.bool_())])))
    # a push's table as the server builds it (services/observations._table): no measurements, only results
    times = [draw(TIMES) for _ in range(n)]
    naive = draw(st.booleans())
    when = pa.array(times, pa.int64()).cast(pa.timestamp("us", tz=None if naive else "UTC"))
    keep = [c for c in table.column_names if c == "patient_id" or c.startswith("news2_") or c.startswith("sub_")
            or c == "reject_reason"]
    pushed = table.select(keep).add_column(1, "observed_at", when)
    rows = np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6)), np.int64)
    rising = np.array(draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows))), np.bool_)
    baseline = draw(st.one_of(st.none(), st.lists(st.integers(-1, 20), min_size=len(rows), max_size=len(rows))))
    return pushed, rows, rising, None if baseline is None else np.array(baseline, np.int8)


@settings(max_examples=150, deadline=None)
@given(case=scored_tables())
def test_python_and_arrow_give_the_same_text(case):
    table, rows, rising, baseline = case
    assert not any(name in table.column_names for name in rules.VALUES)
    small = rules._assessment_json_small(table, rows, rising, baseline)
    assert small == rules._assessment_json_arrow(table, rows, rising, baseline)
    assert rules._assessment_json(table, rows, rising, baseline) == small
    for text in small:
        json.loads(text)


def test_the_time_text_matches_arrow_at_the_edges():
    table = score_news2(pa.Table.from_pylist([{"patient_id": "p", "resp_rate": 25, "spo2": 96, "on_oxygen": False,
                                               "systolic_bp": 120, "pulse": 70, "consciousness": "A",
                                               "temperature": 37.0}]))
    table = table.drop_columns([name for name in rules.VALUES if name in table.column_names])
    for at in (dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
               dt.datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=dt.UTC)):
        t = table.append_column("observed_at", pa.array([at], pa.timestamp("us", tz="UTC")))
        args = (t, np.array([0]), np.array([True]), np.array([3], np.int8))
        assert rules._assessment_json_small(*args) == rules._assessment_json_arrow(*args)
        assert json.loads(rules._assessment_json_small(*args)[0])["observed_at"].startswith(f"{at.year:04d}-")
