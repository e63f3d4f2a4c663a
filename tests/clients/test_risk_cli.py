"""`varde risk` end to end on real files: CSV lists in and out, Parquet, policy errors, the sample extract."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from tests.reference.charlson import charlson
from varde.clients.cli import main

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "patients.csv")


def test_sample_extract_csv_round_trip(tmp_path, capsys):
    out = tmp_path / "risk.csv"
    assert main(["risk", SAMPLE, "-o", str(out), "--as-of", "2026-11-23"]) == 0
    err = capsys.readouterr().err
    assert "scored 8 patients" in err and "nobody follows them up yet: 2" in err
    got = pcsv.read_csv(out).to_pylist()
    rows = {r["patient_id"]: r for r in got}
    p1 = rows["p-0001"]
    assert p1["age_years"] == 88 and p1["charlson_groups"] == "chf;cpd;diab" and p1["risk_tier"] == "VERY_HIGH"
    assert p1["unmet_need"] is True and p1["polypharmacy_count"] == 6
    assert rows["p-0002"]["unmet_need"] is False  # followed up: reported, no unmet need
    p8 = rows["p-0008"]  # 428.0 and X malformed, E11 under-specified, C86 in no group; C07 under-specified ATC
    assert (p8["codes_malformed"], p8["codes_underspecified"]) == (3, 2)
    # the same patients through the reference
    src = pcsv.read_csv(SAMPLE).to_pylist()
    for r in src:
        icd = r["icd10"].split(";") if r["icd10"] else []
        icpc = r["icpc2"].split(";") if r["icpc2"] else []
        assert (rows[r["patient_id"]]["charlson_groups"] or "") == ";".join(charlson(icd, icpc)["groups"])


def test_parquet_with_list_columns_and_age(tmp_path):
    table = pa.table({
        "patient_id": ["a", "b"], "age": pa.array([91, 40], pa.int8()),
        "icd10": pa.array([["I50.9", "C78.0"], None], pa.large_list(pa.string())),
        "atc": pa.array([["C07AB02"] * 2, []], pa.list_(pa.string())), "note": ["x", "y"],
    })
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(table, src)
    assert main(["risk", str(src), "-o", str(out), "-q"]) == 0
    got = pq.read_table(out)
    assert got.column("charlson_groups").to_pylist() == [["chf", "metacanc"], []]
    assert got.column("polypharmacy_count").to_pylist() == [1, 0]
    assert got.column("note").to_pylist() == ["x", "y"]


def test_a_missing_policy_file_is_named(capsys):
    assert main(["risk", SAMPLE, "--policy", "nope.toml"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_bad_date_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as info:
        main(["risk", SAMPLE, "--as-of", "23.11.2026"])
    assert info.value.code == 2 and "not a date like 2026-11-23" in capsys.readouterr().err


def test_missing_age_is_named(tmp_path, capsys):
    src = tmp_path / "p.csv"
    src.write_text("patient_id,icd10\np1,I50\n")
    assert main(["risk", str(src)]) == 2
    assert "'age' (years) or 'birth_date'" in capsys.readouterr().err


def test_birth_date_age_is_taken_at_as_of(tmp_path):
    src, out = tmp_path / "p.csv", tmp_path / "o.parquet"
    src.write_text("patient_id,birth_date\np1,1950-11-24\np2,1950-11-23\n")
    assert main(["risk", str(src), "-o", str(out), "--as-of", "2026-11-23", "-q"]) == 0
    assert pq.read_table(out).column("age_years").to_pylist() == [75, 76]

