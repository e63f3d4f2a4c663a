"""The per-thread code memo: a code remembered must read exactly as the code read afresh, whatever the table holds."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from tests.reference.charlson import charlson
from tests.reference.risk_extra import polypharmacy
from tests.scoring.test_charlson_kernel import ICD_PREFIXES
from varde.scoring.risk import _charlson_kernel as K
from varde.scoring.risk import charlson as C
from varde.scoring.risk import charlson_columns, polypharmacy_columns
from varde.scoring.risk._lists import list_column
from varde.scoring.risk._memo import tables
from varde.scoring.risk._walk import scratch

# Codes that share their first bytes, or differ only in a byte the memo's key must not lose: NUL, case, a dot,
# trailing whitespace, a code of 7 bytes (remembered) and of 8 or more (read every time).
SPELLINGS = ["I50", "I50\x00", "i50", "I50.", "I50 ", "I5", "I500", "I50.0", "E11.21", "e11.21 ", "E1121\x00",
             "C78.0001", "C78", "c78.00", "K70.3", "K703\x00\x00", "", " ", "x", "Z99.99999"]


def _patients(n: int, seed: int) -> list[list[str] | None]:
    rng = random.Random(seed)
    pool = SPELLINGS + ICD_PREFIXES
    return [None if rng.random() < 0.02 else [rng.choice(pool) for _ in range(rng.randint(0, 8))] for _ in range(n)]


def test_repeated_spellings_across_many_patients_equal_the_reference():
    """12,000 patients (the parallel path: each thread its own memo), every spelling met thousands of times."""
    icd = _patients(12_000, 1)
    got = charlson_columns(len(icd), pa.array(icd, pa.list_(pa.string())), None, parallel=True)
    got = {k: v.to_pylist() for k, v in got.items()}
    for i, codes in enumerate(icd):
        expected = charlson(codes, None)
        assert got["charlson_groups"][i] == expected["groups"], codes
        for key in ("charlson_1987", "charlson_quan2011", "codes_unknown", "codes_malformed", "codes_underspecified"):
            assert got[key][i] == expected[key], (key, codes)


def test_codes_that_differ_only_in_a_nul_byte_are_kept_apart():
    """The memo's key is the raw bytes with a marker bit above them: "I50" and "I50\\0" are different keys."""
    icd = [["I50"], ["I50\x00"]] * 6_000
    got = charlson_columns(len(icd), pa.array(icd, pa.list_(pa.string())), None, parallel=True)
    assert got["charlson_groups"].to_pylist()[:2] == [charlson(["I50"], None)["groups"], []]
    assert got["codes_malformed"].to_pylist()[:2] == [0, 1]


def test_a_memo_too_small_to_remember_every_code_still_reads_every_code():
    """A 64-slot memo and ~1,000 distinct codes: most are not remembered (no free slot within the probe limit),
    and the results are those of a memo with room for all."""
    icd = _patients(3_000, 2)
    col = list_column(pa.array(icd, pa.list_(pa.string())), "icd10")
    t = C.tables().icd10
    results = []
    for memo in (np.zeros((64, 2), np.uint64), tables(100_000, 2, parallel=False)[0]):
        mask = np.zeros(len(icd), np.uint64)
        counts = [np.zeros(len(icd), np.int16) for _ in range(3)]
        K.charlson_serial(0, len(icd), col, *C.ICD10, t.keys, t.masks, t.counts, t.lut_masks, t.lut3, t.lut4,
                          t.under3, memo, *(a[0] for a in scratch(col[0], len(icd), 1, block=len(icd))), mask,
                          *counts, False, False, C.tables().replaces, C.tables().ranked, C.tables().sums,
                          *C._NOT_FINISHING)
        results.append((mask, counts))
        assert np.count_nonzero(memo[:, 0]) <= memo.shape[0]
    assert np.count_nonzero(results[0][0]) > 1_000
    assert np.array_equal(results[0][0], results[1][0])
    assert all(np.array_equal(a, b) for a, b in zip(results[0][1], results[1][1], strict=True))


