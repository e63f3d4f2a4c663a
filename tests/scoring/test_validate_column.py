"""validate_column refuses exactly what pyarrow's full validation refuses, with dictionary index bounds checked by
Varde's kernel: every index type, nulls holding any index, sliced arrays, both kernel paths."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from varde.scoring import SchemaError
from varde.scoring.arrow import validate_column

INDEX_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]


def pyarrow_refuses(arr: pa.Array) -> bool:
    try:
        arr.validate(full=True)
    except pa.ArrowException:
        return True
    return False


def varde_refuses(arr: pa.Array) -> bool:
    try:
        validate_column(arr, "c")
    except SchemaError as e:
        assert e.column == "c" and "'c'" in str(e)
        return True
    return False


@st.composite
def dictionary_arrays(draw):
    t = draw(st.sampled_from(INDEX_TYPES))
    info = np.iinfo(t.to_pandas_dtype())
    size = draw(st.integers(1, 300))
    n = draw(st.sampled_from([1, 7, 64, 20_000]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    indices = rng.integers(0, min(size, int(info.max) + 1), n).astype(t.to_pandas_dtype())
    nulls = rng.random(n) < draw(st.sampled_from([0.0, 0.3]))
    bad = draw(st.sampled_from([None, size, -1, int(info.max), int(info.min)]))
    if bad is not None and n:
        at = int(rng.integers(0, n))
        indices[at] = np.array(bad).astype(t.to_pandas_dtype())
        if draw(st.booleans()):
            nulls[at] = True  # a null slot may hold any index
    arr = pa.DictionaryArray.from_arrays(pa.array(indices, t, mask=nulls if nulls.any() else None),
                                         pa.array([f"v{i}" for i in range(size)]), safe=False)
    start = draw(st.integers(0, max(0, n - 1)))
    return arr.slice(start, draw(st.integers(0, n - start)))


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(dictionary_arrays())
def test_dictionary_bounds_as_pyarrow_decides(arr):
    assert varde_refuses(arr) == pyarrow_refuses(arr)


@pytest.mark.parametrize("t", INDEX_TYPES, ids=str)
@pytest.mark.parametrize("n", [3, 50_000])
def test_every_index_type_at_the_bounds(t, n):
    dictionary = pa.array(["A", "V", "U"])
    top = np.zeros(n, t.to_pandas_dtype())
    top[-1] = 2
    assert not varde_refuses(pa.DictionaryArray.from_arrays(pa.array(top, t), dictionary))
    top[-1] = 3
    assert varde_refuses(pa.DictionaryArray.from_arrays(pa.array(top, t), dictionary, safe=False))
    mask = np.zeros(n, np.bool_)
    mask[-1] = True  # the same index under a null: allowed
    assert not varde_refuses(pa.DictionaryArray.from_arrays(pa.array(top, t, mask=mask), dictionary, safe=False))


def test_a_dictionary_longer_than_its_index_type_counts():
    dictionary = pa.array([str(i) for i in range(300)])
    ok = pa.DictionaryArray.from_arrays(pa.array([127, 0], pa.int8()), dictionary)
    assert not varde_refuses(ok)
    assert varde_refuses(pa.DictionaryArray.from_arrays(pa.array([-1, 0], pa.int8()), dictionary, safe=False))


def test_other_columns_keep_pyarrow_full_validation():
    offsets = np.array([0, -83_886_081, 1], np.int32)
    broken = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"x")])
    assert varde_refuses(broken)
    dictionary_of_broken = pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int32()), broken)
    assert varde_refuses(dictionary_of_broken)
    assert varde_refuses(pa.chunked_array([pa.array(["a"]), broken]))
    assert not varde_refuses(pa.chunked_array([pa.array(["a"]), pa.array(["b"])]))
