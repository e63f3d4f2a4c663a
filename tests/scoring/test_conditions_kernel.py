"""Multimorbidity, the eFI and polypharmacy kernels against the plain references, over every code shape."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference.risk_extra import efi, multimorbidity, polypharmacy
from tests.scoring.test_charlson_kernel import column, decorate
from varde.scoring.risk.conditions import condition_columns
from varde.scoring.risk.medicines import polypharmacy_columns


def _table_codes(name: str, system: str) -> list[str]:
    import csv

    path = f"scoring/risk/data/{name}"
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return sorted({r["code"] for r in rows if r["system"] == system})


CODES = {s: _table_codes("chronic_conditions.csv", s) + _table_codes("efi_deficits.csv", s)
         for s in ("icd10", "icpc2", "atc")}
ATC_SUBSTANCES = ["C07AB02", "A10BA02", "N06DA02", "H03AA01", "R03AK06", "C03CA01", "B03AA07", "N05CF01",
                  "M05BA04", "N04BA02", "G04BD08", "B01AC06"]


@st.composite
def code(draw, system: str):
    kind = draw(st.integers(0, 7))
    if kind <= 3:
        base = draw(st.sampled_from(CODES[system] or ["A00"]))
        if system == "atc":
            longer = [s for s in ATC_SUBSTANCES if s.startswith(base)]
            base = draw(st.sampled_from([base, *longer]))
            return decorate(base, draw)
        tail = draw(st.text(alphabet="0123456789" + ("AB" if system == "icd10" else ""), max_size=2))
        return decorate(base + tail, draw)
    if kind <= 5 and system == "atc":
        return decorate(draw(st.sampled_from(ATC_SUBSTANCES)), draw)
    if kind == 6:
        return draw(st.none() | st.just("") | st.just(" . "))
    return draw(st.text(alphabet="ABCIKNR0123456789 .-", max_size=8))


def codes(system):
    return st.one_of(st.none(), st.lists(code(system), max_size=10))


@settings(deadline=None, max_examples=300)
@given(st.lists(st.tuples(codes("icd10"), codes("icpc2"), codes("atc")), min_size=1, max_size=20),
       st.sampled_from(["list", "large_list", "dictionary", "sliced", "null_rows_with_codes"]), st.booleans())
def test_kernels_equal_reference(patients, layout, parallel):
    n = len(patients)
    icd, icpc, atc = ([p[k] for p in patients] for k in range(3))
    drugs = polypharmacy_columns(n, column(atc, layout), parallel=parallel)
    count = drugs["polypharmacy_count"].to_numpy()
    got = condition_columns(n, column(icd, layout), column(icpc, layout), column(atc, layout), count,
                            parallel=parallel)
    for i, (a, b, c) in enumerate(patients):
        p = polypharmacy(c)
        assert count[i] == p["count"], c
        assert drugs["polypharmacy_band"][i].as_py() == p["band"]
        assert drugs["medication_review_due"][i].as_py() == p["medication_review_due"]
        assert drugs["atc_underspecified"][i].as_py() == p["codes_underspecified"], c
        assert drugs["atc_malformed"][i].as_py() == p["codes_malformed"], c
        assert got["multimorbidity"][i].as_py() == multimorbidity(a, b)["count"], (a, b)
        e = efi(a, b, c, p["count"])
        assert got["efi_deficits"][i].as_py() == len(e["deficits"]), (a, b, c)
        assert got["efi"][i].as_py() == e["efi"] and got["efi_band"][i].as_py() == e["efi_band"]


def test_band_of_every_deficit_count_equals_the_reference_band():
    from tests.reference.risk_extra import efi_band
    from varde.scoring.risk import conditions

    limits = conditions._BAND_LIMITS
    for present in range(37):
        band = conditions.EFI_BANDS[int(np.searchsorted(limits, present, side="left"))]
        assert band == efi_band(present / 36), present
    assert condition_columns(1, None, None, None, np.zeros(1))["efi_band"].to_pylist() == ["fit"]
    assert condition_columns(1, pa.array([None], pa.list_(pa.string())), None, None,
                             np.array([5]))["efi_deficits"].to_pylist() == [1]  # polypharmacy alone
