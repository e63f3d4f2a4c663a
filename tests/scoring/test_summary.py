"""The summary's counts per value of a dictionary column (what `varde score` prints and each ScoredBatch reports),
read from the Arrow buffers, against counting the Python values."""

from collections import Counter

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from varde.scoring.summary import count_values

INDEX_TYPES = [pa.int8(), pa.uint8(), pa.int16(), pa.uint16(), pa.int32(), pa.int64()]


@st.composite
def dictionary_arrays(draw):
    k = draw(st.integers(1, 40))
    n = draw(st.integers(0, 300))
    codes = draw(st.lists(st.one_of(st.none(), st.integers(0, k - 1)), min_size=n, max_size=n))
    array = pa.DictionaryArray.from_arrays(pa.array(codes, draw(st.sampled_from(INDEX_TYPES))),
                                           pa.array([f"v{i}" for i in range(k)]))
    start = draw(st.integers(0, n))
    return array.slice(start, draw(st.integers(0, n - start)))  # offsets inside the validity bitmap's bytes


@settings(deadline=None, max_examples=300)
@given(dictionary_arrays())
def test_counts_equal_counting_the_values(array):
    assert count_values(array) == Counter(v for v in array.to_pylist() if v is not None)
    assert count_values(pa.chunked_array([array, array], array.type)) == \
        Counter(v for v in array.to_pylist() * 2 if v is not None)


def test_codes_above_127_in_one_unsigned_byte():
    array = pa.DictionaryArray.from_arrays(pa.array([200, 200, None, 3], pa.uint8()),
                                           pa.array([f"v{i}" for i in range(256)]))
    assert count_values(array) == Counter({"v200": 2, "v3": 1})
