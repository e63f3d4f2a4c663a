"""What Varde writes in FHIR R4 (server/fhir/outbound.py, docs/fhir.md): every resource is valid FHIR by the R4B
models of fhir.resources (Observation, Flag, DetectedIssue, Composition, Bundle and RiskAssessment are the same in
R4 and R4B), JSON-serialisable, and carries the codes the VKP guide and the NEWS2 SNOMED CT codes give."""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given, settings
from hypothesis import strategies as st

import varde.server.fhir as fhir
from varde.server.fhir import (
    FhirInputError,
    detected_issue,
    flag_resource,
    news2_observation,
    observation_reading,
    operation_outcome,
    patient_identifier,
    resolved_document,
    risk_assessment,
)
from varde.server.fhir import codes as c
from varde.server.flags import isbar
from varde.server.flags.response import load_response_policy
from varde.server.store.base import OUTCOMES, FlagRow

SNOMED, LOINC = "http://snomed.info/sct", "http://loinc.org"
FNR, DNR, FHN = "urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2", "urn:oid:2.16.578.1.12.4.1.4.3"
ORGNR = "urn:oid:2.16.578.1.12.4.1.4.101"
AT = 1_795_424_700_000_000  # 2026-11-23T09:05:00Z
SUBSCORES = {"resp_rate": 3, "spo2": 1, "air_oxygen": 2, "systolic_bp": 0, "pulse": 1, "consciousness": 0,
             "temperature": 1}
# sub-score -> (SNOMED CT code on scale 1, on scale 2): VKP's vkp-news2-create, scale 1 from NHS England
COMPONENT_CODES = {
    "resp_rate": ("1104301000000104",) * 2,
    "spo2": ("1104311000000102", "1104321000000108"),
    "air_oxygen": ("1104331000000105",) * 2,
    "systolic_bp": ("1104341000000101",) * 2,
    "pulse": ("1104351000000103",) * 2,
    "consciousness": ("1104361000000100",) * 2,
    "temperature": ("1104371000000107",) * 2,
}
NEWS2_ASSESSMENT = {"news2_total": 8, "news2_band": "HIGH", "news2_red": True, "news2_complete": False,
                    "news2_missing": "consciousness", "news2_monitoring": "continuous",
                    "observed_at": "2026-11-23T09:05:00Z", "rising": False}


def valid(resource: dict) -> dict:
    """The resource after fhir.resources has validated it, and a JSON round trip has kept it whole."""
    assert json.loads(json.dumps(resource)) == resource
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def codes(concept: dict) -> set[tuple[str, str]]:
    return {(x["system"], x["code"]) for x in concept.get("coding", [])}


def flag(**fields) -> FlagRow:
    row = FlagRow(id=42, patient_id="15069012458", kind="NEWS2_HIGH", severity=3, state="OPEN",
                  assessment=json.dumps(NEWS2_ASSESSMENT), source="home", occurrences=1, created_at=AT,
                  updated_at=AT, claimed_by=None, claimed_at=None, resolved_at=None, resolution_note=None,
                  unit="974760673")
    return dataclasses.replace(row, **fields)


def resolved(**fields) -> FlagRow:
    return flag(**({"state": "RESOLVED", "claimed_by": "sykepleier-7", "claimed_at": AT + 60_000_000,
                    "resolved_at": AT + 900_000_000, "resolution_note": "Besøkt. Ny måling NEWS2 3.",
                    "outcome": "VISITED"} | fields))


def news2(**fields) -> dict:
    args = {"patient_id": "15069012458", "observed_at_us": AT, "total": 8, "band": "HIGH", "red": True,
            "sub_scores": SUBSCORES, "spo2_scale": 1, "complete": True, "missing": [],
            "derived_from": ["Observation/rr-1", "Observation/spo2-1"], "id": "news2-1"} | fields
    return news2_observation(**args)


# ---- package ----

def test_package_exports_its_public_names_only():
    assert sorted(fhir.__all__) == ["FhirInputError", "FhirReading", "Issue", "bundle_entries", "detected_issue",
                                    "flag_resource", "news2_observation", "observation_reading",
                                    "operation_outcome", "patient_identifier", "resolved_document",
                                    "risk_assessment"]
    assert all(hasattr(fhir, name) for name in fhir.__all__)


