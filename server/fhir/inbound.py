"""FHIR R4 Observations in, readings out (docs/fhir.md): a pure mapping, no I/O.

A home-monitoring vendor sends one measurement per Observation, as the VKP guide (HL7 Norway's VkpObservation) and
the FHIR vital-signs profiles shape them; a reading is what one Observation measured, in the fields of
flags/assembly.py, for the server to assemble into observation sets. Anything Varde cannot read exactly is refused
with an issue that names the element (a FHIRPath), the code or unit it got and what it takes, so that a vendor can
fix its message from the error alone: a guessed unit or patient would put a wrong score on a patient.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from numbers import Real
from typing import NamedTuple

from . import codes as c

__all__ = ["FhirInputError", "FhirReading", "Issue", "bundle_entries", "observation_reading", "operation_outcome"]

# Results that are (or may become) a measurement; registered has no result yet, cancelled and entered-in-error
# were never one.
ACCEPTED_STATUSES = ("final", "amended", "corrected", "preliminary")
_REFUSED_STATUSES = {
    "entered-in-error": "the Observation was entered in error",
    "cancelled": "the Observation was cancelled",
    "registered": "the Observation has no result yet",
    "unknown": "the Observation's status is unknown",
}
_ALL_STATUSES = (*ACCEPTED_STATUSES, *_REFUSED_STATUSES)
NEWS2_MAX = 20  # 3 points in each of six parameters, 2 for oxygen
# A human inspired-oxygen concentration above room air (20.9 %, rounded as devices show it) is oxygen.
_ROOM_AIR_PERCENT = 21.0
# The words the scoring takes for each ACVPU letter (docs/news2.md), for a value sent as text.
_ACVPU_WORDS = {
    "A": "A", "C": "C", "V": "V", "P": "P", "U": "U",
    "ALERT": "A", "VÅKEN": "A", "CONFUSED": "C", "CONFUSION": "C", "NEW CONFUSION": "C", "NY FORVIRRING": "C",
    "FORVIRRET": "C", "VOICE": "V", "TILTALE": "V", "PAIN": "P", "SMERTE": "P", "UNRESPONSIVE": "U",
    "INGEN RESPONS": "U", "IKKE KONTAKTBAR": "U",
}
_NAMES = {c.LOINC: "LOINC", c.SNOMED: "SNOMED CT"}


class Issue(NamedTuple):
    """One OperationOutcome issue: severity (fatal|error|warning|information), code (FHIR issue type: required,
    value, code-invalid, not-supported, business-rule, structure), diagnostics (for the sender), expression (the
    FHIRPath of the element)."""

    severity: str
    code: str
    diagnostics: str
    expression: str


class FhirInputError(ValueError):
    """A resource Varde cannot take; `issues` say each thing wrong (operation_outcome() makes the resource)."""

    def __init__(self, issues):
        self.issues: list[Issue] = [Issue(*i) for i in issues]
        if not self.issues:
            raise ValueError("FhirInputError needs at least one issue")
        super().__init__("; ".join(f"{i.expression}: {i.diagnostics}" for i in self.issues))


@dataclass(frozen=True)
class FhirReading:
    """What one Observation measured (a reading, flags/assembly.py)."""

    patient_id: str  # the identifier's value (a fødselsnummer, D-number or FHN)
    measured_at_us: int  # µs since the epoch, UTC
    device: str  # the device as the Observation names it; "" if it does not
    values: dict  # assembly.FIELDS name -> float (numbers, Celsius), "A"/"C"/"V"/"P"/"U", or bool (on_oxygen)
    vendor_news2_total: int | None  # a NEWS2 total the vendor computed: stored as received, never scored on
    source_id: str  # "Observation/<id>", else "<identifier system>|<value>", else "": for derivedFrom


def operation_outcome(error: FhirInputError) -> dict:
    """The OperationOutcome resource (FHIR R4 JSON) of an error."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": i.severity, "code": i.code, "diagnostics": i.diagnostics, "expression": [i.expression]}
                  for i in error.issues],
    }


