"""The ISBAR message of a flag: built from data fields only, rendered in bokmål and English, nothing guessed
(docs/response-policy.md)."""

from __future__ import annotations

import copy
import inspect
import json
import pathlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from varde.scoring.schema import BANDS, PARAMETERS
from varde.server.flags import isbar
from varde.server.flags.isbar import PARAMETER_LABELS, build, render
from varde.server.flags.response import CONTACTS, load_response_policy

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "response-policy.md"
DEFAULT = load_response_policy()
KINDS = ("NEWS2_HIGH", "NEWS2_MEDIUM", "NEWS2_RED", "NEWS2_RISING", "MEASUREMENT_OVERDUE")
SUB = {"nb": "delpoeng", "en": "sub-score"}


def param(name, value, sub_score, **more):
    return {"name": name, "value": value, "sub_score": sub_score, **more}


FULL = {
    "patient_id": "02814540092", "unit": "974760673", "kind": "NEWS2_MEDIUM",
    "observed_at": "2026-11-23T10:05:00Z", "total": 6, "band": "MEDIUM", "red": False, "complete": True,
    "missing": [], "rising": False,
    "parameters": [
        param("resp_rate", 22, 2, measured_at="2026-11-23T10:00:00Z", device="nurse-app", previous_value=18,
              previous_at="2026-11-23T06:00:00Z"),
        param("spo2", 95, 1, scale=1),
        param("air_oxygen", True, 2),
        param("systolic_bp", 118, 0),
        param("pulse", 92.0, 1),
        param("consciousness", "a", 0),
        param("temperature", 37.8, 0, previous_value=37.1, previous_at="2026-11-23T06:00:00Z"),
    ],
}
MINIMAL = {"patient_id": "02814540092", "kind": "NEWS2_MEDIUM", "band": "MEDIUM", "total": 5}


def texts(facts, policy=DEFAULT) -> dict[str, str]:
    built = build(facts, policy)
    return {lang: render(built, lang) for lang in ("nb", "en")}


def section(text: str, heading: str) -> list[str]:
    blocks = {b.split("\n", 1)[0]: b.split("\n")[1:] for b in text.strip("\n").split("\n\n")}
    return blocks[heading]


def test_a_full_set_names_every_parameter_with_its_sub_score_in_both_languages():
    for lang, text in texts(FULL).items():
        lines = section(text, "Aktuell status" if lang == "nb" else "Current status")
        assert len(lines) == 7
        for name, line, p in zip(PARAMETERS, lines, FULL["parameters"], strict=True):
            label = PARAMETER_LABELS[name][lang == "en"]
            assert line.startswith(f"- {label}")
            assert f"{SUB[lang]} {p['sub_score']}" in line


def test_values_units_and_changes():
    t = texts(FULL)
    nb, en = (section(t[lang], h) for lang, h in (("nb", "Aktuell status"), ("en", "Current status")))
    assert en[0] == ("- Respiration rate: 22/min, sub-score 2; previous 18/min (2026-11-23 06:00 UTC), change +4; "
                     "measured 2026-11-23 10:00 UTC (nurse-app)")
    assert nb[0].startswith("- Respirasjonsfrekvens: 22/min, delpoeng 2; forrige 18/min (2026-11-23 06:00 UTC), "
                            "endring +4")
    assert en[1] == "- SpO2 (scale 1): 95 %, sub-score 1"
    assert (en[2], nb[2]) == ("- Air or oxygen: oxygen, sub-score 2", "- Luft eller oksygen: oksygen, delpoeng 2")
    assert en[3] == "- Systolic blood pressure: 118 mmHg, sub-score 0"
    assert en[4] == "- Pulse: 92/min, sub-score 1"  # 92.0 has no spurious decimal
    assert (en[5], nb[5]) == ("- Consciousness (ACVPU): A – alert, sub-score 0",
                              "- Bevissthet (ACVPU): A – våken, delpoeng 0")
    # 37.8 stays, the change has no binary noise (37.8 - 37.1), bokmål writes a decimal comma
    assert en[6] == "- Temperature: 37.8 °C, sub-score 0; previous 37.1 °C (2026-11-23 06:00 UTC), change +0.7"
    assert nb[6] == "- Temperatur: 37,8 °C, delpoeng 0; forrige 37,1 °C (2026-11-23 06:00 UTC), endring +0,7"


@pytest.mark.parametrize(("value", "nb", "en"), [("alert", "A – våken", "A – alert"),
                                                  (" New  Confusion ", "C – ny forvirring", "C – new confusion"),
                                                  ("ikke kontaktbar", "U – reagerer ikke", "U – unresponsive"),
                                                  ("sleepy", "sleepy", "sleepy")])
