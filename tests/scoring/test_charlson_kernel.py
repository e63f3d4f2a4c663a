"""The Charlson kernel against the plain reference: every code shape, both columns, every Arrow layout."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference.charlson import WHITESPACE, charlson, load_tables
from varde.scoring.risk import charlson_columns
from varde.scoring.risk._lists import list_column
from varde.scoring.schema import SchemaError

TABLES = load_tables()
ICD_PREFIXES = sorted({p for _, p in TABLES.icd10})
ICPC_RUBRICS = sorted({p for _, p in TABLES.icpc2})
NOISE = sorted(WHITESPACE) + [".", "-", "é", "Ø", "*"]


def decorate(code: str, draw) -> str:
    """A code as a journal might write it: lower case, dots, spaces (Unicode too) in and around it."""
    out = []
    for ch in code:
        if draw(st.booleans()):
            ch = ch.lower()
        out.append(ch)
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from([".", " ", "\u00a0", "\t", "\u2009"])))
    text = "".join(out)
    if draw(st.integers(0, 4)) == 0:
        text = draw(st.sampled_from([" ", "\u3000", "\n"])) + text + draw(st.sampled_from(["", " ", "\u202f"]))
    return text


@st.composite
def code(draw, system: str):
    kind = draw(st.integers(0, 9))
    if kind <= 4:  # from the table, maybe longer
        base = draw(st.sampled_from(ICD_PREFIXES if system == "icd10" else ICPC_RUBRICS))
        tail = draw(st.text(alphabet="0123456789" + ("ABCXZ" if system == "icd10" else ""), max_size=3))
        return decorate(base + tail, draw)
    if kind <= 6:  # a well-formed code, mostly in no group
        letter = draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        return decorate(letter + draw(st.text(alphabet="0123456789", min_size=2, max_size=2))
                        + draw(st.text(alphabet="0123456789AB", max_size=4)), draw)
    if kind == 7:  # a 3-character start of a longer prefix (under-specified in ICD-10)
        return decorate(draw(st.sampled_from(ICD_PREFIXES))[:3], draw)
    if kind == 8:
        return draw(st.none() | st.just("") | st.just("  "))
    return draw(st.text(alphabet="ABCE0123456789" + "".join(NOISE), max_size=9))


def patient_codes(system):
    return st.one_of(st.none(), st.lists(code(system), max_size=8))


def column(values, layout: str) -> pa.Array:
    if layout == "list":
        return pa.array(values, pa.list_(pa.string()))
    if layout == "large_list":
        return pa.array(values, pa.large_list(pa.large_string()))
    if layout == "dictionary":  # as Node's apache-arrow sends strings
        return pa.array(values, pa.list_(pa.string())).cast(pa.list_(pa.dictionary(pa.int32(), pa.string())))
    if layout == "string_view":
        return pa.array(values, pa.list_(pa.string_view()))
    if layout == "sliced":
        return pa.array([["I50"]] + values + [None], pa.list_(pa.string())).slice(1, len(values))
    if layout == "null_rows_with_codes":
        return null_rows_with_codes(values)
    raise AssertionError(layout)


def null_rows_with_codes(values: list, hidden: tuple = ("C78", "E11.4", "I50", "x", "A10BA02")) -> pa.ListArray:
    """A list column whose null rows still span codes (Arrow allows it): codes a kernel must not count."""
    flat, offsets = [], [0]
    for row in values:
        flat.extend(hidden if row is None else row)
        offsets.append(len(flat))
    mask = pa.array([row is None for row in values])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat, pa.string()), mask=mask)


@settings(deadline=None, max_examples=300)
@given(st.lists(st.tuples(patient_codes("icd10"), patient_codes("icpc2")), min_size=1, max_size=20),
       st.sampled_from(["list", "large_list", "dictionary", "string_view", "sliced", "null_rows_with_codes"]),
       st.booleans())
def test_kernel_equals_reference(patients, layout, parallel):
    icd = [p[0] for p in patients]
    icpc = [p[1] for p in patients]
    got = charlson_columns(len(patients), column(icd, layout), column(icpc, layout), parallel=parallel)
    got = {k: v.to_pylist() for k, v in got.items()}
    for i, (a, b) in enumerate(patients):
        expected = charlson(a, b)
        assert got["charlson_groups"][i] == expected["groups"], (a, b)
        for key in ("charlson_1987", "charlson_quan2011", "codes_unknown", "codes_malformed", "codes_underspecified"):
            assert got[key][i] == expected[key], (key, a, b)


def test_every_prefix_of_the_table_by_itself():
    """Each Quan 2005 prefix, and each ICPC-2 rubric, alone: the group the table names."""
    icd = [[p] for _, p in TABLES.icd10]
    got = charlson_columns(len(icd), pa.array(icd, pa.list_(pa.string())), None)["charlson_groups"].to_pylist()
    assert got == [charlson(c, None)["groups"] for c in icd]
    icpc = [[p] for _, p in TABLES.icpc2]
    got = charlson_columns(len(icpc), None, pa.array(icpc, pa.list_(pa.string())))["charlson_groups"].to_pylist()
    assert got == [charlson(None, c)["groups"] for c in icpc]


def test_large_batch_parallel_equals_serial():
    icd = [[ICD_PREFIXES[(i * 7) % len(ICD_PREFIXES)], "E11", "x.1"] if i % 5 else None for i in range(30_000)]
    col = pa.array(icd, pa.list_(pa.string()))
    a = charlson_columns(len(icd), col, None, parallel=True)
    b = charlson_columns(len(icd), col, None, parallel=False)
    assert all(a[k].equals(b[k]) for k in a)


@pytest.mark.parametrize("bad", [pa.array([1, 2]), pa.array(["I50", "J44"]), pa.array([[1], [2]])])
def test_a_code_column_of_the_wrong_type_is_named(bad):
    with pytest.raises(SchemaError, match="icd10"):
        charlson_columns(2, bad, None)


def test_absent_and_all_null_columns():
    got = charlson_columns(2, None, pa.array([None, None], pa.null()))
    assert got["charlson_groups"].to_pylist() == [[], []]
    assert got["charlson_1987"].to_pylist() == [0, 0]


def test_the_groups_column_is_exact_at_every_block_edge():
    """finish writes three entries per row whatever its count and moves on by the count, except where that could
    write into the next block's entries. Rows of 0-17 groups, blocks that end in empty rows and in full rows: the
    list column, the hierarchy and both weightings are those of a plain loop over the bits."""
    import numpy as np

    from varde.scoring.risk import _charlson_finish as F
    from varde.scoring.risk.charlson import finish, tables

    t = tables()
    g = len(t.groups)
    rng = np.random.default_rng(5)
    n = 6 * F.BLOCK + 7
    counts = rng.choice([0, 1, 2, 3, 6, g], size=n, p=[0.3, 0.3, 0.2, 0.1, 0.05, 0.05])
    counts[F.BLOCK - 9:F.BLOCK] = 0  # a block that ends in empty rows
    counts[2 * F.BLOCK - 3:2 * F.BLOCK] = g  # one that ends in full rows
    counts[3 * F.BLOCK:4 * F.BLOCK] = 0  # a block with no group at all
    counts[-2:] = [0, 1]
    mask = np.array([sum(1 << int(b) for b in rng.choice(g, size=c, replace=False)) for c in counts], np.uint64)
    zero = np.zeros(n, np.int16)
    for parallel in (False, True):
        out = finish(n, mask, (zero, zero, zero), parallel)
        lists = out["charlson_groups"].to_pylist()
        for i in range(n):
            m = int(mask[i])
            for r in t.ranked:
                if m >> int(r) & 1:
                    m &= ~(1 << int(t.replaces[r]))
            kept = [k for k in range(g) if m >> k & 1]
            assert lists[i] == [t.groups[k] for k in kept], i
            assert out["charlson_1987"][i].as_py() == sum(int(t.weights_1987[k]) for k in kept)
            assert out["charlson_quan2011"][i].as_py() == sum(int(t.weights_2011[k]) for k in kept)


def test_a_block_never_writes_past_its_own_entries():
    """Blocks are filled in any order (two threads): filled last block first, each block's entries must still be
    its own, and nothing may be written after the last entry. A block ending in rows of 2, 3 and 17 groups."""
    import numpy as np

    from varde.scoring.risk import _charlson_finish as F

    rng = np.random.default_rng(9)
    n = 4 * F.BLOCK
    counts = rng.choice([0, 1, 2, 3], size=n)
    for b, tail in enumerate(([2, 2], [3, 3, 3], [17], [3, 2, 1])):
        end = (b + 1) * F.BLOCK
        counts[end - len(tail):end] = tail
    final = np.array([(1 << int(c)) - 1 for c in counts], np.uint32)
    totals = np.array([counts[b * F.BLOCK:(b + 1) * F.BLOCK].sum() for b in range(4)], np.int64)
    starts = np.concatenate([[0], np.cumsum(totals)])
    want = np.concatenate([np.arange(c, dtype=np.int8) for c in counts])
    values = np.full(starts[-1] + 8, 99, np.int8)  # 8 sentinels after the last entry
    offsets = np.zeros(n + 1, np.int32)
    for b in reversed(range(4)):
        F.fill_block(b * F.BLOCK, (b + 1) * F.BLOCK, final, starts[b], starts[b + 1], offsets, values)
    assert np.array_equal(values[:starts[-1]], want)
    assert np.all(values[starts[-1]:] == 99)
    assert np.array_equal(offsets, np.concatenate([[0], np.cumsum(counts)]))


@pytest.mark.parametrize("parallel", [False, True])
def test_blocks_of_very_different_sizes_equal_the_reference(parallel):
    """The kernel walks each block of 1,024 rows as one run of codes, with scratch sized for the largest block.
    Here one block holds a row of 5,000 codes, another only empty rows, and null rows span codes at block edges."""
    rng = random.Random(7)
    pool = ICD_PREFIXES + ["I10", "E11", "x", "", "c78.0", "K70"]
    rows = [[rng.choice(pool) for _ in range(rng.randint(0, 6))] for _ in range(4_100)]
    rows[1_500] = [rng.choice(pool) for _ in range(5_000)]
    rows[2_048:3_072] = [[] for _ in range(1_024)]
    for i in (0, 1_023, 1_024, 2_047, 3_072, 4_099):
        rows[i] = None
    got = charlson_columns(len(rows), null_rows_with_codes(rows), None, parallel=parallel)
    got = {k: v.to_pylist() for k, v in got.items()}
    for i, row in enumerate(rows):
        expected = charlson(row, None)
        assert got["charlson_groups"][i] == expected["groups"], i
        for key in ("charlson_1987", "codes_unknown", "codes_malformed", "codes_underspecified"):
            assert got[key][i] == expected[key], (key, i)


@pytest.mark.parametrize("parallel", [False, True])
def test_the_first_column_writes_every_row_over_whatever_was_there(parallel):
    """charlson_columns gives the first code column arrays it has not zeroed (first=True: written, not added to),
    and the last one finishes the scores as it goes. Arrays full of stale values must come out as zeroed ones do,
    null rows and rows with no codes included."""
    import numpy as np

    from varde.scoring.risk import charlson as C

    rng = random.Random(11)
    pool = ICD_PREFIXES + ["I10", "x", "", "c78.0", "K70", "E11"]
    icd = [None if rng.random() < 0.05 else [rng.choice(pool) for _ in range(rng.randint(0, 6))]
           for _ in range(3 * 1024 + 5)]
    n = len(icd)
    col = list_column(pa.array(icd, pa.list_(pa.string())), "icd10")
    t = C.tables()
    want_mask = np.zeros(n, np.uint64)
    want_counts = tuple(np.zeros(n, np.int16) for _ in range(3))
    C.match_codes(n, col, t.icd10, C.ICD10, want_mask, want_counts, parallel)
    mask = np.full(n, 0xDEAD, np.uint64)
    counts = tuple(np.full(n, 777, np.int16) for _ in range(3))
    C.match_codes(n, col, t.icd10, C.ICD10, mask, counts, parallel, first=True)
    assert np.array_equal(mask, want_mask)
    assert all(np.array_equal(a, b) for a, b in zip(counts, want_counts, strict=True))
    # finishing, over stale scores: those of finish() on the zeroed mask
    final = np.full(n, 0xBEEF, np.uint32)
    scores = (np.full(n, 99, np.int8), np.full(n, 99, np.int8))
    counts = tuple(np.full(n, 777, np.int16) for _ in range(3))
    totals = C.match_codes(n, col, t.icd10, C.ICD10, C._NO_MASK, counts, parallel, first=True,
                           finish_into=(final, *scores))
    got = C._columns(n, final, scores, totals, counts)
    want = C.finish(n, want_mask, want_counts, parallel)
    for name, column in want.items():
        assert got[name].equals(column), name
