"""The FHIR endpoint through a real server on a real socket, on both stores: a batch Bundle of VKP-shaped vital
signs from several devices becomes one assembled set and one flag, answered per entry; the flag comes back as Flag
and DetectedIssue, and once resolved as a document Bundle."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import pytest

from tests.server.stores import store_url  # noqa: F401  (fixture)
from tests.support import Running
from varde.server.config import Settings

PATIENT = "13097248022"
FNR = "urn:oid:2.16.578.1.12.4.1.4.1"
LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)


def vital(code: str, value: float, unit: str, minutes: int, device: str, ident: str, patient: str = PATIENT) -> dict:
    return {
        "resourceType": "Observation", "id": ident, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"identifier": {"system": FNR, "value": patient}},
        "effectiveDateTime": (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        "device": {"display": device},
    }


def entries(*resources) -> dict:
    return {"resourceType": "Bundle", "type": "batch",
            "entry": [{"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in resources]}


@pytest.fixture
def running(store_url):  # noqa: F811
    r = Running(Settings(address="127.0.0.1:0", queue=store_url, fhir_port=0))
    r.base = f"http://127.0.0.1:{r.server.varde.fhir_port}/fhir"
    yield r
    r.stop()


def call(base: str, path: str, body: dict | None = None, content_type: str = "application/fhir+json"):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": content_type} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_batch_from_several_devices_becomes_one_set_and_one_flag_answered_per_entry(running):
    bundle = entries(
        vital("59408-5", 93, "%", 0, "oximeter", "ox-1"),
        vital("8867-4", 112, "/min", 0, "oximeter", "ox-2"),
        vital("8480-6", 98, "mm[Hg]", 3, "cuff", "bp-1"),
        vital("8310-5", 101.5, "[degF]", 6, "thermometer", "t-1"),  # 38.6 °C
        vital("9279-1", 23, "/min", 9, "nurse-app", "rr-1"),
        vital("9999-9", 1, "/min", 9, "nurse-app", "bad-1"),  # an unknown code: its own answer, the rest kept
    )
    status, reply = call(running.base, "", bundle)
    assert status == 200 and reply["type"] == "batch-response"
    answers = reply["entry"]
    assert [e["response"]["status"][:3] for e in answers] == ["201"] * 5 + ["400"]
    assert "9999-9" in answers[5]["response"]["outcome"]["issue"][0]["diagnostics"]
    last = answers[4]["resource"]
    assert last["code"]["coding"][0]["code"] == "1104051000000101"
    assert last["valueQuantity"]["value"] == 9  # 2 + 2 + 2 + 2 + 1, consciousness and oxygen still missing
    assert len(last["component"]) == 7 and {"reference": "Observation/rr-1"} in last["derivedFrom"]
    with running.client() as c:
        flags = c.list_flags(patient_id=PATIENT)
    assert sorted(f.kind for f in flags) == ["NEWS2_HIGH", "NEWS2_MEDIUM"]  # one per kind, not one per reading

    status, found = call(running.base, "/Flag?status=active")
    assert status == 200 and found["total"] == 2
    assert {e["resource"]["resourceType"] for e in found["entry"]} == {"Flag"}
    high = next(f for f in flags if f.kind == "NEWS2_HIGH")
    status, issue = call(running.base, f"/DetectedIssue/{high.id}")
    assert status == 200 and issue["resourceType"] == "DetectedIssue" and issue["severity"] == "high"
    status, _ = call(running.base, f"/Bundle/flag-{high.id}")
    assert status == 404  # no document before it is resolved
    with running.client() as c:
        c.resolve(high.id, "GP_CONTACTED", "GP will visit today")
    status, document = call(running.base, f"/Bundle/flag-{high.id}")
    assert status == 200 and document["type"] == "document"
    kinds = [e["resource"]["resourceType"] for e in document["entry"]]
    assert kinds[0] == "Composition" and "DetectedIssue" in kinds
    assert "GP_CONTACTED" in json.dumps(document) or "GP will visit today" in json.dumps(document)


def test_bad_requests_get_an_operation_outcome(running):
    status, outcome = call(running.base, "/Observation", {"resourceType": "Observation", "status": "final"})
    assert status == 400 and outcome["resourceType"] == "OperationOutcome"
    status, outcome = call(running.base, "/Observation", vital("9279-1", 18, "/min", 0, "app", "x"),
                           content_type="text/plain")
    assert status == 415
    transaction = entries(vital("9279-1", 18, "/min", 0, "app", "a"), vital("9279-1", 18, "mmHg", 0, "app", "b"))
    transaction["type"] = "transaction"
    status, outcome = call(running.base, "", transaction)
    assert status == 400 and "Bundle.entry[1]" in outcome["issue"][0]["expression"][0]  # all or nothing
    with running.client() as c:
        assert not c.list_flags(patient_id=PATIENT)
    status, capability = call(running.base, "/metadata")
    assert status == 200 and capability["fhirVersion"] == "4.0.1"
    status, outcome = call(running.base, "/Patient")
    assert status == 404 and outcome["issue"][0]["code"] == "not-supported"


def test_a_single_observation_is_answered_with_the_assessment_of_its_set(running):
    status, news2 = call(running.base, "/Observation", vital("9279-1", 26, "/min", 0, "app", "rr-9"))
    assert status == 201 and news2["valueQuantity"]["value"] == 3 and news2["status"] == "preliminary"
    status, outcome = call(running.base, "/Observation", vital("9279-1", 260, "/min", 1, "app", "rr-10"))
    assert status == 422 and "RESP_RATE" in outcome["issue"][0]["diagnostics"]


def test_varde_fhir_export_writes_ndjson_per_resource_type(running, tmp_path, capsys):
    from varde.clients.cli import main

    call(running.base, "", entries(vital("9279-1", 26, "/min", 0, "app", "a"),
                                   vital("8867-4", 135, "/min", 0, "o", "b"), vital("59408-5", 91, "%", 1, "o", "c")))
    with running.client() as c:
        [red] = c.list_flags(patient_id=PATIENT, kinds=["NEWS2_RED"])
        c.resolve(red.id, "PHONED")
        total = len(c.list_flags(states=["OPEN", "CLAIMED", "RESOLVED"]))
    assert main(["fhir", "export", "--flags", "-o", str(tmp_path / "x"), "--base", running.base]) == 0
    lines = {kind: (tmp_path / "x" / f"{kind}.ndjson").read_text().splitlines()
             for kind in ("Flag", "DetectedIssue", "Bundle")}
    assert len(lines["Flag"]) == len(lines["DetectedIssue"]) == total and len(lines["Bundle"]) == 1
    assert json.loads(lines["Bundle"][0])["type"] == "document"
    assert f"{total} Flag" in capsys.readouterr().err
    assert main(["fhir", "export", "--flags", "-o", str(tmp_path / "y"), "--base", "http://127.0.0.1:9/fhir"]) == 2
    assert "cannot reach the FHIR endpoint" in capsys.readouterr().err


def test_a_system_that_polls_gets_the_patients_current_assessment(running):
    for n, (code, value, unit) in enumerate((("9279-1", 23, "/min"), ("8867-4", 112, "/min"), ("59408-5", 93, "%"))):
        call(running.base, "/Observation", vital(code, value, unit, n, "app", f"p{n}"))
    status, found = call(running.base, f"/Observation?subject.identifier={FNR}|{PATIENT}&code=1104051000000101")
    assert status == 200 and found["total"] == 1
    news2 = found["entry"][0]["resource"]
    assert news2["valueQuantity"]["value"] == 6 and news2["effectiveDateTime"].startswith("2026-11-23T08:02")
    status, none = call(running.base, f"/Observation?subject.identifier={FNR}|02010112345")
    assert status == 200 and none["total"] == 0
    status, outcome = call(running.base, f"/Observation?subject.identifier={FNR}|{PATIENT}&code=8867-4")
    assert status == 400 and outcome["issue"][0]["code"] == "not-supported"
    status, outcome = call(running.base, "/Observation")
    assert status == 400 and outcome["issue"][0]["code"] == "required"


def test_the_latest_risk_comes_back_as_a_risk_assessment(running):
    import pyarrow as pa

    table = pa.table({"patient_id": [PATIENT], "age": pa.array([88], pa.int16()),
                      "icd10": pa.array([["I50.9", "C78.0", "N18.4"]], pa.list_(pa.string())),
                      "atc": pa.array([["C07AB02", "C03CA01", "B01AF01", "A10BA02", "N06AB06"]], pa.list_(pa.string())),
                      "admissions_12m": [3], "has_coordinator": [False]})
    with running.client() as c:
        c.score_patients(table)
    status, found = call(running.base, f"/RiskAssessment?subject.identifier={FNR}|{PATIENT}")
    assert status == 200 and found["total"] == 1
    risk = found["entry"][0]["resource"]
    assert risk["resourceType"] == "RiskAssessment" and risk["prediction"][0]["qualitativeRisk"]["text"]
    status, none = call(running.base, f"/RiskAssessment?subject.identifier={FNR}|02010112345")
    assert status == 200 and none["total"] == 0