def bundle_entries(bundle: dict) -> list[tuple[int, FhirReading | FhirInputError]]:
    """(entry index, its reading or its error) for each entry of a batch or transaction Bundle, each parsed on its
    own: one bad entry does not spoil the others. Whether a transaction with a bad entry is refused whole is for
    the caller (FHIR's transaction is all or nothing). Raises FhirInputError when `bundle` is not such a Bundle."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        what = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise FhirInputError([("error", "structure", f"expected a Bundle, got {what!r}", "Bundle")])
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise FhirInputError([("error", "not-supported",
                               f"Bundle.type {kind!r}: Varde takes a batch or a transaction Bundle", "Bundle.type")])
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise FhirInputError([("error", "structure", "Bundle.entry must be a list", "Bundle.entry")])
    out: list[tuple[int, FhirReading | FhirInputError]] = []
    for n, entry in enumerate(entries):
        at = f"Bundle.entry[{n}]"
        try:
            out.append((n, _entry(entry, at)))
        except FhirInputError as e:
            out.append((n, e))
    return out


def _entry(entry, at: str) -> FhirReading:
    if not isinstance(entry, dict):
        raise FhirInputError([("error", "structure", "an entry must be an object", at)])
    issues = []
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        issues.append(("error", "required", "the entry has no resource", f"{at}.resource"))
    elif resource.get("resourceType") != "Observation":
        issues.append(("error", "not-supported",
                       f"a {resource.get('resourceType')!r}: Varde takes Observations only", f"{at}.resource"))
    request = entry.get("request")
    method = request.get("method") if isinstance(request, dict) else None
    if method is None:
        issues.append(("error", "required", "the entry has no request.method (send POST)", f"{at}.request.method"))
    elif method != "POST":
        issues.append(("error", "not-supported", f"request.method {method!r}: Varde takes new measurements (POST) "
                                                 "only; an earlier one is not updated or deleted",
                       f"{at}.request.method"))
    if issues:
        raise FhirInputError(issues)
    return observation_reading(resource)


def observation_reading(resource: dict) -> FhirReading:
    """The reading of one Observation: a vital sign (LOINC or SNOMED CT), a blood-pressure panel (its systolic
    component), inspired oxygen (air or oxygen), ACVPU, or a NEWS2 total (a reading with no values and the
    vendor's total). Every problem found is reported at once in the FhirInputError raised."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
        what = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
        raise FhirInputError([("error", "structure", f"expected an Observation, got {what!r}", "Observation")])
    issues: list[tuple] = []
    _status(resource, issues)
    patient = _patient(resource, issues)
    measured = _effective(resource, issues)
    values, total = _measurement(resource, issues)
    if issues:
        raise FhirInputError(issues)
    return FhirReading(patient, measured, _device(resource.get("device")), values, total, _source_id(resource))


# ---- status, subject, time, device ----

def _status(r: dict, issues: list) -> None:
    status = r.get("status")
    if not isinstance(status, str | None):
        issues.append(("error", "value", f"status {status!r} is not a code", "Observation.status"))
    elif status is None:
        issues.append(("error", "required", "no status (send final)", "Observation.status"))
    elif status in _REFUSED_STATUSES:
        issues.append(("error", "business-rule",
                       f"status {status!r}: {_REFUSED_STATUSES[status]}, so there is nothing to score; Varde takes "
                       f"{', '.join(ACCEPTED_STATUSES)}", "Observation.status"))
    elif status not in _ALL_STATUSES:
        issues.append(("error", "code-invalid", f"status {status!r} is not an Observation status",
                       "Observation.status"))


def _patient(r: dict, issues: list) -> str:
    subject = r.get("subject")
    if not isinstance(subject, dict):
        issues.append(("error", "required", "no subject: send subject.identifier with the patient's fødselsnummer, "
                                            f"D-number or FHN (system {c.FNR}, {c.DNR} or {c.FHN})",
                       "Observation.subject"))
        return ""
    ident = subject.get("identifier")
    if not isinstance(ident, dict):
        ref = subject.get("reference")
        got = f"subject.reference {ref!r} alone" if isinstance(ref, str) else "a subject without an identifier"
        issues.append(("error", "required",
                       f"{got} does not say who the patient is to Varde: send subject.identifier with the "
                       f"patient's fødselsnummer, D-number or FHN (system {c.FNR}, {c.DNR} or {c.FHN})",
                       "Observation.subject.identifier"))
        return ""
    system, value = ident.get("system"), ident.get("value")
    if not isinstance(system, str) or not system:
        issues.append(("error", "required", f"the patient identifier has no system (send {c.FNR}, {c.DNR} or "
                                            f"{c.FHN})", "Observation.subject.identifier.system"))
    elif system not in c.PATIENT_SYSTEMS:
        issues.append(("error", "not-supported",
                       f"identifier system {system!r} is not one Varde knows: send the fødselsnummer ({c.FNR}), "
                       f"D-number ({c.DNR}) or FHN ({c.FHN})", "Observation.subject.identifier.system"))
    if not isinstance(value, str) or not value.strip():
        issues.append(("error", "required", "the patient identifier has no value",
                       "Observation.subject.identifier.value"))
        return ""
    value = value.strip()
    if system in c.PATIENT_SYSTEMS and not (len(value) == 11 and value.isascii() and value.isdigit()):
        issues.append(("error", "value", f"a {c.PATIENT_SYSTEMS[system]} is 11 digits, not {value!r}",
                       "Observation.subject.identifier.value"))
    return value


# FHIR R4 dateTime / instant with a time of day. Seconds are optional here (a minute is a measurement time too);
# the zone is not (FHIR requires it with a time, and a time without one is a guess).
_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _effective(r: dict, issues: list) -> int:
    if "effectiveDateTime" in r:
        return _time(r["effectiveDateTime"], "Observation.effectiveDateTime", issues)
    if "effectiveInstant" in r:
        return _time(r["effectiveInstant"], "Observation.effectiveInstant", issues)
    if "effectivePeriod" in r:
        period = r["effectivePeriod"]
        if not isinstance(period, dict) or "start" not in period:
            issues.append(("error", "required", "effectivePeriod has no start (the time the measurement was made)",
                           "Observation.effectivePeriod.start"))
            return 0
        return _time(period["start"], "Observation.effectivePeriod.start", issues)
    if "effectiveTiming" in r:
        issues.append(("error", "not-supported", "effectiveTiming is a schedule, not the time of a measurement: send "
                                                 "effectiveDateTime", "Observation.effectiveTiming"))
        return 0
    issues.append(("error", "required", "no effective time: send effectiveDateTime, the time the measurement was "
                                        "made, with its time zone (e.g. 2026-11-23T10:05:00+01:00)",
                   "Observation.effective[x]"))
    return 0


def _time(text, path: str, issues: list) -> int:
    """µs since the epoch of a FHIR dateTime with a time of day and a zone."""
    if not isinstance(text, str):
        issues.append(("error", "value", f"{text!r} is not a dateTime string", path))
        return 0
    m = _DATETIME.fullmatch(text)
    if m is None:
        if _DATE.fullmatch(text):
            issues.append(("error", "value", f"{text!r} is a date without a time of day, which is not the time of a "
                                             "measurement: send the time it was made, with its time zone "
                                             "(e.g. 2026-11-23T10:05:00+01:00)", path))
        else:
            issues.append(("error", "value", f"{text!r} is not a FHIR dateTime (e.g. 2026-11-23T10:05:00+01:00)",
                           path))
        return 0
    y, mo, d, h, mi, s, frac, zone = m.groups()
    if zone is None:
        issues.append(("error", "value", f"{text!r} has no time zone: FHIR requires one with a time "
                                         "(Z or e.g. +01:00)", path))
        return 0
    try:
        sign = -1 if zone[0] == "-" else 1
        offset = dt.timedelta() if zone == "Z" else sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:]))
        second = int(s or 0)
        leap = second == 60  # a leap second, as FHIR allows: the instant after :59
        when = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), 59 if leap else second,
                           int((frac or "0")[:6].ljust(6, "0")), tzinfo=dt.timezone(offset))
    except ValueError as e:
        issues.append(("error", "value", f"{text!r} is not a real time: {e}", path))
        return 0
    return (when - _EPOCH) // dt.timedelta(microseconds=1) + (1_000_000 if leap else 0)