def test_consciousness_in_words_shows_its_letter(value, nb, en):
    t = texts({**MINIMAL, "parameters": [param("consciousness", value, 0)]})
    assert f"- Bevissthet (ACVPU): {nb}, delpoeng 0" in t["nb"]
    assert f"- Consciousness (ACVPU): {en}, sub-score 0" in t["en"]


def test_the_situation_names_the_trigger_and_what_changed():
    facts = {**FULL, "previous_total": 2, "previous_at": "2026-11-23T06:00:00Z", "rising": True,
             "lowest_total_24h": 1}
    t = texts(facts)
    assert section(t["en"], "Situation") == [
        "NEWS2 total 6 (medium).",
        "Highest sub-score (2): respiration rate, air or oxygen.",
        "Previous total 2 (2026-11-23 06:00 UTC); change +4.",
        "Rising: +5 against the lowest total in the last 24 hours (1).",
    ]
    assert section(t["nb"], "Situasjon") == [
        "NEWS2-sum 6 (middels).",
        "Høyest delpoeng (2): respirasjonsfrekvens, luft eller oksygen.",
        "Forrige sum 2 (2026-11-23 06:00 UTC); endring +4.",
        "Stigende: +5 mot laveste sum siste 24 timer (1).",
    ]


def test_red_scores_are_named_in_situation_and_status():
    facts = {**FULL, "kind": "NEWS2_RED", "red": True, "total": 7, "band": "HIGH",
             "parameters": [param("resp_rate", 25, 3), param("pulse", 131, 3)]}
    t = texts(facts)
    assert "Red score (3 points): respiration rate, pulse." in section(t["en"], "Situation")
    assert "Red score (3 points): respiration rate, pulse." in section(t["en"], "Current status")
    assert "Rød score (3 poeng): respirasjonsfrekvens, puls." in section(t["nb"], "Situasjon")
    assert not any(line.startswith("Highest") for line in section(t["en"], "Situation"))
    # red without the parameters: said, not named
    t = texts({**MINIMAL, "red": True})
    assert "Red score: 3 points in one parameter." in section(t["en"], "Situation")


def test_missing_parameters_are_listed_in_chart_order():
    facts = {**FULL, "complete": False, "missing": ["temperature", "spo2"],
             "parameters": [p for p in FULL["parameters"] if p["name"] not in ("spo2", "temperature")]}
    t = texts(facts)
    assert "Missing: SpO2, temperature." in section(t["en"], "Current status")
    assert "Mangler: SpO2, temperatur." in section(t["nb"], "Aktuell status")
    assert build(facts, DEFAULT)["current_status"]["missing"] == ["spo2", "temperature"]
    t = texts({**MINIMAL, "complete": False})
    assert section(t["en"], "Current status") == ["The set is incomplete."]


def test_background_from_settings_risk_and_trend():
    facts = {**MINIMAL, "lowest_total_24h": 1,
             "settings": {"spo2_scale": 2, "spo2_scale_prescribed_by": "dr. Kari Nordmann", "age": 81,
                          "birth_date": "1945-01-02", "pregnant": False, "measure_every_minutes": 240},
             "risk": {"tier": "VERY_HIGH", "reasons": ["Charlson index 6", "12 regular medicines"],
                      "scored_at": "2026-11-20T08:00:00Z"}}
    t = texts(facts)
    assert section(t["en"], "Background") == [
        "SpO2 scale 2, prescribed by dr. Kari Nordmann.",
        "Age: 81 years.",
        "Date of birth: 1945-01-02.",
        "Measurement plan: every 4 hours.",
        "Complex-needs risk: very high (scored 2026-11-20 08:00 UTC).",
        "Reasons: Charlson index 6; 12 regular medicines.",
        "Lowest NEWS2 total in the last 24 hours: 1.",
    ]
    assert section(t["nb"], "Bakgrunn")[:4] == [
        "SpO2-skala 2, forordnet av dr. Kari Nordmann.", "Alder: 81 år.", "Fødselsdato: 1945-01-02.",
        "Måleplan: hver 4. time."]
    assert "Gravid: ja." in texts({**MINIMAL, "settings": {"pregnant": True}})["nb"]


@pytest.mark.parametrize("absent", [{}, {"settings": None, "risk": None, "previous_total": None, "overdue": None},
                                    {"settings": {}, "risk": {}, "parameters": [], "missing": []}])
