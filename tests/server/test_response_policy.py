"""The unit's response policy file: the shipped default, every way a file can be wrong, RED against the band, and
one file per unit with a fallback (docs/response-policy.md)."""

from __future__ import annotations

import json
import pathlib
import re
import tomllib
from importlib import resources

import pytest

from varde.server.flags.response import (
    CONTACTS,
    KEYS,
    Response,
    ResponsePolicies,
    ResponsePolicy,
    ResponsePolicyError,
    load_response_policy,
)

MIN, HOUR = 60_000_000, 3_600_000_000
DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "response-policy.md"


def default_doc() -> dict:
    text = resources.files("varde.server.flags").joinpath("data/response_default.toml").read_text("utf-8")
    return tomllib.loads(text)


def toml(doc: dict) -> str:
    """Enough TOML for these files: top-level scalars, then one [response.KEY] table per level."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v) if isinstance(v, str) else str(v)

    lines = [f"{k} = {value(v)}" for k, v in doc.items() if k != "response"]
    for key, entry in (doc.get("response") or {}).items():
        if isinstance(entry, dict):
            lines.append(f"[response.{key}]")
            lines += [f"{k} = {value(v)}" for k, v in entry.items()]
        else:
            lines.append(f"response.{key} = {value(entry)}")
    return "\n".join(lines) + "\n"


def write(tmp_path, doc: dict | str, name: str = "974760673.toml") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else toml(doc), encoding="utf-8")
    return path


def changed(edit) -> dict:
    doc = default_doc()
    edit(doc)
    return doc


# ---- the shipped default ----

def test_the_default_loads_and_says_it_is_not_reviewed():
    policy = load_response_policy()
    assert policy.reviewed is False
    assert policy.source == "default"
    assert policy.version == "varde-default-2026-11"
    assert set(policy.responses) == set(KEYS)
    text = resources.files("varde.server.flags").joinpath("data/response_default.toml").read_text("utf-8")
    assert "medically responsible doctor" in text and "THIS IS A DEFAULT" in text


def test_the_default_follows_rcp_2017_chart_4():
    r = load_response_policy().responses
    # minimum monitoring: 12-hourly, 4-6-hourly, 1-hourly, 1-hourly, continuous (at home: 15 minutes, see file)
    assert [r[b].measure_every_us for b in ("ZERO", "LOW", "LOW_MEDIUM", "MEDIUM", "HIGH")] == [
        12 * HOUR, 4 * HOUR, HOUR, HOUR, 15 * MIN]
    assert r["RED"].measure_every_us == HOUR
    assert r["ZERO"].contacts == () and r["ZERO"].within_us is None
    assert r["LOW"].contacts == ("NURSE_IN_CHARGE",)
    for key in ("LOW_MEDIUM", "MEDIUM", "RED"):  # a registered nurse informs the medical team
        assert r[key].steps == (("NURSE_IN_CHARGE",), ("GP", "LEGEVAKT"))
    assert r["HIGH"].within_us == 0 and {"EMERGENCY_113", "LEGEVAKT"} <= set(r["HIGH"].contacts)
    assert r["LOW"].within_us > r["MEDIUM"].within_us > r["HIGH"].within_us
    assert all(e.advice_nb and e.advice_en for k, e in r.items() if k != "ZERO")


def test_a_copy_of_the_default_loads_from_a_file(tmp_path):
    path = write(tmp_path, changed(lambda d: d.update(reviewed=True, version="unit-1")))
    policy = load_response_policy(path)
    assert (policy.version, policy.reviewed, policy.source) == ("unit-1", True, str(path))
    assert policy.responses == load_response_policy().responses


@pytest.mark.parametrize(("text", "us"), [("0m", 0), ("0s", 0), ("90s", 90_000_000), (" 15m ", 15 * MIN),
                                          ("2h", 2 * HOUR)])
def test_within_durations(tmp_path, text, us):
    path = write(tmp_path, changed(lambda d: d["response"]["MEDIUM"].update(within=text)))
    assert load_response_policy(path).responses["MEDIUM"].within_us == us


def test_advice_is_optional_and_kept_as_written(tmp_path):
    def edit(d):
        del d["response"]["LOW"]["advice_nb"], d["response"]["LOW"]["advice_en"]
        d["response"]["HIGH"]["advice_nb"] = "Ring 113.\nDeretter: Ola Nordmann, tlf. 400 00 000."
        del d["response"]["HIGH"]["measure_every"]
    policy = load_response_policy(write(tmp_path, changed(edit)))
    assert (policy.responses["LOW"].advice_nb, policy.responses["LOW"].advice_en) == ("", "")
    assert policy.responses["HIGH"].advice_nb == "Ring 113.\nDeretter: Ola Nordmann, tlf. 400 00 000."
    assert policy.responses["HIGH"].measure_every_us is None


# ---- every error names the file and the key ----

def _drop(table: str, key: str):
    def edit(d):
        del (d["response"][table] if table else d)[key]
    return edit


def _set(table: str, **values):
    def edit(d):
        (d["response"][table] if table else d).update(values)
    return edit


ERRORS = [
    ("version missing", _drop("", "version"), "version"),
    ("version empty", _set("", version="  "), "version"),
    ("version a number", _set("", version=3), "version"),
    ("reviewed missing", _drop("", "reviewed"), "reviewed"),
    ("reviewed a string", _set("", reviewed="no"), "reviewed"),
    ("unknown top key", _set("", owner="Dr. X"), "'owner'"),
    ("no response tables", _drop("", "response"), "[response."),
    ("a level missing", lambda d: d["response"].pop("HIGH"), "[response.HIGH]"),
    ("unknown level", lambda d: d["response"].update(CRITICAL=dict(d["response"]["HIGH"])), "'CRITICAL'"),
    ("level not a table", lambda d: d["response"].update(LOW="call the GP"), "[response.LOW]"),
    ("unknown entry key", _set("MEDIUM", call=["GP"]), "[response.MEDIUM] unknown key 'call'"),
    ("contact missing", _drop("MEDIUM", "contact"), "[response.MEDIUM] contact"),
    ("contact not a list", _set("MEDIUM", contact="GP"), "[response.MEDIUM] contact"),
    ("contact unknown", _set("MEDIUM", contact=["NURSE_IN_CHARGE", "AMBULANCE"]), "'AMBULANCE'"),
    ("contact not a string", _set("MEDIUM", contact=["GP", 113]), "[response.MEDIUM] contact"),
    ("contact twice", _set("MEDIUM", contact=["GP", "LEGEVAKT", "GP"]), "'GP' is listed twice"),
    ("within in words", _set("MEDIUM", within="30 minutes"), "[response.MEDIUM] within = '30 minutes'"),
    ("within a number", _set("MEDIUM", within=30), "[response.MEDIUM] within = 30"),
    ("within negative", _set("MEDIUM", within="-5m"), "[response.MEDIUM] within"),
    ("within in days", _set("MEDIUM", within="1d"), "[response.MEDIUM] within"),
    ("within missing with a contact", _drop("MEDIUM", "within"), "[response.MEDIUM] within"),
    ("within without a contact", _set("ZERO", within="1h"), "[response.ZERO] within"),
    ("measure_every zero", _set("HIGH", measure_every="0m"), "[response.HIGH] measure_every = '0m'"),
    ("measure_every a number", _set("HIGH", measure_every=15), "[response.HIGH] measure_every = 15"),
    ("advice too long", _set("RED", advice_en="x" * 501), "[response.RED] advice_en"),
    ("advice not a string", _set("RED", advice_nb=["a"]), "[response.RED] advice_nb"),
    ("advice with a control character", _set("RED", advice_nb="a\x07b"), "[response.RED] advice_nb"),
]


@pytest.mark.parametrize(("edit", "key"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_every_error_names_the_file_and_the_key(tmp_path, edit, key):
    path = write(tmp_path, changed(edit))
    with pytest.raises(ResponsePolicyError) as e:
        load_response_policy(path)
    assert str(path) in str(e.value)
    assert key in str(e.value)


def test_an_unknown_contact_lists_the_allowed_ones(tmp_path):
    path = write(tmp_path, changed(_set("LOW", contact=["DOCTOR"])))
    with pytest.raises(ResponsePolicyError, match="allowed: " + ", ".join(CONTACTS)):
        load_response_policy(path)


def test_a_missing_level_is_named_and_the_rest_listed(tmp_path):
    path = write(tmp_path, changed(lambda d: d["response"].pop("LOW_MEDIUM")))
    with pytest.raises(ResponsePolicyError, match=re.escape("[response.LOW_MEDIUM] is missing (every one of "
                                                            "ZERO, LOW, LOW_MEDIUM, MEDIUM, HIGH, RED")):
        load_response_policy(path)


def test_advice_of_500_characters_is_fine(tmp_path):
    path = write(tmp_path, changed(_set("RED", advice_en="x" * 500)))
    assert len(load_response_policy(path).responses["RED"].advice_en) == 500


@pytest.mark.parametrize(("content", "says"), [
    ("version = ", "not valid TOML"),
    (b"version = \"\xff\"\n", "not UTF-8"),
    (None, "No such file"),
])
def test_unreadable_files_are_named(tmp_path, content, says):
    path = tmp_path / "unit.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ResponsePolicyError, match=says) as e:
        load_response_policy(path)
    assert str(path) in str(e.value)


# ---- the band's response, or RED's ----

def test_response_for_picks_red_over_low_when_red():
    policy = load_response_policy()
    assert policy.response_for("LOW", red=False).key == "LOW"
    assert policy.response_for("LOW", red=True).key == "RED"  # 30 minutes, not an hour
    assert policy.measure_every_us("LOW", red=False) == 4 * HOUR
    assert policy.measure_every_us("LOW", red=True) == HOUR


def test_response_for_keeps_a_band_as_urgent_as_red():
    policy = load_response_policy()
    assert policy.response_for("MEDIUM", red=True).key == "MEDIUM"  # a tie keeps the band's
    assert policy.response_for("HIGH", red=True).key == "HIGH"
    assert policy.measure_every_us("HIGH", red=True) == 15 * MIN


def _policy(**responses) -> ResponsePolicy:
    base = {k: Response(k, (), None, 12 * HOUR) for k in KEYS}
    base.update({k: Response(k, *v) for k, v in responses.items()})
    return ResponsePolicy("t", True, "test", base)


def test_red_wins_with_a_contact_where_the_band_has_none():
    policy = _policy(RED=(("GP",), 2 * HOUR, None))
    assert policy.response_for("ZERO", red=True).key == "RED"
    assert policy.measure_every_us("ZERO", red=True) == 12 * HOUR  # RED sets none: the band's
    policy = _policy(LOW=(("GP",), 15 * MIN, 4 * HOUR))  # RED has no contact: never more urgent
    assert policy.response_for("LOW", red=True).key == "LOW"
    policy = _policy(LOW=(("GP",), 15 * MIN, 4 * HOUR), RED=(("GP",), 0, HOUR))
    assert policy.response_for("LOW", red=True).key == "RED"


def test_an_unknown_band_is_named():
    with pytest.raises(ValueError, match="'SEVERE'"):
        load_response_policy().response_for("SEVERE", red=False)


def test_adjacent_doctors_are_alternatives():
    r = Response("X", ("NURSE_IN_CHARGE", "GP", "NURSING_HOME_DOCTOR", "EMERGENCY_113", "LEGEVAKT"), 0, None)
    assert r.steps == (("NURSE_IN_CHARGE",), ("GP", "NURSING_HOME_DOCTOR"), ("EMERGENCY_113",), ("LEGEVAKT",))
    assert Response("X", (), None, None).steps == ()


# ---- one file per unit ----

def test_policies_pick_the_units_file_and_fall_back_to_default_toml(tmp_path):
    write(tmp_path, changed(_set("", version="unit-a", reviewed=True)), "974760673.toml")
    write(tmp_path, changed(_set("", version="unit-b", reviewed=True)), "912345678.toml")
    write(tmp_path, changed(_set("", version="municipality", reviewed=True)), "default.toml")
    (tmp_path / "README.md").write_text("not a policy")
    (tmp_path / ".974760673.toml.swp").write_text("an editor's file")
    (tmp_path / "old").mkdir()
    policies = ResponsePolicies(tmp_path)
    assert policies.for_unit("974760673").version == "unit-a"
    assert policies.for_unit("912345678").version == "unit-b"
    assert policies.for_unit("999999999").version == "municipality"
    assert policies.for_unit("").version == policies.for_unit(None).version == "municipality"
    assert policies.for_unit("974760673").source == str(tmp_path / "974760673.toml")
    assert policies.versions() == {"": "municipality", "912345678": "unit-b", "974760673": "unit-a"}


def test_policies_without_default_toml_use_the_shipped_default(tmp_path):
    write(tmp_path, changed(_set("", version="unit-a", reviewed=True)))
    policies = ResponsePolicies(str(tmp_path))
    assert policies.for_unit("974760673").version == "unit-a"
    assert policies.for_unit("912345678").source == "default"
    assert policies.versions() == {"": "varde-default-2026-11", "974760673": "unit-a"}
    assert ResponsePolicies(None).versions() == {"": "varde-default-2026-11"}
    assert ResponsePolicies().for_unit("974760673").reviewed is False


def test_one_bad_file_fails_the_construction(tmp_path):
    write(tmp_path, changed(_set("", version="unit-a")), "974760673.toml")
    bad = write(tmp_path, changed(_set("HIGH", within="now")), "912345678.toml")
    with pytest.raises(ResponsePolicyError, match=re.escape(str(bad))):
        ResponsePolicies(tmp_path)


def test_a_directory_that_is_not_there_is_named(tmp_path):
    with pytest.raises(ResponsePolicyError, match="not a directory"):
        ResponsePolicies(tmp_path / "nowhere")


def test_the_documented_example_loads(tmp_path):
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    policy = load_response_policy(write(tmp_path, block))
    assert policy.reviewed is True
    assert set(policy.responses) == set(KEYS)