def test_atc_spellings_repeated_equal_the_reference():
    rng = random.Random(3)
    pool = ["C07AB02", "c07ab02", "C07AB02 ", "C07AB02\x00", "C07", "C07AB", "N02BE01", "N02BE0", "A10BA02",
            "a10ba02", "B01AC06", "", "X", "C07AB021", "C07.AB.02"]
    atc = [[rng.choice(pool) for _ in range(rng.randint(0, 12))] for _ in range(12_000)]
    got = polypharmacy_columns(len(atc), pa.array(atc, pa.list_(pa.string())), parallel=True)
    expected = [polypharmacy(codes) for codes in atc]
    assert got["polypharmacy_count"].to_pylist() == [e["count"] for e in expected]
    assert got["atc_underspecified"].to_pylist() == [e["codes_underspecified"] for e in expected]
    assert got["atc_malformed"].to_pylist() == [e["codes_malformed"] for e in expected]


def test_memo_sizes():
    """Two slots a code, at least 64 and at most 65,536; one table per pool thread when parallel."""
    assert tables(0, 2, parallel=False).shape == (1, 64, 2)
    assert tables(1_000, 4, parallel=False).shape == (1, 2_048, 4)
    assert tables(10_000_000, 2, parallel=False).shape == (1, 65_536, 2)
    import numba

    assert tables(10, 2, parallel=True).shape[0] == numba.config.NUMBA_NUM_THREADS