def test_absent_facts_give_no_line(absent):
    t = texts({**MINIMAL, **absent})
    for words in ("SpO2", "Alder", "Fødselsdato", "Gravid", "Måleplan", "Risiko", "Grunner", "Forrige",
                  "Laveste", "Stigende", "Mangler", "Enhet", "Observasjonssett", "delpoeng", "ufullstendig"):
        assert words not in t["nb"]
    for words in ("SpO2", "Age", "Date of birth", "Pregnant", "Measurement plan", "risk", "Reasons", "Previous",
                  "Lowest", "Rising", "Missing", "Unit", "Observation set", "sub-score", "incomplete"):
        assert words not in t["en"]
    assert section(t["en"], "Identification") == ["Patient: 02814540092", "Flag: NEWS2 medium (total 5-6)"]
    assert section(t["en"], "Background") == section(t["nb"], "Bakgrunn") == []
    assert section(t["en"], "Situation") == ["NEWS2 total 5 (medium)."]


def test_unusable_facts_are_left_out_not_guessed():
    facts = {**MINIMAL, "observed_at": "yesterday", "previous_total": 3, "previous_at": "soon",
             "settings": {"spo2_scale": 3, "age": "old", "measure_every_minutes": 0, "birth_date": "1945-13-40"},
             "parameters": [param("pulse", "fast", None, measured_at=12)]}
    t = texts(facts)
    assert section(t["en"], "Background") == []
    assert "Observation set" not in t["en"]
    assert "Previous total 3; change +2." in section(t["en"], "Situation")
    assert section(t["en"], "Current status") == ["- Pulse"]


def test_times_are_utc_to_the_minute():
    t = texts({**MINIMAL, "observed_at": "2026-11-23T11:05:42+01:00"})
    assert "Observation set: 2026-11-23 10:05 UTC" in t["en"]
    assert build({**MINIMAL, "observed_at": "2026-11-23T10:05:42"}, DEFAULT)["identification"]["observed_at"] == \
        "2026-11-23T10:05:42Z"  # a time without a zone is UTC, as in the scoring path


def test_measurement_overdue_renders():
    facts = {"patient_id": "02814540092", "unit": "974760673", "kind": "MEASUREMENT_OVERDUE", "band": "LOW",
             "total": 2, "observed_at": "2026-11-23T06:00:00Z",
             "overdue": {"last_set_at": "2026-11-23T06:00:00Z", "due_at": "2026-11-23T10:00:00Z"}}
    t = texts(facts)
    assert section(t["en"], "Situation") == [
        "No observation set has arrived since 2026-11-23 06:00 UTC.",
        "The next was due at 2026-11-23 10:00 UTC.",
        "Last NEWS2 total 2 (low).",
    ]
    assert section(t["nb"], "Situasjon")[0] == "Ingen observasjonssett mottatt siden 2026-11-23 06:00 UTC."
    assert "Last observation set: 2026-11-23 06:00 UTC" in t["en"]
    assert section(t["en"], "Recommendation")[:3] == [
        "Take a new observation set now.", "Contact the nurse in charge within 1 hour.", "Measure NEWS2 every 4 hours."]
    assert section(t["nb"], "Råd")[0] == "Ta et nytt observasjonssett nå."
    assert "Ta et nytt" not in texts(MINIMAL)["nb"]


def test_measurement_overdue_after_a_set_that_could_not_be_scored():
    facts = {"patient_id": "02814540092", "kind": "MEASUREMENT_OVERDUE",
             "overdue": {"last_set_at": "2026-11-23T06:00:00Z", "due_at": "2026-11-23T10:00:00Z"}}
    t = texts(facts)
    assert section(t["en"], "Situation") == ["No observation set has arrived since 2026-11-23 06:00 UTC.",
                                             "The next was due at 2026-11-23 10:00 UTC."]
    assert section(t["en"], "Recommendation") == [
        "Take a new observation set now.", "Response policy: varde-default-2026-11.",
        "This is Varde's default response (RCP 2017), which the unit has not yet reviewed."]
    assert section(t["nb"], "Råd")[:2] == ["Ta et nytt observasjonssett nå.", "Tiltaksplan: varde-default-2026-11."]
    with pytest.raises(ValueError, match="band"):
        build({**facts, "kind": "NEWS2_HIGH", "total": 7}, DEFAULT)


