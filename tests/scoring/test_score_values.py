"""score_values (numpy rows, for protobuf observations) gives exactly what score_news2 gives for the same rows."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from varde.scoring import RESULT_COLUMNS, score_news2
from varde.scoring.news2 import score_one, score_values

NUMBERS = ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature", "spo2_scale", "age")
maybe_number = st.one_of(st.none(), st.sampled_from([math.nan, math.inf, -math.inf]), st.integers(-5, 400).map(float),
                         st.floats(-10, 400, allow_nan=False).map(lambda x: round(x, 1)))
row = st.fixed_dictionaries({
    "patient_id": st.one_of(st.none(), st.just("p")),
    **{name: maybe_number for name in NUMBERS},
    "on_oxygen": st.one_of(st.none(), st.booleans()),
    "pregnant": st.one_of(st.none(), st.booleans()),
    "consciousness": st.one_of(st.none(), st.sampled_from(["A", "c", " V ", "p", "U", "alert", "sleepy", ""])),
})


def via_values(rows):
    values = {}
    for name in NUMBERS:
        values[name] = (np.array([r[name] if r[name] is not None else 0.0 for r in rows], np.float64),
                        np.array([r[name] is not None for r in rows]))
    for name in ("on_oxygen", "pregnant"):
        values[name] = (np.array([bool(r[name]) for r in rows]), np.array([r[name] is not None for r in rows]))
    raw = score_values(np.array([r["patient_id"] is not None for r in rows]), values,
                       [r["consciousness"] for r in rows])
    return pa.Table.from_arrays(raw.arrays(), names=list(RESULT_COLUMNS))


def via_arrow(rows):
    table = pa.table({
        "patient_id": pa.array([r["patient_id"] for r in rows], pa.string()),
        **{name: pa.array([r[name] for r in rows], pa.float64()) for name in NUMBERS},
        "on_oxygen": pa.array([r["on_oxygen"] for r in rows], pa.bool_()),
        "pregnant": pa.array([r["pregnant"] for r in rows], pa.bool_()),
        "consciousness": pa.array([r["consciousness"] for r in rows], pa.string()),
    })
    return score_news2(table, parallel=False).select(list(RESULT_COLUMNS))


@settings(deadline=None, max_examples=400)
@given(st.lists(row, min_size=1, max_size=30))
def test_score_values_equals_score_news2(rows):
    assert via_values(rows).to_pylist() == via_arrow(rows).to_pylist()


@settings(deadline=None, max_examples=400)
@given(row)
def test_score_one_equals_score_values(r):
    raw = score_one(r["patient_id"] is not None, tuple(r[name] for name in NUMBERS),
                    (r["on_oxygen"], r["pregnant"]), r["consciousness"])
    got = pa.Table.from_arrays(raw.arrays(), names=list(RESULT_COLUMNS))
    assert got.to_pylist() == via_values([r]).to_pylist()


def test_score_one_reads_each_slot_and_flag_where_it_belongs():
    # Hand-checked: a value moved to another slot or a flag to the other one changes these sub-scores.
    raw = score_one(True, (25.0, 91.0, 90.0, 131.0, 39.1, 1.0, 70.0), (True, None), "v")
    got = pa.Table.from_arrays(raw.arrays(), names=list(RESULT_COLUMNS)).to_pylist()[0]
    assert [got[c] for c in ("news2_resp_rate", "news2_spo2", "news2_air_oxygen", "news2_systolic_bp",
                             "news2_pulse", "news2_consciousness", "news2_temperature")] == [3, 3, 2, 3, 3, 3, 2]
    assert got["news2_total"] == 19 and got["news2_band"] == "HIGH"


def test_bits_helpers_read_back_the_bitmaps():
    from varde.scoring import _news2_kernel as K

    values = {"resp_rate": (np.array([30.0, 0.0]), np.array([True, False]))}
    raw = score_values(np.array([True, False]), values, [None, "A"])
    assert raw.bits(K.BM_SCORED).tolist() == [True, False]  # the second row has no patient id: rejected
    assert raw.bits(K.BM_RED).tolist()[0] is True
    assert raw.sub_bits(0).tolist() == [True, False]
