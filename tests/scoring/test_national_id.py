"""National identity numbers: the kernel in every layout against the plain reference, and by hand at every boundary.

Numbers here are made up for the test (their control digits computed below) or are the examples Skatteetaten and
NAV publish for testing validators. Weights are written out again from the sources, not imported, so that the
generator and the reference cannot share a mistake.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.reference.national_id import valid as reference
from varde.scoring import _national_id_kernel as K
from varde.scoring.arrow import readonly
from varde.scoring.national_id import check_national_ids, is_valid_national_id, warm_up

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def complete(nine: str, remainder: int = 0) -> str | None:
    """nine digits plus control digits that make the first sum leave `remainder` and the second 0; None when a
    control digit would have to be 10."""
    k1 = (remainder - sum(w * int(c) for w, c in zip(W1, nine, strict=True))) % 11
    if k1 == 10:
        return None
    ten = nine + str(k1)
    k2 = -sum(w * int(c) for w, c in zip(W2, ten, strict=True)) % 11
    return None if k2 == 10 else ten + str(k2)


def classic(ddmmyy: str) -> str:
    """A number with this date part and classic (remainder 0) control digits: the first individual number that
    has them."""
    for individual in range(1000):
        number = complete(f"{ddmmyy}{individual:03d}")
        if number is not None:
            return number
    raise AssertionError("unreachable: about 5 in 6 individual numbers have both control digits")


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    warm_up()


# ---- every layout the column check accepts ----

LAYOUTS = ("string", "large_string", "string_view", "dictionary", "dictionary_large", "chunked", "chunked_large",
           "sliced", "sliced_dictionary")


def arrow(values: list, layout: str, pad: list) -> pa.Array | pa.ChunkedArray:
    if layout in ("string", "large_string", "string_view"):
        return pa.array(values, getattr(pa, layout)())
    if layout == "dictionary":
        return pa.array(values, pa.string()).dictionary_encode()
    if layout == "dictionary_large":
        return pa.array(values, pa.large_string()).dictionary_encode()
    if layout in ("chunked", "chunked_large"):
        t = pa.string() if layout == "chunked" else pa.large_string()
        half = len(values) // 2
        return pa.chunked_array([pa.array(values[:half], t), pa.array([], t), pa.array(values[half:], t)], t)
    whole = pa.array(pad + values, pa.string())
    if layout == "sliced_dictionary":
        whole = whole.dictionary_encode()
    return whole.slice(len(pad), len(values))


def expected(values: list) -> list[bool]:
    return [v is not None and not reference(v) for v in values]


def assert_all_layouts(values: list, pad: list | None = None) -> None:
    want = expected(values)
    for layout in LAYOUTS:
        for run_parallel in (False, True):
            got = check_national_ids(arrow(values, layout, pad or ["x", None, "01010000000"]), parallel=run_parallel)
            assert got.dtype == np.bool_ and got.shape == (len(values),)
            assert got.tolist() == want, (layout, run_parallel)
    assert [v is not None and not is_valid_national_id(v) for v in values] == want


# ---- generated values ----

KINDS = ("fødselsnummer", "D", "H", "Tenor", "D+H", "D+Tenor", "felles hjelpenummer")
DAY_MARK = {"D": 40, "D+H": 40, "D+Tenor": 40}
MONTH_MARK = {"H": 40, "Tenor": 80, "D+H": 40, "D+Tenor": 80}
DIGITS = "0123456789"


@st.composite
def valid_numbers(draw, kinds=KINDS) -> str:
    kind = draw(st.sampled_from(kinds))
    if kind == "felles hjelpenummer":
        nine = draw(st.sampled_from("89")) + draw(st.text(DIGITS, min_size=8, max_size=8))
        remainder = 0
    else:
        born = draw(st.dates(date(1800, 1, 1), date(2099, 12, 31)))
        dd = born.day + DAY_MARK.get(kind, 0)
        mm = born.month + MONTH_MARK.get(kind, 0)
        nine = f"{dd:02d}{mm:02d}{born.year % 100:02d}" + draw(st.text(DIGITS, min_size=3, max_size=3))
        remainder = draw(st.sampled_from((0, 1, 2, 3)))
    number = complete(nine, remainder)
    assume(number is not None)
    return number


eleven_digits = st.text(DIGITS, min_size=11, max_size=11)
near_misses = st.one_of(
    st.text(DIGITS, min_size=9, max_size=13),
    st.text(DIGITS + " -.", min_size=11, max_size=13),
    valid_numbers().map(lambda v: " " + v),
    valid_numbers().map(lambda v: v[:6] + "-" + v[6:]),
    st.text(st.characters(categories=["Nd"]), min_size=11, max_size=11),  # other scripts' digits
)
anything = st.one_of(st.text(max_size=14), st.just(""), near_misses)
values = st.lists(st.one_of(valid_numbers(), eleven_digits, anything, st.none()), max_size=40)
pads = st.lists(st.one_of(st.none(), eleven_digits, valid_numbers()), min_size=1, max_size=9)


@settings(deadline=None)
@given(valid_numbers())
def test_generated_valid_numbers_are_valid(number):
    assert reference(number)
    assert is_valid_national_id(number)
    assert check_national_ids(pa.array([number])).tolist() == [False]


@settings(deadline=None)
@given(values, pads)
def test_every_layout_matches_the_reference(vals, pad):
    assert_all_layouts(vals, pad)


@settings(deadline=None)
@given(st.lists(valid_numbers(), min_size=1, max_size=30), st.lists(st.booleans(), min_size=30, max_size=30))
def test_valid_numbers_with_nulls_in_every_layout(numbers, null_here):
    vals = [None if null_here[i] else v for i, v in enumerate(numbers)]
    assert expected(vals) == [False] * len(vals)
    assert_all_layouts(vals)


@settings(deadline=None)
@given(st.lists(eleven_digits, min_size=1, max_size=60))
def test_random_eleven_digits(numbers):
    assert_all_layouts(numbers)


@settings(deadline=None)
@given(valid_numbers(), st.integers(0, 10), st.integers(1, 9))
def test_one_digit_changed_is_invalid(number, position, step):
    # Every weight of the second sum is non-zero modulo 11, so any single changed digit moves it off 0.
    changed = number[:position] + str((int(number[position]) + step) % 10) + number[position + 1:]
    assert not reference(changed)
    assert not is_valid_national_id(changed)
    assert check_national_ids(pa.array([changed])).tolist() == [True]


@settings(deadline=None)
@given(valid_numbers(), st.integers(0, 9))
def test_neighbours_swapped_is_invalid(number, position):
    a, b = number[position], number[position + 1]
    assume(a != b)
    swapped = number[:position] + b + a + number[position + 2:]
    assert not reference(swapped)
    assert not is_valid_national_id(swapped)


# ---- by hand ----

# Published for testing validators: Skatteetaten, folkeregisteret-api-dokumentasjon,
# docs/dokumenter/foedselsEllerDNummerValidator/foedselsnummer.csv, and the 2032 page's worked examples.
SKATTEETATEN = [
    ("30108299939", True),  # issued from 2032, first remainder 1
    ("30108299920", True),  # issued from 2032, first remainder 0
    ("02013299997", True),  # born 2 January 2032
    ("30908299902", True),  # Tenor synthetic, from 2032 (month 90 = October + 80)
    ("20036914700", True),
    ("03851598730", True),  # Tenor synthetic (month 85)
    ("20036914712", False),  # control digits wrong
    ("29020073150", True),  # 29 February 2000
    ("29020105729", False),  # 29 February 2001 does not exist
    ("55102499947", True),  # D-number, from 2032
    ("41819077906", True),  # D-number with Tenor synthetic month, from 2032
    ("41819077302", True),  # D-number with Tenor synthetic month
]
# NAV's fnrvalidator README: H-number, Test Norge (Tenor) number, D-number with H month.
NAV = [("13527248013", True), ("10915596784", True), ("68467038838", True)]


@pytest.mark.parametrize(("number", "want"), SKATTEETATEN + NAV)
def test_published_examples(number, want):
    assert reference(number) is want
    assert is_valid_national_id(number) is want
    assert check_national_ids(pa.array([number])).tolist() == [not want]


DATES = [
    # (DDMMYY, valid): every number below has correct classic control digits, so only the date decides.
    ("010190", True),  # fødselsnummer
    ("310190", True),
    ("000190", False),  # day 0
    ("320190", False),  # day 32
    ("310490", False),  # 31 April
    ("300490", True),
    ("300290", False),  # 30 February
    ("010090", False),  # month 0
    ("011390", False),  # month 13
    ("011290", True),
    ("410190", True),  # D-number: day 1 + 40
    ("710190", True),  # D-number: day 31 + 40
    ("400190", False),  # D-number day 0
    ("720190", False),  # D-number day 32
    ("350190", False),  # 35: neither a day nor a D-number day
    ("014190", True),  # H-number / NAV synthetic: January + 40
    ("015290", True),  # December + 40
    ("014090", False),  # month 0 + 40
    ("015390", False),  # month 13 + 40
    ("016090", False),  # 60: neither + 40 nor + 80 of a month
    ("018190", True),  # Tenor synthetic: January + 80
    ("019290", True),  # December + 80
    ("018090", False),  # month 0 + 80
    ("019390", False),  # month 13 + 80
    ("414190", True),  # D-number with NAV synthetic month
    ("719290", True),  # D-number with Tenor synthetic month
    ("724190", False),  # D-number day 32 with synthetic month
    ("290200", True),  # 29 February 2000: a leap year (1800 and 1900 were not; one century suffices)
    ("290201", False),  # 29 February in 1801, 1901, 2001: none exist
    ("290204", True),
    ("290296", True),
    ("290299", False),
    ("690200", True),  # D-number, 29 February 2000
    ("690201", False),
    ("298200", True),  # Tenor synthetic, 29 February 2000
    ("294201", False),  # NAV synthetic, 29 February 2001
    ("698204", True),  # D-number with Tenor synthetic month, 29 February 2004
]


@pytest.mark.parametrize(("ddmmyy", "want"), DATES)
def test_dates(ddmmyy, want):
    number = classic(ddmmyy)
    assert reference(number) is want
    assert_all_layouts([number, None, number])


@pytest.mark.parametrize("nine", ["010190123", "311299567", "710182999", "019290000"])
def test_first_control_digit_remainders(nine):
    # From 2032 the first sum may leave 0, 1, 2 or 3 (Skatteetaten); never 4-10. The second must leave 0.
    seen = []
    for remainder in range(11):
        number = complete(nine, remainder)
        if number is None:
            continue
        seen.append(remainder)
        assert reference(number) is (remainder <= 3), remainder
        assert is_valid_national_id(number) is (remainder <= 3), remainder
    assert len(seen) >= 6  # the test ran over remainders on both sides of the line
    assert any(r <= 3 for r in seen) and any(r > 3 for r in seen)


@pytest.mark.parametrize("nine", ["812345678", "900000001", "899999999"])
def test_felles_hjelpenummer_takes_classic_control_digits_only(nine):
    for remainder in range(11):
        number = complete(nine, remainder)
        if number is not None:
            assert reference(number) is (remainder == 0), remainder
            assert is_valid_national_id(number) is (remainder == 0), remainder


def test_second_control_digit_must_leave_zero():
    number = classic("010190")
    for k2 in "0123456789":
        other = number[:10] + k2
        assert is_valid_national_id(other) is (other == number)
    # Where the second control digit would have to be 10, no digit works.
    ten = next(n + str(k1) for n in (f"010190{i:03d}" for i in range(1000))
               for k1 in [(-sum(w * int(c) for w, c in zip(W1, n, strict=True))) % 11]
               if k1 < 10 and sum(w * int(c) for w, c in zip(W2, n + str(k1), strict=True)) % 11 == 1)
    assert [is_valid_national_id(ten + k2) for k2 in "0123456789"] == [False] * 10


def test_the_individual_number_does_not_limit_the_century():
    # Before 2032, individual numbers 000-499 meant 1900-1999, where 29 February 1900 never was. From 2032 the
    # individual number says nothing about the century, so 2000 (a leap year) counts.
    number = complete("290200499")
    assert number is not None and reference(number) and is_valid_national_id(number)


def test_hand_computed_control_digits():
    # The worked example in docs/national-id.md: 150690 124. First sum 138 = 12*11 + 6, k1 = 11 - 6 = 5; second
    # sum 135 = 12*11 + 3, k2 = 11 - 3 = 8.
    assert complete("150690124") == "15069012458"
    assert is_valid_national_id("15069012458")
    # From 2032 the first sum may also leave 1, 2, 3 (k1 = 6, 7, 8, each with its own k2), but not 4.
    assert [is_valid_national_id(n) for n in ("15069012466", "15069012474", "15069012482", "15069012490")] == [
        True, True, True, False]
    # 010190 123: first sum 100 = 9*11 + 1, so the classic k1 would be 10 and the number could not be issued;
    # with remainder 1 allowed, k1 = 0 works.
    assert complete("010190123") is None
    assert is_valid_national_id("01019012308")
    assert not is_valid_national_id("01019012300")


@pytest.mark.parametrize(
    "text",
    ["", "1506901245", "150690124580", " 15069012458", "15069012458 ", "150690 12458", "150690-12458",
     "1506901245O", "１５０６９０１２４５８", "١٥٠٦٩٠١٢٤٥٨", "15069012458\x00", "15069012458\n"],
)
def test_not_eleven_ascii_digits(text):
    assert not reference(text)
    assert not is_valid_national_id(text)
    assert check_national_ids(pa.array([text])).tolist() == [True]


def test_nulls_and_empty_columns():
    assert check_national_ids(pa.array([None, None], pa.string())).tolist() == [False, False]
    assert check_national_ids(pa.array([None, None])).tolist() == [False, False]  # type null
    assert check_national_ids(pa.array([], pa.string())).tolist() == []
    assert check_national_ids(pa.array(["", ""], pa.large_string())).tolist() == [True, True]
    assert check_national_ids(pa.chunked_array([], pa.string())).tolist() == []
    empty_dictionary = pa.DictionaryArray.from_arrays(pa.array([None, None], pa.int32()), pa.array([], pa.string()))
    assert check_national_ids(empty_dictionary).tolist() == [False, False]


def test_dictionary_with_null_values_and_indices():
    dictionary = pa.array(["15069012458", None, "bad"])
    arr = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, None, 2, 0], pa.uint8()), dictionary)
    assert check_national_ids(arr).tolist() == [False, False, True, False, True, False]


def test_kernel_codes_on_read_only_buffers():
    data = readonly(np.frombuffer(b"15069012458x15069012457", np.uint8))
    valid = readonly(np.array([0b101], np.uint8))
    for offsets in (np.array([0, 11, 12, 23], np.int32), np.array([0, 11, 12, 23], np.int64)):
        for kernel in (K.check_serial, K.check_parallel):
            out = np.empty(3, np.int8)
            kernel(readonly(offsets), data, valid, 0, out)
            assert out.tolist() == [K.VALID, K.NULL, K.INVALID]


def test_default_switches_to_parallel_at_threshold():
    rng = np.random.default_rng(7)
    vals = ["".join(map(str, row)) for row in rng.integers(0, 10, (20_000, 11))]
    vals[::3] = [classic(f"{d:02d}0190") for d in rng.integers(1, 29, len(vals[::3]))]
    arr = pa.array(vals)
    got = check_national_ids(arr)
    assert got.tolist() == check_national_ids(arr, parallel=False).tolist() == expected(vals)
    assert not got[::3].any()


@pytest.mark.parametrize("bad", [pa.array([1, 2]), pa.array([b"15069012458"]), pa.array([1]).dictionary_encode()])
def test_wrong_type(bad):
    with pytest.raises(TypeError, match="must be text"):
        check_national_ids(bad)


def test_wrong_container():
    with pytest.raises(TypeError, match="pyarrow Array"):
        check_national_ids(["15069012458"])
    with pytest.raises(TypeError, match="str"):
        is_valid_national_id(15069012458)


def test_kernels_compile_two_signatures_each():
    # int32 and int64 offsets; every other input is a read-only uint8 array. Placed last: the tests above must
    # not have compiled a third (a writable buffer would, and would cost a compile at request time).
    assert len(K.check_serial.signatures) == 2
    assert len(K.check_parallel.signatures) == 2