def test_the_recommendation_comes_from_the_policy():
    t = texts(MINIMAL)
    assert section(t["en"], "Recommendation") == [
        "Contact the nurse in charge and the GP (fastlege) or the emergency primary care service (legevakt) "
        "within 30 minutes.",
        "Measure NEWS2 every hour.",
        "Advice in the response policy: " + DEFAULT.responses["MEDIUM"].advice_en,
        "Response policy: varde-default-2026-11 (level: medium).",
        "This is Varde's default response (RCP 2017), which the unit has not yet reviewed.",
    ]
    assert section(t["nb"], "Råd")[:2] == [
        "Kontakt ansvarshavende sykepleier og fastlegen eller legevakten innen 30 minutter.", "Mål NEWS2 hver time."]
    high = texts({**MINIMAL, "band": "HIGH", "total": 8})
    assert "Kontakt 113 (AMK), legevakten og ansvarshavende sykepleier straks." in high["nb"]
    assert "Measure NEWS2 every 15 minutes." in high["en"]
    zero = texts({**MINIMAL, "kind": "NEWS2_RISING", "band": "ZERO", "total": 0})
    assert "The response policy asks for no contact at this level." in zero["en"]
    assert "Mål NEWS2 hver 12. time." in zero["nb"]
    red = build({**MINIMAL, "band": "LOW_MEDIUM", "total": 3, "red": True}, DEFAULT)["recommendation"]
    assert red["contact"] == [["NURSE_IN_CHARGE"], ["GP", "LEGEVAKT"]] and red["within_us"] == 30 * 60_000_000
    assert {n for pair in CONTACTS.values() for n in pair}  # every contact has a name in both languages


def unit_policy(tmp_path, reviewed: bool, advice: str = ""):
    text = (pathlib.Path(isbar.__file__).parent / "data" / "response_default.toml").read_text("utf-8")
    text = text.replace("reviewed = false", f"reviewed = {str(reviewed).lower()}")
    text = text.replace('version = "varde-default-2026-11"', 'version = "unit-7"')
    if advice:
        text = re.sub(r'(\[response\.MEDIUM\](?:\n[^\[\n].*)*?)\nadvice_nb = .*\nadvice_en = .*',
                      rf"\1\n{advice}", text)
    path = tmp_path / "974760673.toml"
    path.write_text(text, encoding="utf-8")
    return load_response_policy(path)


def test_the_not_reviewed_sentence_appears_only_when_not_reviewed(tmp_path):
    nb_default = "Dette er Vardes standard (RCP 2017), som enheten ennå ikke har gjennomgått."
    en_default = "This is Varde's default response (RCP 2017), which the unit has not yet reviewed."
    t = texts(MINIMAL)
    assert nb_default in t["nb"] and en_default in t["en"]
    assert build(MINIMAL, DEFAULT)["policy_reviewed"] is False
    reviewed = texts(MINIMAL, unit_policy(tmp_path, reviewed=True))
    assert "Varde" not in reviewed["en"] and "Varde" not in reviewed["nb"]
    assert "reviewed" not in reviewed["en"] and "gjennomgått" not in reviewed["nb"]
    assert "Response policy: unit-7 (level: medium)." in reviewed["en"]
    # a unit's own file not yet reviewed is not Varde's default, and says so
    unit = texts(MINIMAL, unit_policy(tmp_path, reviewed=False))
    assert en_default not in unit["en"] and nb_default not in unit["nb"]
    assert "not yet marked this response policy as reviewed" in unit["en"]
    assert "ennå ikke gjennomgått" in unit["nb"]


def test_advice_in_one_language_is_shown_in_the_other_as_written(tmp_path):
    policy = unit_policy(tmp_path, reviewed=True, advice='advice_nb = "Ring fastlegens direktenummer."')
    t = texts(MINIMAL, policy)
    assert "Råd fra tiltaksplanen: Ring fastlegens direktenummer." in t["nb"]
    assert "Advice in the response policy (in Norwegian): Ring fastlegens direktenummer." in t["en"]


def test_the_structure_is_json_and_the_facts_are_not_changed():
    facts = copy.deepcopy({**FULL, "settings": {"age": 81}, "risk": {"tier": "HIGH", "reasons": ["x"]}})
    before = copy.deepcopy(facts)
    built = build(facts, DEFAULT)
    assert facts == before
    assert set(built) == {"identification", "situation", "background", "current_status", "recommendation",
                          "policy_version", "policy_reviewed"}
    assert json.loads(json.dumps(built, allow_nan=False)) == built
    assert render(json.loads(json.dumps(built)), "nb") == render(built, "nb")


@pytest.mark.parametrize("key", ["patient_id", "kind", "band", "total"])
def test_required_facts(key):
    with pytest.raises(ValueError, match=key):
        build({k: v for k, v in MINIMAL.items() if k != key}, DEFAULT)


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="'de'"):
        render(build(MINIMAL, DEFAULT), "de")