# ---- patient identifier ----

@pytest.mark.parametrize(("patient_id", "system"), [
    ("15069012458", FNR), ("01010000000", FNR), ("31129912345", FNR), ("31529912345", FNR),  # H-number: month + 40
    ("41010012345", DNR), ("55069012458", DNR), ("71129912345", DNR),
    ("81234567894", FHN), ("91234567890", FHN),
])
def test_patient_identifier_system_by_first_digit(patient_id, system):
    assert patient_identifier(patient_id) == {"system": system, "value": patient_id}


@pytest.mark.parametrize("patient_id", ["", "P-123", "١٢٣", None])
def test_patient_identifier_refuses_what_is_no_national_id(patient_id):
    with pytest.raises(ValueError):
        patient_identifier(patient_id)


# ---- NEWS2 Observation ----

@pytest.mark.parametrize("scale", [1, 2])
def test_news2_observation_is_valid_with_seven_components(scale):
    o = valid(news2(spo2_scale=scale))
    assert codes(o["code"]) == {(SNOMED, "1104051000000101")}
    assert o["valueQuantity"] == {"value": 8, "unit": "{score}", "system": "http://unitsofmeasure.org",
                                  "code": "{score}"}
    assert o["status"] == "final" and "note" not in o
    assert o["category"][0]["coding"][0]["code"] == "survey"
    assert o["subject"] == {"identifier": {"system": FNR, "value": "15069012458"}}
    assert o["effectiveDateTime"] == "2026-11-23T09:05:00Z"
    assert o["id"] == "news2-1"
    assert len(o["component"]) == 7
    for component, key in zip(o["component"], COMPONENT_CODES, strict=True):  # chart order
        assert codes(component["code"]) == {(SNOMED, COMPONENT_CODES[key][scale - 1])}
        assert component["valueQuantity"]["value"] == SUBSCORES[key]
    assert o["derivedFrom"] == [{"reference": "Observation/rr-1"}, {"reference": "Observation/spo2-1"}]


def test_news2_component_codes_are_those_of_the_guide():
    assert {k: v[0] for k, v in c.NEWS2_SUBSCORES.items()} == {
        "resp_rate": "1104301000000104", "spo2_scale_1": "1104311000000102", "spo2_scale_2": "1104321000000108",
        "air_oxygen": "1104331000000105", "systolic_bp": "1104341000000101", "pulse": "1104351000000103",
        "consciousness": "1104361000000100", "temperature": "1104371000000107"}


def test_news2_band_and_red_as_interpretation():
    o = valid(news2())
    assert [codes(i) for i in o["interpretation"]] == [{(c.NEWS2_BAND_SYSTEM, "HIGH")}, {(c.NEWS2_BAND_SYSTEM, "RED")}]
    assert o["interpretation"][0]["text"] == "Høy klinisk risiko (sum 7 eller mer)"
    o = valid(news2(total=0, band="ZERO", red=False, sub_scores=dict.fromkeys(SUBSCORES, 0)))
    assert [codes(i) for i in o["interpretation"]] == [{(c.NEWS2_BAND_SYSTEM, "ZERO")}]


