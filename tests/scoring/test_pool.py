"""Kernel outputs come from Arrow's memory pool, which keeps freed memory for the next call: numpy's large arrays
were new pages on every call, a page fault each (scoring/_pool.py)."""

from __future__ import annotations

import gc

import numpy as np
import pyarrow as pa
import pytest

from varde.scoring import _pool
from varde.scoring.risk import charlson_columns, polypharmacy_columns, score_risk


@pytest.mark.parametrize("shape", [0, 1, 7, 1000, (3, 5), (0, 4)])
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint32, np.uint64, np.float64, np.bool_])
def test_arrays_have_the_shape_and_values_asked_for(shape, dtype):
    want = (shape,) if isinstance(shape, int) else shape
    for got, fill in ((_pool.zeros(shape, dtype), 0), (_pool.full(shape, 1, dtype), 1)):
        assert got.shape == want and got.dtype == np.dtype(dtype)
        assert got.flags.writeable and got.flags.c_contiguous and got.flags.aligned
        assert np.all(got == fill)
    got = _pool.empty(shape, dtype)
    assert got.shape == want and got.dtype == np.dtype(dtype) and got.flags.writeable


def test_a_numpy_integer_is_a_shape():
    assert _pool.empty(np.int64(5), np.int16).shape == (5,)
    assert _pool.zeros((np.int32(2), 3), np.uint8).shape == (2, 3)


def test_full_of_nan():
    assert np.isnan(_pool.full((2, 3), np.nan, np.float64)).all()


def _held_by_pool(make) -> tuple[int, object]:
    gc.collect()
    before = pa.total_allocated_bytes()
    out = make()
    return pa.total_allocated_bytes() - before, out


def test_memory_is_the_pools_and_goes_back_when_released():
    grown, a = _held_by_pool(lambda: _pool.empty(1_000_000, np.int16))
    assert grown >= 2_000_000
    a[:] = 7
    arr = pa.array(a)  # no copy: the Arrow array keeps the pool's buffer alive
    del a
    assert arr[999_999].as_py() == 7
    before = pa.total_allocated_bytes()
    del arr
    gc.collect()
    assert before - pa.total_allocated_bytes() >= 2_000_000


def test_risk_outputs_live_in_the_pool():
    """The per-patient columns of charlson_columns, polypharmacy_columns and score_risk are the pool's, not
    numpy's: with numpy's, the pool grew by a small fraction of these."""
    n = 20_000
    codes = pa.array([["I50.9", "E11.2", "C78.1"], ["J44"], None, []] * (n // 4), pa.list_(pa.string()))
    atc = pa.array([["C07AB02", "A10BA02"], [], None, ["N02BE01"]] * (n // 4), pa.list_(pa.string()))
    grown, out = _held_by_pool(lambda: charlson_columns(n, codes, None))
    # three int16 counts, two int8 scores, int32 group offsets
    assert grown >= n * (3 * 2 + 2 + 4), grown
    del out
    grown, out = _held_by_pool(lambda: polypharmacy_columns(n, atc))
    assert grown >= n * (3 * 2 + 1), grown  # three int16 counts and the band (booleans are copied into bits)
    del out
    table = pa.table({"patient_id": [str(i) for i in range(n)], "age": [70] * n, "icd10": codes, "atc": atc})
    grown, out = _held_by_pool(lambda: score_risk(table))
    assert grown >= n * (3 * 2 + 2 + 4 + 8 + 1), grown  # and risk_points (float64), risk_tier
    del out