def _device(ref) -> str:
    if not isinstance(ref, dict):
        return ""
    ident = ref.get("identifier")
    for name in (ref.get("display"), ident.get("value") if isinstance(ident, dict) else None, ref.get("reference")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return ""


def _source_id(r: dict) -> str:
    if isinstance(r.get("id"), str) and r["id"]:
        return f"Observation/{r['id']}"
    idents = r.get("identifier")
    for ident in idents if isinstance(idents, list) else [idents]:
        if isinstance(ident, dict) and isinstance(ident.get("value"), str) and ident["value"]:
            system = ident.get("system")
            return f"{system}|{ident['value']}" if isinstance(system, str) and system else ident["value"]
    return ""


# ---- what was measured ----

def _codings(concept) -> list[tuple[str, str]]:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [(x.get("system"), x.get("code")) for x in concept["coding"]
            if isinstance(x, dict) and isinstance(x.get("code"), str) and isinstance(x.get("system"), str | None)]


def _show(codings) -> str:
    return ", ".join(f"{_NAMES.get(s, s) if s else '(no system)'} {code}" for s, code in codings)


def _kind(key: tuple[str, str]) -> str | None:
    if key in c.VITAL_SIGN_CODES:
        return c.VITAL_SIGN_CODES[key]
    if key in c.BP_PANEL_CODES:
        return "bp_panel"
    if key in c.INSPIRED_OXYGEN_CODES:
        return "oxygen:" + c.INSPIRED_OXYGEN_CODES[key]
    if key == c.NEWS2_TOTAL[:2]:
        return "news2"
    if key in c.NOT_TAKEN_CODES:
        return "not-taken"
    return None


def _measurement(r: dict, issues: list) -> tuple[dict, int | None]:
    """(values, vendor's NEWS2 total) of the Observation, from its code and value."""
    code = r.get("code")
    codings = _codings(code)
    kinds = {key: _kind(key) for key in codings}
    known = {k for k in kinds.values() if k is not None}
    if not known:
        if codings:
            why = f"no code Varde takes in {_show(codings)}"
        elif isinstance(code, dict) and code.get("text"):
            why = f"no coding (only the text {code['text']!r})"
        else:
            why = "no code"
        issues.append(("error", "code-invalid", f"{why}: Varde takes the LOINC and SNOMED CT codes of respiration "
                                                "rate, SpO2, inspired oxygen, blood pressure, pulse, ACVPU, "
                                                "temperature and the NEWS2 total (docs/fhir.md)", "Observation.code"))
        return {}, None
    if len(known) > 1:
        issues.append(("error", "code-invalid", "the codings disagree on what was measured: " + "; ".join(
            f"{_show([k])} is {v}" for k, v in kinds.items() if v is not None), "Observation.code.coding"))
        return {}, None
    kind = known.pop()
    if kind == "not-taken":
        key = next(k for k, v in kinds.items() if v == "not-taken")
        issues.append(("error", "not-supported", f"{_show([key])} is {c.NOT_TAKEN_CODES[key]}", "Observation.code"))
        return {}, None
    if kind == "news2":
        return {}, _news2_total(r, issues)
    if kind == "bp_panel":
        return _bp_panel(r, issues), None
    if kind.startswith("oxygen:"):
        on_oxygen = _oxygen(r, kind[7:], "Observation", issues)
        return ({"on_oxygen": on_oxygen} if on_oxygen is not None else {}), None
    if kind == "consciousness":
        letter = _acvpu(r, issues)
        return ({"consciousness": letter} if letter is not None else {}), None
    values = {}
    value = _quantity(r, kind, "Observation", issues)
    if value is not None:
        values[kind] = value
    if kind == "spo2":  # a pulse oximeter may say what the patient breathed in components (FHIR R4 oxygensat)
        on_oxygen = _oxygen_components(r, issues)
        if on_oxygen is not None:
            values["on_oxygen"] = on_oxygen
    return values, None


def _value_missing(r: dict, path: str, wanted: str, issues: list) -> None:
    others = sorted(k for k in r if k.startswith("value") and k != wanted)
    if others:
        issues.append(("error", "value", f"the value is {others[0]}; Varde takes {wanted} here", f"{path}.{wanted}"))
        return
    absent = r.get("dataAbsentReason")
    reason = _codings(absent)
    why = f" (dataAbsentReason {reason[0][1]!r})" if reason else " (dataAbsentReason)" if absent else ""
    issues.append(("error", "required", f"no value{why}: nothing to score", f"{path}.{wanted}"))


def _number(value, path: str, issues: list) -> float | None:
    # Decimal: a JSON reader that keeps FHIR decimals exact (json.loads(parse_float=Decimal)) is welcome
    if isinstance(value, bool) or not isinstance(value, Real | Decimal):
        issues.append(("error", "value", f"{value!r} is not a number", path))
        return None
    try:
        x = float(value)
    except (OverflowError, ValueError):  # an int past 1e308, a signalling Decimal NaN
        x = math.nan
    if not math.isfinite(x):
        issues.append(("error", "value", f"{value!r} is not a finite number", path))
        return None
    return x


def _unit(q: dict, field: str, path: str, issues: list) -> str | None:
    """The UCUM code of a Quantity: its `code` (system UCUM or none), else its `unit` if that is a UCUM code."""
    accepted = c.UNITS[field]
    system = q.get("system")
    if system is not None and system != c.UCUM:
        issues.append(("error", "value", f"unit system {system!r}: Varde takes UCUM ({c.UCUM}) units "
                                         f"{', '.join(accepted)}", f"{path}.system"))
        return None
    where, unit = ("code", q.get("code")) if q.get("code") is not None else ("unit", q.get("unit"))
    if unit is None:
        issues.append(("error", "value", f"no unit: send code {accepted[0]!r} with system {c.UCUM}",
                       f"{path}.code"))
        return None
    if unit not in accepted:
        issues.append(("error", "value", f"unit {unit!r} is not one Varde takes for {_WHAT[field]}: "
                                         f"{', '.join(accepted)} (UCUM)", f"{path}.{where}"))
        return None
    return unit


_WHAT = {"resp_rate": "respiration rate", "spo2": "SpO2", "systolic_bp": "systolic blood pressure",
         "pulse": "pulse", "temperature": "temperature", "flow": "inhaled oxygen flow rate",
         "concentration": "inhaled oxygen concentration"}


def _quantity(r: dict, field: str, path: str, issues: list) -> float | None:
    """The value of `r.valueQuantity` for `field`, in the scoring's unit; None with an issue when it is not one."""
    q = r.get("valueQuantity")
    if not isinstance(q, dict):
        _value_missing(r, path, "valueQuantity", issues)
        return None
    path = f"{path}.valueQuantity"
    if "comparator" in q:
        issues.append(("error", "value", f"a value {q['comparator']} {q.get('value')!r} is not a measurement",
                       f"{path}.comparator"))
        return None
    if "value" not in q:
        issues.append(("error", "required", "the quantity has no value", f"{path}.value"))
        return None
    x = _number(q["value"], f"{path}.value", issues)
    unit = _unit(q, field, path, issues)
    if x is None or unit is None:
        return None
    if unit == "[degF]":
        # Six decimals take off the binary noise of the conversion (98.6 °F is 37 °C, not 36.99999999999999)
        # and stay far below the chart's 0.1 °C, so the scoring's own rounding decides the band.
        return round((x - 32.0) * 5.0 / 9.0, 6)
    # Only what cannot be is refused here; what is implausible for a living adult is the scoring's reject codes
    # (docs/news2.md), one rule in one place.
    if (x < 0 and field != "temperature") or (unit == "%" and x > 100):
        issues.append(("error", "value", f"{_WHAT[field]} {q['value']!r} {unit} is not possible", f"{path}.value"))
        return None
    return x


def _bp_panel(r: dict, issues: list) -> dict:
    components = r.get("component")
    found = [(n, comp) for n, comp in enumerate(components if isinstance(components, list) else [])
             if isinstance(comp, dict) and any(k in c.SYSTOLIC_CODES for k in _codings(comp.get("code")))]
    if not found:
        issues.append(("error", "required", "the blood-pressure panel has no systolic component (LOINC 8480-6 or "
                                            "SNOMED CT 271649006)", "Observation.component"))
        return {}
    if len(found) > 1:
        issues.append(("error", "value", f"the panel has {len(found)} systolic components; send one",
                       "Observation.component"))
        return {}
    n, comp = found[0]
    value = _quantity(comp, "systolic_bp", f"Observation.component[{n}]", issues)
    return {"systolic_bp": value} if value is not None else {}


def _oxygen(r: dict, how: str, path: str, issues: list) -> bool | None:
    """Inspired oxygen as on_oxygen: a coded air/oxygen value, or flow > 0 L/min, or concentration > 21 %."""
    if "valueCodeableConcept" in r:
        got = _codings(r["valueCodeableConcept"])
        for key in got:
            if key in c.AIR_OR_OXYGEN_VALUES:
                return c.AIR_OR_OXYGEN_VALUES[key]
        issues.append(("error", "code-invalid", f"no air-or-oxygen code in {_show(got) or 'the value'}: send "
                                                "SNOMED CT 722742002 (breathing room air) or 371825009 (on oxygen)",
                       f"{path}.valueCodeableConcept"))
        return None
    x = _quantity(r, how, path, issues)
    if x is None:
        return None
    return x > 0 if how == "flow" else x > _ROOM_AIR_PERCENT


def _oxygen_components(r: dict, issues: list) -> bool | None:
    components = r.get("component")
    answers = []
    for n, comp in enumerate(components if isinstance(components, list) else []):
        how = next((c.INSPIRED_OXYGEN_CODES[k] for k in _codings(comp.get("code") if isinstance(comp, dict) else None)
                    if k in c.INSPIRED_OXYGEN_CODES), None)
        if how is not None:
            answers.append(_oxygen(comp, how, f"Observation.component[{n}]", issues))
    # flow and concentration of one reading agree in practice; if either says oxygen, the patient is on oxygen
    known = [a for a in answers if a is not None]
    return any(known) if known else None


def _acvpu(r: dict, issues: list) -> str | None:
    if "valueCodeableConcept" in r:
        concept = r["valueCodeableConcept"]
        got = _codings(concept)
        for key in got:
            if key in c.ACVPU_VALUES:
                return c.ACVPU_VALUES[key]
        text = concept.get("text") if isinstance(concept, dict) else None
        letter = _ACVPU_WORDS.get(" ".join(text.upper().split())) if isinstance(text, str) else None
        if letter is not None:
            return letter
        issues.append(("error", "code-invalid",
                       f"no ACVPU code in {_show(got) or 'the value'}: send SNOMED CT 248234008 (alert), 130987000 "
                       "(new confusion), 300202002 (voice), 450847001 (pain) or 422768004 (unresponsive)",
                       "Observation.valueCodeableConcept"))
        return None
    if "valueString" in r:
        text = r["valueString"]
        letter = _ACVPU_WORDS.get(" ".join(text.upper().split())) if isinstance(text, str) else None
        if letter is None:
            issues.append(("error", "value", f"{text!r} is not an ACVPU value (A, C, V, P or U; docs/news2.md)",
                           "Observation.valueString"))
        return letter
    _value_missing(r, "Observation", "valueCodeableConcept", issues)
    return None


def _news2_total(r: dict, issues: list) -> int | None:
    if "valueInteger" in r:
        value, path = r["valueInteger"], "Observation.valueInteger"
    elif isinstance(r.get("valueQuantity"), dict) and "value" in r["valueQuantity"]:
        value, path = r["valueQuantity"]["value"], "Observation.valueQuantity.value"
    else:
        _value_missing(r, "Observation", "valueQuantity", issues)
        return None
    x = _number(value, path, issues)
    if x is None:
        return None
    if not x.is_integer() or not 0 <= x <= NEWS2_MAX:
        issues.append(("error", "value", f"a NEWS2 total is a whole number 0-{NEWS2_MAX}, not {value!r}", path))
        return None
    return int(x)