def test_incomplete_news2_is_preliminary_with_a_note_and_absent_components():
    scores = SUBSCORES | {"consciousness": None}
    del scores["air_oxygen"]
    o = valid(news2(sub_scores=scores, complete=False, missing=["air_oxygen", "consciousness"]))
    assert o["status"] == "preliminary"
    assert o["note"][0]["text"] == ("Ufullstendig observasjonssett, mangler: Luft eller oksygen, Bevissthet (ACVPU). "
                                    "NEWS2-summen er en nedre grense.")
    absent = {comp["code"]["coding"][0]["code"]: comp for comp in o["component"] if "dataAbsentReason" in comp}
    assert set(absent) == {"1104331000000105", "1104361000000100"}
    assert all("valueQuantity" not in comp for comp in absent.values())  # obs-6
    assert absent["1104331000000105"]["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert len(o["component"]) == 7


def test_derived_from_by_identifier_and_from_inbound_source_ids():
    o = valid(news2(derived_from=["http://dips.no/fhir/namingsystem/externalId|External Id: testNEWS2", "x-1",
                                  "urn:uuid:4d4d9d8b-dc0d-4eb8-b830-ea45eeb54d36"], id=None))
    assert o["derivedFrom"] == [
        {"type": "Observation", "identifier": {"system": "http://dips.no/fhir/namingsystem/externalId",
                                               "value": "External Id: testNEWS2"}},
        {"type": "Observation", "identifier": {"value": "x-1"}},
        {"reference": "urn:uuid:4d4d9d8b-dc0d-4eb8-b830-ea45eeb54d36"}]
    assert "id" not in o
    assert "derivedFrom" not in valid(news2(derived_from=[]))


def test_news2_observation_reads_back_as_the_vendor_total():
    r = observation_reading(news2(total=5, band="MEDIUM"))
    assert (r.vendor_news2_total, r.values, r.measured_at_us, r.patient_id) == (5, {}, AT, "15069012458")


@pytest.mark.parametrize("bad", [{"total": 21}, {"total": 7.0}, {"total": True}, {"band": "RED"},
                                 {"spo2_scale": 3}, {"sub_scores": SUBSCORES | {"pulse": 4}},
                                 {"sub_scores": SUBSCORES | {"news2_pulse": 1}}, {"derived_from": [""]},
                                 {"patient_id": "abc"}, {"observed_at_us": 1.5}])
def test_news2_observation_refuses_what_is_not_an_assessment(bad):
    with pytest.raises(ValueError):
        news2(**bad)


@settings(deadline=None, max_examples=60)
@given(st.fixed_dictionaries({k: st.none() | st.integers(0, 3) for k in SUBSCORES}), st.sampled_from((1, 2)),
       st.integers(-2**40, 2**52), st.booleans())
def test_every_news2_observation_is_valid(scores, scale, us, complete):
    total = sum(v for v in scores.values() if v is not None)
    o = valid(news2(sub_scores=scores, spo2_scale=scale, observed_at_us=us, total=min(total, 20), complete=complete,
                    band="HIGH" if total >= 7 else "LOW"))
    assert len(o["component"]) == 7


# ---- Flag ----

@pytest.mark.parametrize(("state", "status"), [("OPEN", "active"), ("CLAIMED", "active"), ("RESOLVED", "inactive")])
def test_flag_status(state, status):
    row = resolved() if state == "RESOLVED" else flag(state=state)
    f = valid(flag_resource(row))
    assert f["status"] == status
    assert f["code"]["text"] == "NEWS2_HIGH"
    assert f["subject"] == {"identifier": {"system": FNR, "value": "15069012458"}}
    assert f["author"] == {"type": "Organization", "identifier": {"system": ORGNR, "value": "974760673"}}
    assert f["period"]["start"] == "2026-11-23T09:05:00Z"
    assert ("end" in f["period"]) == (state == "RESOLVED")
    assert f["category"][0]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/flag-category",
                                             "code": "clinical", "display": "Clinical"}


def test_flag_period_end_is_the_resolution_time():
    assert valid(flag_resource(resolved()))["period"] == {"start": "2026-11-23T09:05:00Z",
                                                          "end": "2026-11-23T09:20:00Z"}


def test_flag_author_without_organisation_number():
    assert "author" not in valid(flag_resource(flag(unit="")))
    assert valid(flag_resource(flag(unit="Bydel Sagene")))["author"] == {"type": "Organization",
                                                                          "display": "Bydel Sagene"}


# ---- DetectedIssue ----

@pytest.mark.parametrize(("kind", "vkp"), [("NEWS2_HIGH", "5.2.1"), ("NEWS2_MEDIUM", "5.2.1"), ("NEWS2_RED", "5.2.1"),
                                           ("NEWS2_RISING", "5.2.1"), ("RISK_RISING", "5.2.1"),
                                           ("RISK_UNMET_NEED", "5.2.1"), ("MEASUREMENT_OVERDUE", "5.3.2")])
def test_detected_issue_vkp_code(kind, vkp):
    d = valid(detected_issue(flag(kind=kind)))
    assert codes(d["code"]) == {(c.VKP_ALERT_SYSTEM, vkp), (c.FLAG_KIND_SYSTEM, kind)}
    assert c.VKP_ALERT_SYSTEM == "http://ehelse.no/fhir/CodeSystem/vkp-alert-code-v090"


