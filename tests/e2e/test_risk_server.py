"""Risk through the server and the queue: ScorePatients equals local scoring, RISK_UNMET_NEED and RISK_RISING flags,
resubmission raises nothing twice, `varde risk --server`."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pytest

from tests.support import assert_same_table
from varde.clients.cli import main
from varde.scoring.risk import score_risk

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "patients.csv")


def extract(admissions: int) -> pa.Table:
    return pa.table({
        "patient_id": ["r-a", "r-b", "r-c"],
        "age": pa.array([88, 50, 91], pa.int16()),
        "icd10": pa.array([["I50.9", "C78.0"], [], ["F03", "I50"]], pa.list_(pa.string())),
        "atc": pa.array([["C07AB02", "C03CA01"], None, []], pa.list_(pa.string())),
        "admissions_12m": [admissions, 0, 0],
        "has_coordinator": [False, True, None],
    })


def test_score_patients_equals_local_and_raises_risk_flags(server):
    with server.client() as c:
        first = c.score_patients(extract(0), batch_id="gp-1")
        assert_same_table(first, score_risk(extract(0)))
        flags = {(f.patient_id, f.kind) for f in c.list_flags(kinds=["RISK_UNMET_NEED", "RISK_RISING"])}
        assert flags == {("r-a", "RISK_UNMET_NEED")}  # HIGH, not followed up; r-c is MODERATE
        replies = [r for _, r in c.score_patients_batches(extract(0), batch_id="gp-1")]
        assert replies[0].flags_replayed and replies[0].summary.tiers["HIGH"] == 1
        # three admissions later the same patient is VERY_HIGH: the tier rose
        c.score_patients(extract(3), batch_id="gp-2")
        rising = c.list_flags(kinds=["RISK_RISING"])
        assert [f.patient_id for f in rising] == ["r-a"] and '"previous_tier":"HIGH"' in rising[0].assessment_json
        unmet = c.list_flags(kinds=["RISK_UNMET_NEED"])
        assert len(unmet) == 1 and unmet[0].occurrences == 2 and unmet[0].severity == 3


def test_varde_risk_over_the_network_writes_what_local_writes(server, tmp_path, capsys):
    local, remote = tmp_path / "local.parquet", tmp_path / "remote.parquet"
    today = dt.date.today().isoformat()
    assert main(["risk", SAMPLE, "-o", str(local), "-q", "--as-of", today]) == 0
    assert main(["risk", SAMPLE, "-o", str(remote), "-q", "--server", server.address]) == 0
    import pyarrow.parquet as pq

    assert_same_table(pq.read_table(remote), pq.read_table(local))
    assert main(["risk", SAMPLE, "--server", server.address, "--policy", "x.toml"]) == 2
    assert "are the server's" in capsys.readouterr().err


def test_a_bad_extract_is_refused_with_the_column(server):
    from varde.clients.client import VardeError

    with server.client() as c, pytest.raises(VardeError) as info:
        c.score_patients(pa.table({"patient_id": ["x"], "icd10": pa.array([["I50"]])}))
    assert info.value.code.name == "INVALID_ARGUMENT" and "'age' (years) or 'birth_date'" in info.value.details


def test_bad_codes_are_counted_in_metrics(server):
    import urllib.request

    table = pa.table({"patient_id": ["m1"], "age": [70], "icd10": pa.array([["428.0", "E11", "I50"]]),
                      "icpc2": pa.array([["J44"]])})
    with server.client() as c:
        c.score_patients(table)
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).read().decode()
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith("varde_risk_codes_total")}
    assert values['varde_risk_codes_total{problem="malformed"}'] >= 1
    assert values['varde_risk_codes_total{problem="unknown"}'] >= 1
    assert values['varde_risk_codes_total{problem="underspecified"}'] >= 1
