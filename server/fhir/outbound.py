"""What Varde writes in FHIR R4 (docs/fhir.md): plain JSON-serialisable dicts, no I/O.

A NEWS2 assessment is an Observation shaped as the VKP guide's NEWS2 example (total, seven sub-scores as
components, the readings it came from in derivedFrom); a flag is a Flag (the banner a record system shows) and a
DetectedIssue (the alert, coded as VKP alerts are); a resolved flag is a document Bundle a record system can file;
a complex-needs risk is a RiskAssessment. Patients are referred to by identifier only, never by a server id: the
receiver has its own.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import uuid
from numbers import Real
from typing import TYPE_CHECKING

from varde.scoring.schema import PARAMETERS

from ..flags.isbar import PARAMETER_LABELS
from . import codes as c

if TYPE_CHECKING:
    from ..store.base import FlagRow

__all__ = ["detected_issue", "flag_resource", "news2_observation", "patient_identifier", "resolved_document",
           "risk_assessment"]

BANDS = tuple(c.NEWS2_BAND_LABELS)
SUBSCORE_KEYS = tuple(PARAMETERS)  # resp_rate, spo2, air_oxygen, systolic_bp, pulse, consciousness, temperature
DOCUMENT_TITLE = "Oppfølging av varsel"
_SCORE = {"unit": "{score}", "system": c.UCUM, "code": "{score}"}
_STATES = ("OPEN", "CLAIMED", "RESOLVED")


def patient_identifier(patient_id: str) -> dict:
    """The Identifier of a patient, its system chosen by the first digit as Norwegian numbers are built
    (docs/national-id.md): 8 or 9 a felles hjelpenummer (FHN), 4-7 a D-number (day + 40), else a fødselsnummer.
    An H-number (month + 40) has no system in VKP's list and is written as a fødselsnummer. Raises ValueError for an
    id that does not start with a digit: it is no Norwegian identity number, and a national system would mislabel
    it."""
    if not isinstance(patient_id, str) or not patient_id[:1].isascii() or not patient_id[:1].isdigit():
        raise ValueError(f"patient_id {patient_id!r} is not a Norwegian identity number")
    first = int(patient_id[0])
    system = c.FHN if first >= 8 else c.DNR if first >= 4 else c.FNR
    return {"system": system, "value": patient_id}


def news2_observation(patient_id: str, observed_at_us: int, total: int, band: str, red: bool,
                      sub_scores: dict[str, int | None], spo2_scale: int, complete: bool, missing: list[str],
                      derived_from: list[str], id: str | None = None) -> dict:
    """A NEWS2 assessment as a FHIR Observation (the VKP NEWS2 example's shape): SNOMED CT 1104051000000101 with
    the total, the seven sub-scores as components in chart order (the SpO2 one by its scale; a missing one has a
    dataAbsentReason), the band as interpretation, derivedFrom the readings ("Observation/<id>", or
    "<system>|<value>" for one known by identifier). Final when the set is complete, else preliminary with the
    missing parameters in a note (the total is then a lower bound)."""
    _require(_whole(total) and 0 <= total <= 20, f"total {total!r} is not a NEWS2 total (0-20)")
    _require(band in BANDS, f"band {band!r}: one of {', '.join(BANDS)}")
    _require(spo2_scale in (1, 2) and _whole(spo2_scale), f"spo2_scale {spo2_scale!r}: 1 or 2")
    _require(isinstance(sub_scores, dict) and set(sub_scores) <= set(SUBSCORE_KEYS),
             f"sub_scores keys: {', '.join(SUBSCORE_KEYS)}")
    components = []
    for key in SUBSCORE_KEYS:
        code, display = c.NEWS2_SUBSCORES[f"spo2_scale_{spo2_scale}" if key == "spo2" else key]
        component: dict = {"code": {"coding": [{"system": c.SNOMED, "code": code, "display": display}]}}
        score = sub_scores.get(key)
        if score is None:
            component["dataAbsentReason"] = {"coding": [{"system": c.DATA_ABSENT_REASON, "code": "not-performed",
                                                         "display": "Not Performed"}]}
        else:
            _require(_whole(score) and 0 <= score <= 3, f"sub_scores[{key!r}] {score!r} is not a sub-score (0-3)")
            component["valueQuantity"] = {"value": int(score), **_SCORE}
        components.append(component)
    display, text = c.NEWS2_BAND_LABELS[band]
    interpretation = [{"coding": [{"system": c.NEWS2_BAND_SYSTEM, "code": band, "display": display}], "text": text}]
    if red:
        interpretation.append({"coding": [{"system": c.NEWS2_BAND_SYSTEM, "code": "RED",
                                           "display": "Red score: 3 points in one parameter"}],
                               "text": "Rød score: 3 poeng i én parameter"})
    out: dict = {"resourceType": "Observation"}
    if id is not None:
        out["id"] = id
    out.update({
        "status": "final" if complete else "preliminary",
        # VKP's NEWS2 example is a survey (a score), not a vital sign
        "category": [{"coding": [{"system": c.OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
        "code": {"coding": [{"system": c.NEWS2_TOTAL[0], "code": c.NEWS2_TOTAL[1], "display": c.NEWS2_TOTAL[2]}],
                 "text": "NEWS2"},
        "subject": {"identifier": patient_identifier(patient_id)},
        "effectiveDateTime": _instant(observed_at_us),
        "valueQuantity": {"value": int(total), **_SCORE},
        "interpretation": interpretation,
    })
    if not complete:
        names = [PARAMETER_LABELS.get(m, (m, m))[0] for m in missing] if missing else []
        out["note"] = [{"text": "Ufullstendig observasjonssett" + (f", mangler: {', '.join(names)}" if names else "")
                                + ". NEWS2-summen er en nedre grense."}]
    refs = [_reference(r) for r in derived_from]
    if refs:
        out["derivedFrom"] = refs
    out["component"] = components
    return out


def flag_resource(flag: FlagRow) -> dict:
    """A flag as a FHIR Flag: active while open or claimed, inactive once resolved; code text the kind; period from
    raised to resolved; author the unit (its organisation number)."""
    _require(flag.state in _STATES, f"flag state {flag.state!r}")
    period = {"start": _instant(flag.created_at)}
    if flag.resolved_at is not None:
        period["end"] = _instant(flag.resolved_at)
    out = {
        "resourceType": "Flag",
        "id": str(flag.id),
        "status": "inactive" if flag.state == "RESOLVED" else "active",
        "category": [{"coding": [{"system": c.FLAG_CATEGORY, "code": "clinical", "display": "Clinical"}]}],
        "code": {"coding": [_kind_coding(flag.kind)], "text": flag.kind},
        "subject": {"identifier": patient_identifier(flag.patient_id)},
        "period": period,
    }
    author = _unit(flag.unit)
    if author is not None:
        out["author"] = author
    return out


def detected_issue(flag: FlagRow) -> dict:
    """A flag as a VKP-style DetectedIssue: the VKP alert code (5.2.1 for NEWS2 and risk flags, 5.3.2 for an overdue
    measurement) with Varde's kind, severity from the flag's, preliminary while open and final once resolved, detail
    from the assessment, and the outcome as mitigation once resolved."""
    _require(flag.state in _STATES, f"flag state {flag.state!r}")
    _require(flag.severity in c.DETECTED_ISSUE_SEVERITY, f"flag severity {flag.severity!r}: 1, 2 or 3")
    codings = []
    if flag.kind in c.VKP_ALERT_CODES:
        codings.append({"system": c.VKP_ALERT_SYSTEM, "code": c.VKP_ALERT_CODES[flag.kind]})
    codings.append(_kind_coding(flag.kind))
    out = {
        "resourceType": "DetectedIssue",
        "id": str(flag.id),
        "status": "final" if flag.state == "RESOLVED" else "preliminary",
        "code": {"coding": codings, "text": c.FLAG_KIND_LABELS.get(flag.kind, flag.kind)},
        "severity": c.DETECTED_ISSUE_SEVERITY[flag.severity],
        "patient": {"identifier": patient_identifier(flag.patient_id)},
        "identifiedDateTime": _instant(flag.created_at),
        "author": {"type": "Device", "display": "Varde"},
        "detail": _detail(flag),
    }
    if flag.state == "RESOLVED" and flag.resolved_at is not None:
        action: dict = {"text": "Varsel lukket"}
        if flag.outcome:
            action = {"coding": [{"system": c.OUTCOME_SYSTEM, "code": flag.outcome}],
                      "text": c.OUTCOME_LABELS.get(flag.outcome, flag.outcome)}
        mitigation: dict = {"action": action, "date": _instant(flag.resolved_at)}
        if flag.claimed_by:
            mitigation["author"] = {"display": flag.claimed_by}
        out["mitigation"] = [mitigation]
    return out


def resolved_document(flag: FlagRow, isbar_text_nb: str, observation: dict | None = None) -> dict:
    """A resolved flag as a FHIR document Bundle: a Composition ("Oppfølging av varsel": the ISBAR message and the
    outcome with the resolution note, as XHTML narrative), then the DetectedIssue, then `observation` (the NEWS2
    Observation behind it) if given. Entries are urn:uuid fullUrls and refer to each other by them; the uuids come
    from the unit, flag id and resolution time, so the same flag always gives the same document. A relative
    reference in `observation` (its derivedFrom "Observation/abc") cannot resolve inside the document: it is kept as
    the reference's display."""
    _require(flag.state == "RESOLVED" and flag.resolved_at is not None, f"flag {flag.id} is not resolved")
    _require(isinstance(isbar_text_nb, str), "isbar_text_nb must be text")
    if not isbar_text_nb.strip():  # a flag raised before ISBAR messages were stored has none
        isbar_text_nb = "Ingen ISBAR-melding er lagret for dette varselet."
    base = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:varde:flag:{flag.unit}:{flag.id}:{flag.resolved_at}")
    ids = {part: str(uuid.uuid5(base, part)) for part in ("bundle", "composition", "issue", "observation")}
    urn = {part: f"urn:uuid:{value}" for part, value in ids.items()}
    when = _instant(flag.resolved_at)

    issue = detected_issue(flag)
    issue["id"] = ids["issue"]
    entries = [{"reference": urn["issue"]}]
    if observation is not None:
        _require(isinstance(observation, dict) and observation.get("resourceType") == "Observation",
                 "observation must be an Observation resource")
        issue["implicated"] = [{"reference": urn["observation"]}]
        entries.append({"reference": urn["observation"]})

    outcome = c.OUTCOME_LABELS.get(flag.outcome, flag.outcome) if flag.outcome else "ikke oppgitt"
    follow_up = f"Utfall: {outcome}\nLukket: {when}"
    if flag.resolution_note and flag.resolution_note.strip():
        follow_up += f"\n\nNotat:\n{flag.resolution_note.strip()}"
    composition = {
        "resourceType": "Composition",
        "id": ids["composition"],
        "status": "final",
        "type": {"coding": [{"system": c.PROGRESS_NOTE[0], "code": c.PROGRESS_NOTE[1],
                             "display": c.PROGRESS_NOTE[2]}], "text": DOCUMENT_TITLE},
        "subject": {"identifier": patient_identifier(flag.patient_id)},
        "date": when,
        "author": [_unit(flag.unit) or {"type": "Device", "display": "Varde"}],
        "title": DOCUMENT_TITLE,
        "section": [
            {"title": "ISBAR", "text": {"status": "generated", "div": _xhtml(isbar_text_nb)}, "entry": entries},
            # the note is the coordinator's own words, which no structured element holds
            {"title": "Oppfølging", "text": {"status": "additional", "div": _xhtml(follow_up)},
             "entry": [{"reference": urn["issue"]}]},
        ],
    }
    bundle_entries = [{"fullUrl": urn["composition"], "resource": composition},
                      {"fullUrl": urn["issue"], "resource": issue}]
    if observation is not None:
        bundle_entries.append({"fullUrl": urn["observation"], "resource": _detached(observation)})
    return {
        "resourceType": "Bundle",
        "id": ids["bundle"],
        "identifier": {"system": "urn:ietf:rfc:3986", "value": urn["bundle"]},
        "type": "document",
        "timestamp": when,
        "entry": bundle_entries,
    }


def risk_assessment(patient_id: str, tier: str, points: int | float | None, reasons: list[str],
                    as_of_iso: str) -> dict:
    """A complex-needs risk (docs/risk.md) as a FHIR RiskAssessment: the tier as the prediction's qualitativeRisk,
    the reasons as basis (by display) and in a note, the points in the rationale."""
    _require(isinstance(tier, str) and tier.strip() != "", "tier is empty")
    _require(points is None or (isinstance(points, Real) and not isinstance(points, bool)),
             f"points {points!r} is not a number")
    reasons = [r.strip() for r in reasons if isinstance(r, str) and r.strip()]
    label = c.RISK_TIER_LABELS.get(tier)
    rationale = f"Risikonivå {label or tier}"
    if points is not None:
        rationale += f", {_plain(points)} poeng"
    if reasons:
        rationale += ": " + "; ".join(reasons)
    qualitative: dict = {"coding": [{"system": c.RISK_TIER_SYSTEM, "code": tier}], "text": tier}
    if label:
        qualitative["coding"][0]["display"] = label
    out: dict = {
        "resourceType": "RiskAssessment",
        "status": "final",
        "code": {"text": "Risiko for komplekse behov"},
        "method": {"text": "Varde: risiko for komplekse behov (Charlson, legemidler, skrøpelighet, kontakter)"},
        "subject": {"identifier": patient_identifier(patient_id)},
        "occurrenceDateTime": _date_time(as_of_iso),
        "prediction": [{"outcome": {"text": "Komplekse behov"}, "qualitativeRisk": qualitative,
                        "rationale": rationale + "."}],
    }
    if reasons:
        out["basis"] = [{"display": r} for r in reasons]
        out["note"] = [{"text": "Grunner: " + "; ".join(reasons) + "."}]
    return out


# ---- helpers ----

def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _plain(x: int | float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _instant(us: int) -> str:
    """A FHIR instant in UTC from µs since the epoch; fractional seconds only when there are some."""
    _require(_whole(us), f"time {us!r} is not µs since the epoch")
    when = _EPOCH + dt.timedelta(microseconds=us)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{when.microsecond:06d}".rstrip("0") if when.microsecond else "") + "Z"


def _date_time(text: str) -> str:
    """A FHIR dateTime from an ISO date or date-time (a time without a zone is UTC, as in the scoring path)."""
    if isinstance(text, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        dt.date.fromisoformat(text.strip())  # a real date
        return text.strip()
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"as_of {text!r} is not an ISO date or date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return _instant((when - _EPOCH) // dt.timedelta(microseconds=1))


def _reference(ref: str) -> dict:
    """A Reference to an Observation from "Type/id" (or a urn/URL), or "<system>|<value>" (by identifier)."""
    _require(isinstance(ref, str) and ref.strip() != "", f"derived_from {ref!r} is empty")
    if "|" in ref:  # an Observation reference never holds "|"; an identifier token does
        system, value = ref.split("|", 1)
        _require(value != "", f"derived_from {ref!r} has no identifier value")
        ident = {"system": system, "value": value} if system else {"value": value}
        return {"type": "Observation", "identifier": ident}
    if "/" in ref or ref.startswith("urn:"):
        return {"reference": ref}
    return {"type": "Observation", "identifier": {"value": ref}}


def _detached(value):
    """A copy whose relative references ("Observation/abc", which resolve against Varde's server only, not inside a
    document of urn:uuid entries) are kept for a reader as Reference.display; urn, URL and "#" references stay."""
    if isinstance(value, list):
        return [_detached(v) for v in value]
    if not isinstance(value, dict):
        return value
    ref = value.get("reference")
    if isinstance(ref, str) and re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?",
                                             ref):
        out = {k: _detached(v) for k, v in value.items() if k != "reference"}
        out.setdefault("type", ref.split("/", 1)[0])
        out.setdefault("display", ref)
        return out
    return {k: _detached(v) for k, v in value.items()}


def _kind_coding(kind: str) -> dict:
    coding = {"system": c.FLAG_KIND_SYSTEM, "code": kind}
    if kind in c.FLAG_KIND_LABELS:
        coding["display"] = c.FLAG_KIND_LABELS[kind]
    return coding


def _unit(unit: str) -> dict | None:
    """The unit as an Organization reference: by organisation number (9 digits, as auth config requires), else by
    name; None for no unit (the local operator)."""
    if not unit:
        return None
    if len(unit) == 9 and unit.isascii() and unit.isdigit():
        return {"type": "Organization", "identifier": {"system": c.ORGNR, "value": unit}}
    return {"type": "Organization", "display": unit}


def _detail(flag: FlagRow) -> str:
    """A sentence from the flag's assessment (flags/rules.py, risk_rules.py, follow_up.py); unknown fields are left
    out, never guessed."""
    try:
        a = json.loads(flag.assessment) if flag.assessment else {}
    except (TypeError, ValueError):
        a = {}
    a = a if isinstance(a, dict) else {}
    parts = [c.FLAG_KIND_LABELS.get(flag.kind, flag.kind)]
    total, band = a.get("news2_total"), a.get("news2_band")
    if flag.kind == "MEASUREMENT_OVERDUE":
        if a.get("last_set_at"):
            parts.append(f"ingen observasjonssett mottatt siden {a['last_set_at']}")
        if a.get("due_at"):
            parts.append(f"neste var ventet {a['due_at']}")
    if _whole(total):
        text = f"{'siste ' if flag.kind == 'MEASUREMENT_OVERDUE' else ''}NEWS2-sum {total}"
        if band in c.NEWS2_BAND_LABELS:
            text += ", " + c.NEWS2_BAND_LABELS[band][1].split(" (")[0].lower()
        parts.append(text)
    if a.get("news2_red") is True:
        parts.append("rød score (3 poeng i én parameter)")
    if a.get("news2_complete") is False:
        missing = a.get("news2_missing")
        names = [PARAMETER_LABELS.get(m, (m, m))[0] for m in missing.split(";") if m] \
            if isinstance(missing, str) else []
        parts.append("ufullstendig sett" + (f", mangler {', '.join(names)}" if names else ""))
    if a.get("rising") is True and flag.kind.startswith("NEWS2"):
        parts.append("stigende")
    if isinstance(a.get("observed_at"), str):
        parts.append(f"observasjonssett {a['observed_at']}")
    tier = a.get("risk_tier")
    if isinstance(tier, str):
        text = f"risikonivå {c.RISK_TIER_LABELS.get(tier, tier)}"
        previous = a.get("previous_tier")
        if isinstance(previous, str):
            text += f" (var {c.RISK_TIER_LABELS.get(previous, previous)})"
        parts.append(text)
    if _whole(a.get("risk_points")) or isinstance(a.get("risk_points"), float):
        parts.append(f"{_plain(a['risk_points'])} poeng")
    reasons = a.get("risk_reasons")
    if isinstance(reasons, list) and reasons:
        parts.append("grunner: " + "; ".join(str(r) for r in reasons))
    elif isinstance(reasons, str) and reasons:
        parts.append(f"grunner: {reasons}")
    if flag.occurrences > 1:
        parts.append(f"funnet {flag.occurrences} ganger")
    return "; ".join(parts) + "."


# XML 1.0 cannot hold these, escaped or not; a line break becomes <br/>, a blank line a new paragraph.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _xhtml(text: str) -> str:
    """Text as FHIR narrative XHTML: escaped, one <p> per paragraph."""
    text = _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "".join("<p>" + "<br/>".join(html.escape(line.rstrip(), quote=False) for line in p.split("\n")) + "</p>"
                   for p in paragraphs)
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'