def test_detected_issue_for_a_kind_vkp_has_no_code_for():
    d = valid(detected_issue(flag(kind="SOMETHING_NEW")))
    assert codes(d["code"]) == {(c.FLAG_KIND_SYSTEM, "SOMETHING_NEW")}


@pytest.mark.parametrize(("severity", "word"), [(3, "high"), (2, "moderate"), (1, "low")])
def test_detected_issue_severity(severity, word):
    assert valid(detected_issue(flag(severity=severity)))["severity"] == word


def test_open_detected_issue():
    d = valid(detected_issue(flag()))
    assert d["status"] == "preliminary" and "mitigation" not in d
    assert d["identifiedDateTime"] == "2026-11-23T09:05:00Z"
    assert d["patient"] == {"identifier": {"system": FNR, "value": "15069012458"}}
    assert d["detail"] == ("NEWS2 høy (sum 7 eller mer); NEWS2-sum 8, høy klinisk risiko; rød score (3 poeng i én "
                           "parameter); ufullstendig sett, mangler Bevissthet (ACVPU); observasjonssett "
                           "2026-11-23T09:05:00Z.")


@pytest.mark.parametrize("outcome", [*OUTCOMES, None])
def test_resolved_detected_issue_has_the_outcome_as_mitigation(outcome):
    d = valid(detected_issue(resolved(outcome=outcome)))
    assert d["status"] == "final"
    [m] = d["mitigation"]
    assert m["date"] == "2026-11-23T09:20:00Z" and m["author"] == {"display": "sykepleier-7"}
    if outcome is None:
        assert m["action"] == {"text": "Varsel lukket"}
    else:
        assert m["action"]["coding"] == [{"system": c.OUTCOME_SYSTEM, "code": outcome}]
        assert m["action"]["text"] == c.OUTCOME_LABELS[outcome]


def test_every_outcome_and_kind_has_a_label():
    assert set(c.OUTCOME_LABELS) == set(OUTCOMES)
    assert set(c.VKP_ALERT_CODES) == set(c.FLAG_KIND_LABELS)


def test_detail_of_overdue_and_risk_flags():
    overdue = flag(kind="MEASUREMENT_OVERDUE", severity=2, assessment=json.dumps({
        "last_set_at": "2026-11-23T05:00:00Z", "due_at": "2026-11-23T09:00:00Z", "news2_band": "MEDIUM",
        "news2_total": 5}))
    assert valid(detected_issue(overdue))["detail"] == (
        "Måling forsinket; ingen observasjonssett mottatt siden 2026-11-23T05:00:00Z; neste var ventet "
        "2026-11-23T09:00:00Z; siste NEWS2-sum 5, middels klinisk risiko.")
    risk = flag(kind="RISK_RISING", severity=2, occurrences=1, assessment=json.dumps({
        "risk_tier": "HIGH", "previous_tier": "MODERATE", "risk_points": 6, "risk_reasons": ["Charlson 4"]}))
    assert valid(detected_issue(risk))["detail"] == (
        "Risiko for komplekse behov stiger; risikonivå høy (var moderat); 6 poeng; grunner: Charlson 4.")


@pytest.mark.parametrize("assessment", ["", "not json", "[1, 2]", '{"news2_total": "x", "news2_missing": 3}'])
def test_detail_of_an_unreadable_assessment_is_the_kind(assessment):
    assert valid(detected_issue(flag(assessment=assessment, occurrences=3)))["detail"] == \
        "NEWS2 høy (sum 7 eller mer); funnet 3 ganger."


def test_detected_issue_refuses_an_unknown_severity_or_state():
    with pytest.raises(ValueError):
        detected_issue(flag(severity=4))
    with pytest.raises(ValueError):
        flag_resource(flag(state="DONE"))


# ---- the resolved-flag document ----

def isbar_text() -> str:
    facts = {"patient_id": "15069012458", "unit": "974760673", "kind": "NEWS2_HIGH", "band": "HIGH", "total": 8,
             "red": True, "observed_at": "2026-11-23T09:05:00Z",
             "parameters": [{"name": "resp_rate", "value": 26, "sub_score": 3}],
             "missing": ["consciousness"], "complete": False}
    return isbar.render(isbar.build(facts, load_response_policy()), "nb")