def test_a_line_break_in_a_fact_makes_no_line_of_its_own():
    t = texts({**MINIMAL, "unit": "974760673\nRåd\nRing ingen", "parameters": [param("pulse", 90, 1, device="a\nb")]})
    assert "Enhet: 974760673 Råd Ring ingen" in t["nb"]
    assert "- Puls: 90/min, delpoeng 1; (a b)" in t["nb"]


def test_the_module_does_not_log():
    assert "logging" not in inspect.getsource(isbar)


def test_the_documented_example_is_what_the_code_renders():
    text = DOC.read_text(encoding="utf-8")
    facts = json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1))
    nb, en = re.findall(r"```text\n(.*?)```", text, re.S)[:2]
    built = build(facts, DEFAULT)
    assert render(built, "nb") == nb
    assert render(built, "en") == en


# ---- for any facts: render never raises, and every parameter is named ----

_values = {
    "resp_rate": st.integers(0, 80), "spo2": st.integers(50, 100), "air_oxygen": st.booleans(),
    "systolic_bp": st.integers(40, 300), "pulse": st.integers(20, 250),
    "consciousness": st.sampled_from(["A", "C", "V", "P", "U", "c", " v ", "confused", "ingen respons", "?"]),
    "temperature": st.floats(25, 45, allow_nan=False).map(lambda x: round(x, 1)),
}
_junk = st.one_of(st.none(), st.text(max_size=5), st.floats(), st.booleans(), st.integers(-5, 5))
_times = st.one_of(st.none(), st.just("2026-11-23T10:00:00Z"), st.just("2026-11-23T11:00:00+01:00"),
                   st.just("not a time"), st.integers())


@st.composite
def facts_strategy(draw):
    names = draw(st.lists(st.sampled_from(PARAMETERS), unique=True))
    params = []
    for name in names:
        p = {"name": name, "value": draw(st.one_of(_values[name], _junk)),
             "sub_score": draw(st.one_of(st.integers(0, 3), _junk))}
        for key, strategy in (("measured_at", _times), ("device", st.one_of(st.none(), st.text(max_size=8))),
                              ("previous_value", st.one_of(_values[name], _junk)), ("previous_at", _times),
                              ("scale", st.one_of(st.sampled_from([1, 2]), _junk))):
            if draw(st.booleans()):
                p[key] = draw(strategy)
        params.append(p)
    facts = {"patient_id": draw(st.text("0123456789", min_size=1, max_size=11)),
             "kind": draw(st.sampled_from(KINDS)), "band": draw(st.sampled_from(BANDS)),
             "total": draw(st.integers(0, 20)), "parameters": params,
             "missing": draw(st.permutations([p for p in PARAMETERS if p not in names]).flatmap(
                 lambda rest: st.integers(0, len(rest)).map(lambda n: rest[:n])))}
    optional = {
        "unit": st.one_of(st.none(), st.text(max_size=9)), "observed_at": _times,
        "red": st.one_of(st.booleans(), _junk),
        "complete": st.one_of(st.booleans(), _junk), "rising": st.one_of(st.booleans(), _junk),
        "previous_total": st.one_of(st.integers(0, 20), _junk), "previous_at": _times,
        "lowest_total_24h": st.one_of(st.integers(0, 20), _junk),
        "settings": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
            "spo2_scale": st.one_of(st.sampled_from([1, 2]), _junk), "spo2_scale_prescribed_by": _junk,
            "age": st.one_of(st.integers(0, 120), _junk), "birth_date": st.one_of(st.just("1945-01-02"), _junk),
            "pregnant": st.one_of(st.booleans(), _junk),
            "measure_every_minutes": st.one_of(st.integers(1, 1440), st.floats(0.5, 2000), _junk)})),
        "risk": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
            "tier": st.one_of(st.sampled_from(["LOW", "MODERATE", "HIGH", "VERY_HIGH"]), _junk),
            "reasons": st.one_of(st.lists(st.text(max_size=10), max_size=3), _junk), "scored_at": _times})),
        "overdue": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"last_set_at": _times,
                                                                            "due_at": _times})),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            facts[key] = draw(strategy)
    return facts


@settings(deadline=None, max_examples=300)
@given(facts_strategy())
def test_render_never_raises_and_names_every_parameter(facts):
    built = build(facts, DEFAULT)
    json.dumps(built, allow_nan=False)
    for lang in ("nb", "en"):
        text = render(built, lang).lower()
        for p in facts["parameters"]:
            assert PARAMETER_LABELS[p["name"]][lang == "en"].lower() in text
        for name in facts["missing"]:
            assert PARAMETER_LABELS[name][lang == "en"].lower() in text
