"""score_risk as a whole against the plain references: every score column, patient by patient."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference.charlson import charlson
from tests.reference.policy import tier
from tests.reference.risk_extra import efi, multimorbidity, polypharmacy
from tests.scoring.test_charlson_kernel import null_rows_with_codes
from tests.scoring.test_conditions_kernel import codes
from varde.scoring.risk import score_risk
from varde.scoring.risk.policy import DEFAULT_POLICY

patient = st.fixed_dictionaries({
    "icd10": codes("icd10"), "icpc2": codes("icpc2"), "atc": codes("atc"),
    "age": st.none() | st.integers(0, 105),
    "admissions_12m": st.none() | st.integers(0, 5),
    "has_coordinator": st.none() | st.booleans(),
    "lives_alone": st.none() | st.booleans(),
})


def _table(patients: list[dict]) -> pa.Table:
    return pa.table({
        "patient_id": [f"p{i}" for i in range(len(patients))],
        **{k: pa.array([p[k] for p in patients], pa.list_(pa.string())) for k in ("icd10", "icpc2", "atc")},
        "age": pa.array([p["age"] for p in patients], pa.int16()),
        "admissions_12m": pa.array([p["admissions_12m"] for p in patients], pa.int16()),
        "has_coordinator": pa.array([p["has_coordinator"] for p in patients], pa.bool_()),
        "lives_alone": pa.array([p["lives_alone"] for p in patients], pa.bool_()),
    })


@settings(deadline=None, max_examples=200)
@given(st.lists(patient, min_size=1, max_size=15), st.booleans(),
       st.sampled_from(["one", "two", "sliced", "null_rows_with_codes"]), st.integers(0, 15))
def test_score_risk_equals_the_references(patients, parallel, layout, at):
    # columns as one chunk, as two (the second a slice, the first possibly empty), or as one slice of a longer array
    table = _table(patients)
    if layout == "two":
        table = pa.concat_tables([table.slice(0, at), table.slice(at)])
    elif layout == "sliced":  # the same patients behind a prefix of others
        table = _table(patients[:at] + patients).slice(len(patients[:at]))
    elif layout == "null_rows_with_codes":  # codes behind null lists, which no score may count
        for k in ("icd10", "icpc2", "atc"):
            table = table.set_column(table.schema.get_field_index(k), k,
                                     null_rows_with_codes([p[k] for p in patients]))
    result = score_risk(table, as_of=dt.date(2026, 11, 23), parallel=parallel)
    result.validate(full=True)  # the dictionary columns are built without checking their indices
    got = result.to_pylist()
    for row, p in zip(got, patients, strict=True):
        c = charlson(p["icd10"], p["icpc2"])
        d = polypharmacy(p["atc"])
        e = efi(p["icd10"], p["icpc2"], p["atc"], d["count"])
        m = multimorbidity(p["icd10"], p["icpc2"])["count"]
        assert row["charlson_groups"] == c["groups"]
        assert (row["charlson_1987"], row["charlson_quan2011"]) == (c["charlson_1987"], c["charlson_quan2011"])
        assert row["multimorbidity"] == m and row["polypharmacy_count"] == d["count"]
        assert row["efi"] == e["efi"] and row["efi_band"] == e["efi_band"]
        assert row["codes_unknown"] == c["codes_unknown"]
        assert row["codes_malformed"] == c["codes_malformed"] + d["codes_malformed"]
        assert row["codes_underspecified"] == c["codes_underspecified"] + d["codes_underspecified"]
        scores = {"charlson_quan2011": c["charlson_quan2011"], "efi": e["efi"], "polypharmacy_count": d["count"],
                  "multimorbidity": m, "age": p["age"], "admissions_12m": p["admissions_12m"],
                  "lives_alone": p["lives_alone"]}
        name, points, reasons = tier(DEFAULT_POLICY, scores)
        assert (row["risk_tier"], row["risk_points"], row["risk_reasons"]) == (name, points, reasons)
        assert row["unmet_need"] == (name in ("HIGH", "VERY_HIGH") and not p["has_coordinator"])


def test_both_offset_widths_are_compiled_by_the_warm_up():
    """list<string> (Parquet, most clients) and large_list<large_string> are read in place, each by its own
    compiled kernel: after warm_up, neither layout compiles anything on a request, and both score alike."""
    from varde.scoring.risk import _atc_kernel, _charlson_finish, _charlson_kernel, _policy_kernel, warm_up

    warm_up()
    kernels = [_charlson_kernel.codes3_serial, _charlson_kernel.codes3_parallel, _charlson_kernel.charlson_serial,
               _charlson_kernel.charlson_parallel, _atc_kernel.atc_serial, _atc_kernel.atc_parallel]
    assert all(any("int32" in str(sig) for sig in k.signatures) for k in kernels)
    # The kernels after the code columns (finish, policy) take the same types whatever the input layout.
    kernels += [_charlson_finish.finish_block, _charlson_finish.fill_block, _charlson_finish.finish_parallel,
                _charlson_finish.fill_parallel, _policy_kernel.policy_block, _policy_kernel.policy_parallel]
    before = [list(k.signatures) for k in kernels]
    assert all(before)
    narrow = _table([{"icd10": ["I50.9", "e11.2"], "icpc2": ["K77"], "atc": ["C07AB02", "N02BE01", "C07"],
                      "age": 81, "admissions_12m": 2, "has_coordinator": False, "lives_alone": True}] * 3)
    large = pa.large_list(pa.large_string())
    wide = narrow
    for name in ("icd10", "icpc2", "atc"):
        wide = wide.set_column(wide.schema.get_field_index(name), name, wide.column(name).cast(large))
    scored = [score_risk(t, parallel=parallel, as_of=dt.date(2026, 11, 24)) for t in (narrow, wide)
              for parallel in (False, True)]
    assert [list(k.signatures) for k in kernels] == before
    assert scored[0].column("charlson_1987").to_pylist() == [3, 3, 3]
    for other in scored[1:]:
        assert other.drop_columns(["icd10", "icpc2", "atc"]).equals(scored[0].drop_columns(["icd10", "icpc2", "atc"]))


def test_problem_counts_of_diagnoses_and_medicines_add_up_to_32767_not_past_it():
    """codes_malformed is int16 and adds the diagnosis and the medicine counts: 20,000 + 20,000 says 32,767."""
    table = _table([{"icd10": ["x"] * 20_000, "icpc2": [], "atc": ["C07AB0"] * 20_000, "age": 70,
                     "admissions_12m": 0, "has_coordinator": True, "lives_alone": False},
                    {"icd10": ["x"], "icpc2": [], "atc": ["C0"], "age": 70, "admissions_12m": 0,
                     "has_coordinator": True, "lives_alone": False}])
    for parallel in (False, True):
        scored = score_risk(table, parallel=parallel, as_of=dt.date(2026, 11, 25))
        assert scored.column("codes_malformed").to_pylist() == [32_767, 2]
        assert scored.column("codes_malformed").type == pa.int16()