def references(value) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "reference"] + [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


def test_resolved_document():
    observation = news2(id=None)
    doc = valid(resolved_document(resolved(), isbar_text(), observation))
    assert doc["type"] == "document" and doc["timestamp"] == "2026-11-23T09:20:00Z"
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", doc["identifier"]["value"])
    kinds = [e["resource"]["resourceType"] for e in doc["entry"]]
    assert kinds == ["Composition", "DetectedIssue", "Observation"]
    urls = [e["fullUrl"] for e in doc["entry"]]
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", u) for u in urls) and len(set(urls)) == 3
    refs = references(doc)
    assert refs and all(r in urls for r in refs)  # every reference resolves inside the document
    composition, issue, obs = (e["resource"] for e in doc["entry"])
    assert composition["title"] == "Oppfølging av varsel"
    assert composition["subject"] == {"identifier": {"system": FNR, "value": "15069012458"}}
    assert composition["author"] == [{"type": "Organization", "identifier": {"system": ORGNR, "value": "974760673"}}]
    assert codes(composition["type"]) == {(LOINC, "11506-3")}
    assert {r["reference"] for r in composition["section"][0]["entry"]} == {urls[1], urls[2]}
    assert issue["implicated"] == [{"reference": urls[2]}]
    assert issue["status"] == "final" and issue["mitigation"][0]["action"]["text"] == "Besøkt"
    assert obs["derivedFrom"] == [{"type": "Observation", "display": "Observation/rr-1"},
                                  {"type": "Observation", "display": "Observation/spo2-1"}]
    assert {k: v for k, v in obs.items() if k != "derivedFrom"} == \
        {k: v for k, v in observation.items() if k != "derivedFrom"}
    assert observation["derivedFrom"][0] == {"reference": "Observation/rr-1"}  # the caller's is not changed


def test_document_narrative_is_escaped_xhtml():
    note = 'Pasienten sa: "<script>alert(1)</script>" & mer\x07.\r\nNy linje.'
    doc = valid(resolved_document(resolved(resolution_note=note), "Situasjon\nSum <8> & rød\n\nRåd\nRing 113", None))
    isbar_div, follow_div = (s["text"]["div"] for s in doc["entry"][0]["resource"]["section"])
    for div in (isbar_div, follow_div):
        root = ET.fromstring(div)  # well-formed XML
        assert root.tag == "{http://www.w3.org/1999/xhtml}div"
        assert "<script" not in div
    assert "Sum &lt;8&gt; &amp; rød" in isbar_div and isbar_div.count("<p>") == 2
    text = "".join(ET.fromstring(follow_div).itertext())
    assert '"<script>alert(1)</script>" & mer.' in text and "Ny linje." in text and "Besøkt" in text
    assert "\x07" not in follow_div


def test_document_without_observation_and_without_unit():
    doc = valid(resolved_document(resolved(unit=""), isbar_text()))
    assert [e["resource"]["resourceType"] for e in doc["entry"]] == ["Composition", "DetectedIssue"]
    assert "implicated" not in doc["entry"][1]["resource"]
    assert doc["entry"][0]["resource"]["author"] == [{"type": "Device", "display": "Varde"}]
    assert all(r in [e["fullUrl"] for e in doc["entry"]] for r in references(doc))


def test_document_is_the_same_for_the_same_flag():
    a = resolved_document(resolved(), isbar_text())
    assert a == resolved_document(resolved(), isbar_text())
    assert a["identifier"] != resolved_document(resolved(id=43), isbar_text())["identifier"]
    assert a["identifier"] != resolved_document(resolved(unit="912345678"), isbar_text())["identifier"]


def test_document_needs_a_resolved_flag_and_text():
    with pytest.raises(ValueError):
        resolved_document(flag(), isbar_text())
    with pytest.raises(ValueError):
        resolved_document(resolved(), None)
    doc = valid(resolved_document(resolved(), "  "))  # no ISBAR message stored: the section says so
    assert "Ingen ISBAR-melding" in doc["entry"][0]["resource"]["section"][0]["text"]["div"]
    with pytest.raises(ValueError):
        resolved_document(resolved(), isbar_text(), {"resourceType": "Patient"})


# ---- RiskAssessment ----

def test_risk_assessment():
    r = valid(risk_assessment("81234567894", "HIGH", 7, ["Charlson 5", " 12 legemidler ", ""], "2026-11-01"))
    assert r["subject"] == {"identifier": {"system": FHN, "value": "81234567894"}}
    assert r["occurrenceDateTime"] == "2026-11-01"
    [p] = r["prediction"]
    assert p["qualitativeRisk"]["text"] == "HIGH"
    assert p["qualitativeRisk"]["coding"] == [{"system": c.RISK_TIER_SYSTEM, "code": "HIGH", "display": "høy"}]
    assert p["rationale"] == "Risikonivå høy, 7 poeng: Charlson 5; 12 legemidler."
    assert r["basis"] == [{"display": "Charlson 5"}, {"display": "12 legemidler"}]
    assert r["note"] == [{"text": "Grunner: Charlson 5; 12 legemidler."}]


@pytest.mark.parametrize(("as_of", "written"), [("2026-11-01T10:00:00+01:00", "2026-11-01T09:00:00Z"),
                                                ("2026-11-01T10:00:00", "2026-11-01T10:00:00Z"),
                                                ("2026-11-01T09:00:00Z", "2026-11-01T09:00:00Z")])
def test_risk_assessment_times(as_of, written):
    r = valid(risk_assessment("15069012458", "VERY_HIGH", 9.5, [], as_of))
    assert r["occurrenceDateTime"] == written
    assert "basis" not in r and "note" not in r
    assert r["prediction"][0]["rationale"] == "Risikonivå svært høy, 9.5 poeng."


def test_risk_assessment_refuses_bad_input():
    for bad in ({"as_of_iso": "1. november"}, {"as_of_iso": "2026-02-30"}, {"tier": ""}, {"points": "7"}):
        args = {"patient_id": "15069012458", "tier": "LOW", "points": None, "reasons": [],
                "as_of_iso": "2026-11-01"} | bad
        with pytest.raises(ValueError):
            risk_assessment(**args)
    assert valid(risk_assessment("15069012458", "NEW_TIER", None, [], "2026-11-01"))["prediction"][0][
        "qualitativeRisk"] == {"coding": [{"system": c.RISK_TIER_SYSTEM, "code": "NEW_TIER"}], "text": "NEW_TIER"}


# ---- docs/fhir.md ----

DOCS = Path(__file__).resolve().parents[2] / "docs" / "fhir.md"


def test_the_examples_in_the_docs_are_what_varde_writes():
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)]
    row = resolved(resolution_note="Besøkt. Ny måling: NEWS2 3.")
    with pytest.raises(FhirInputError) as error:
        observation_reading({"resourceType": "Observation", "status": "final",
                             "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
                             "subject": {"reference": "Patient/cdp1000807"}, "effectiveDateTime": "2021-05-10",
                             "valueQuantity": {"value": 61, "unit": "bpm"}})
    written = [
        news2(sub_scores=SUBSCORES | {"consciousness": None}, complete=False, missing=["consciousness"]),
        flag_resource(row),
        detected_issue(row),
        resolved_document(row, "Identifikasjon\nPasient: 15069012458\n\nSituasjon\nNEWS2-sum 8 (høy).", None),
        risk_assessment("15069012458", "HIGH", 7, ["Charlson 5", "12 legemidler"], "2026-11-01"),
        operation_outcome(error.value),
    ]
    assert blocks == [valid(w) for w in written]


def test_the_docs_name_every_code_varde_reads():
    text = DOCS.read_text(encoding="utf-8")
    for system, code in [*c.VITAL_SIGN_CODES, *c.BP_PANEL_CODES, *c.INSPIRED_OXYGEN_CODES, *c.ACVPU_VALUES,
                         *c.AIR_OR_OXYGEN_VALUES, c.NEWS2_TOTAL[:2], *c.NOT_TAKEN_CODES]:
        assert code in text, (system, code)
    for code, _ in c.NEWS2_SUBSCORES.values():
        assert code in text