def test_substances_without_an_id_are_still_counted_once():
    """A 4-slot substance table and dozens of substances: most get no id and are deduplicated against the row's
    scratch list instead, some of one patient's substances one way and some the other. The counts are the
    reference's, and those of a table with room for all."""
    from varde.scoring.risk import _atc_kernel as A
    from varde.scoring.risk.medicines import stamps_for, substance_tables

    rng = random.Random(4)
    pool = [f"{c}{d:02d}AB{e:02d}" for c in "ABCN" for d in (1, 7) for e in range(1, 9)]
    pool += [p.lower() for p in pool[:10]] + ["C07", "C07AB0x", ""]
    atc = [[rng.choice(pool) for _ in range(rng.randint(0, 14))] for _ in range(2_000)]
    col = list_column(pa.array(atc, pa.list_(pa.string())), "atc")
    expected = [polypharmacy(codes) for codes in atc]
    longest = max(len(c) for c in atc)
    small = (np.zeros((4, 2), np.uint64), np.zeros(1, np.int64), np.full(5, -1, np.int64))
    roomy, roomy_given = substance_tables(1)
    for subs, given, stamps in (small, (roomy[0], roomy_given[0], stamps_for(roomy)[0])):
        out = (np.empty(len(atc), np.int16), np.empty(len(atc), np.int8), np.empty((len(atc) + 7) // 8, np.uint8),
               np.empty(len(atc), np.int16), np.empty(len(atc), np.int16))
        marks, tally, _ = scratch(col[0], len(atc), 1, block=len(atc))
        A.atc_serial(0, len(atc), *col, tables(len(atc), 2, parallel=False)[0], subs, given, stamps,
                     np.empty(longest, np.uint64), np.empty(len(atc), np.int64), marks[0], tally[0].reshape(-1), *out)
        assert out[0].tolist() == [e["count"] for e in expected]
        assert out[3].tolist() == [e["codes_underspecified"] for e in expected]
        assert out[4].tolist() == [e["codes_malformed"] for e in expected]
        assert out[1].tolist() == [(e["count"] >= 5) + (e["count"] >= 10) for e in expected]
        assert np.unpackbits(out[2], bitorder="little")[:len(atc)].tolist() == [e["count"] >= 4 for e in expected]
    assert np.count_nonzero(small[0][:, 0]) == 4 and small[1][0] == 4  # full: the others went the slow way


def test_a_row_of_more_problem_codes_than_int16_holds_says_32767():
    """The count columns are int16: 40,000 malformed codes in a row say 32,767, not a negative number, and the
    counts of two columns (ICD-10 and ICPC-2) add up to that limit, not past it."""
    code = next(c for c in ("I13", "I11", "K70", "E10", "I25") if charlson([c], None)["codes_underspecified"] == 1)
    icd = pa.array([[code] * 40_000, ["x"] * 40_000, ["I50"] + ["x"] * 20_000], pa.list_(pa.string()))
    icpc = pa.array([[], [], ["x"] * 20_000], pa.list_(pa.string()))
    for parallel in (False, True):
        got = charlson_columns(3, icd, icpc, parallel=parallel)
        assert got["codes_underspecified"].to_pylist() == [32_767, 0, 0]
        assert got["codes_malformed"].to_pylist() == [0, 32_767, 32_767]
        assert got["codes_unknown"].to_pylist() == [0, 0, 0]
        assert got["charlson_groups"].to_pylist()[2] == charlson(["I50"], None)["groups"]


def test_walk_scratch_holds_the_largest_block():
    """The kernels walk a block's codes with no bounds check: marks must hold every block's codes, plus one."""
    from varde.scoring.risk._walk import BLOCK

    rng = np.random.default_rng(3)
    for n in (0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 17):
        lengths = rng.integers(0, 9, n)
        if n > BLOCK + 5:
            lengths[BLOCK + 5] = 3_000
        loff = np.concatenate([[7], 7 + np.cumsum(lengths)]).astype(np.int32)  # a sliced column starts past 0
        marks, words, notes = scratch(loff, n, 2, 3)
        most = max((loff[min(b + BLOCK, n)] - loff[b] for b in range(0, n, BLOCK)), default=0)
        assert marks.shape == (2, most + 1) and marks.dtype == np.int32
        assert words.shape == (2, min(BLOCK, max(n, 1)), 3)
        assert notes.shape == (2, 2, most + 1)  # every code of a block may be left for later, each keeps its word
        marks, words, notes = scratch(loff, n, 1, block=n)  # a serial call: all rows as one block
        assert marks.shape == (1, loff[-1] - loff[0] + 1) and words.shape == (1, max(n, 1), 1)
        assert notes.shape == (1, 2, loff[-1] - loff[0] + 1)


def test_a_large_call_reads_on_in_the_memos_an_earlier_one_filled():
    """Parallel calls keep their memos for the next call with the same code table: the second call finds every
    spelling remembered, and its results are the first call's."""
    from varde.scoring.risk import _memo

    icd = pa.array(_patients(30_000, 5), pa.list_(pa.string()))
    first = charlson_columns(len(icd), icd, None, parallel=True)
    memos = _memo._KEPT[("one", C.tables().icd10, C.ICD10)]
    filled = np.count_nonzero(memos[:, :, 0])
    assert filled > 100
    again = charlson_columns(len(icd), icd, None, parallel=True)
    assert _memo._KEPT[("one", C.tables().icd10, C.ICD10)] is memos
    assert np.count_nonzero(memos[:, :, 0]) == filled  # nothing new to remember
    assert all(first[k].equals(again[k]) for k in first)


def test_kept_memos_over_three_quarters_full_are_made_anew():
    """A kept set that is over three quarters full is not used again (here four fifths of its slots hold keys no
    code has), and the call's results are the reference's."""
    from varde.scoring.risk import _memo

    rows = _patients(20_000, 6)
    icd = pa.array(rows, pa.list_(pa.string()))
    charlson_columns(len(rows), icd, None, parallel=True)
    key = ("one", C.tables().icd10, C.ICD10)
    memos = _memo._KEPT[key]
    junk = np.arange(1, memos.shape[1] * 4 // 5, dtype=np.uint64) << np.uint64(60)  # no code's raw key
    memos[:, : len(junk), 0] = junk
    got = charlson_columns(len(rows), icd, None, parallel=True)["charlson_groups"].to_pylist()
    assert _memo._KEPT[key] is not memos
    assert got[:2_000] == [charlson(r, None)["groups"] for r in rows[:2_000]]


def test_two_callers_at_once_never_share_kept_memos():
    from varde.scoring.risk._memo import kept

    made = []

    def make():
        made.append(np.zeros((1, 64, 2), np.uint64))
        return made[-1]

    with kept(("test",), make) as a, kept(("test",), make) as b:
        assert a is not b
    with kept(("test",), make) as c:
        assert c is a or c is b
    assert len(made) == 2


def test_three_tables_with_a_memo_too_small_equal_a_memo_with_room():
    """The three-table pass with a 64-slot memo: most codes are not remembered, and the second pass that counts a
    row's problem codes reads them afresh. Groups of all three tables and the counts are those of a large memo."""
    from varde.scoring.risk.conditions import condition_tables

    icd = _patients(3_000, 8)
    col = list_column(pa.array(icd, pa.list_(pa.string())), "icd10")
    tabs = [(t.keys, t.masks, t.counts, t.lut_masks, t.lut3, t.lut4, t.under3)
            for t in (C.tables().icd10, *condition_tables("icd10"))]
    results = []
    for memo in (np.zeros((64, 4), np.uint64), tables(100_000, 4, parallel=False)[0]):
        out = [np.zeros(len(icd), np.uint64) for _ in range(3)] + [np.zeros(len(icd), np.int16) for _ in range(3)]
        marks, words, notes = scratch(col[0], len(icd), 1, 3, block=len(icd))
        K.codes3_serial(0, len(icd), col, *C.ICD10, *tabs, memo, marks[0], words[0], notes[0, 1], *out)
        results.append(out)
    assert sum(int(np.count_nonzero(c)) for c in results[0][3:]) > 100  # rows with problem codes were counted
    assert all(np.array_equal(a, b) for a, b in zip(results[0], results[1], strict=True))


@pytest.mark.parametrize(("n", "parallel"), [(1, False), (13, False), (3 * 1024 + 5, False), (3 * 1024 + 5, True),
                                             (8 * 1024, True)])
def test_medication_review_due_is_a_bit_per_row_at_every_block_edge(n, parallel):
    """The kernel writes the review flag as Arrow's boolean bitmap, a byte per 8 rows, each block (1,024 rows) its
    own bytes. Rows of 0-12 substances; the last byte is part full unless n is a multiple of 8."""
    rng = random.Random(n)
    pool = ["C07AB02", "N02BE01", "A10BA02", "B01AC06", "C09AA05", "C10AA01", "R03AK06", "N06AB04", "H03AA01",
            "A02BC01", "M01AE01", "C03CA01", "C07"]
    atc = [None if rng.random() < 0.03 else rng.sample(pool, rng.randint(0, 12)) for _ in range(n)]
    got = polypharmacy_columns(n, pa.array(atc, pa.list_(pa.string())), parallel=parallel)
    due = got["medication_review_due"]
    due.validate(full=True)
    assert due.null_count == 0
    assert due.to_pylist() == [polypharmacy(codes or [])["count"] >= 4 for codes in atc]


def test_polypharmacy_keeps_its_memos_and_substance_ids_across_calls():
    """A parallel call keeps its memos and the substance ids their words hold; the stamps are new each call. A
    second call over other substances, some shared, some new, and the first call's patients again, count as the
    reference does (a stale stamp or a second id for one substance would count wrongly)."""
    from varde.scoring.risk import _memo

    rng = random.Random(12)
    first_pool = [f"C{d:02d}AB{e:02d}" for d in range(1, 9) for e in range(1, 9)]
    second_pool = first_pool[::3] + [f"n{d:02d}bx{e:02d}" for d in range(1, 9) for e in range(1, 9)]
    first = [[rng.choice(first_pool) for _ in range(rng.randint(0, 9))] for _ in range(12_000)]
    second = [[rng.choice(second_pool) for _ in range(rng.randint(0, 9))] for _ in range(12_000)]
    for atc in (first, second, first):
        got = polypharmacy_columns(len(atc), pa.array(atc, pa.list_(pa.string())), parallel=True)
        assert got["polypharmacy_count"].to_pylist() == [polypharmacy(codes)["count"] for codes in atc]
    same = pa.array([["C07AB02", "c07ab02"]] + [[]] * 11_999, pa.list_(pa.string()))
    for _ in range(2):  # the call before stamped the substance with row 0: this call's row 0 must still count it
        assert polypharmacy_columns(12_000, same, parallel=True)["polypharmacy_count"].to_pylist() == [1] + [0] * 11_999
    memos, subs, given = _memo._KEPT[("atc",)]
    assert given.sum() > 0 and np.count_nonzero(subs[:, :, 0]) == given.sum()  # each substance one id a thread
