"""The ISBAR handover message of a flag (Identifikasjon, Situasjon, Bakgrunn, Aktuell status, Råd), in bokmål and
English (docs/response-policy.md).

`build` turns the facts of a flag into a structured, JSON-serialisable ISBAR of data fields only; `render` turns it
into text where every line is a fixed template filled from one field, so that nothing is invented and a fact that is
not known is left out rather than guessed. The Råd comes from the unit's response policy (response.py).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from varde.scoring.schema import PARAMETERS

from .response import CONTACTS, ResponsePolicy

__all__ = ["LANGUAGES", "PARAMETER_LABELS", "build", "render"]

LANGUAGES = ("nb", "en")

# parameter -> (bokmål, English), as at the start of a line; chart order (RCP 2017 chart 1).
PARAMETER_LABELS: dict[str, tuple[str, str]] = {
    "resp_rate": ("Respirasjonsfrekvens", "Respiration rate"),
    "spo2": ("SpO2", "SpO2"),
    "air_oxygen": ("Luft eller oksygen", "Air or oxygen"),
    "systolic_bp": ("Systolisk blodtrykk", "Systolic blood pressure"),
    "pulse": ("Puls", "Pulse"),
    "consciousness": ("Bevissthet (ACVPU)", "Consciousness (ACVPU)"),
    "temperature": ("Temperatur", "Temperature"),
}
_UNIT = {"resp_rate": "/min", "spo2": " %", "systolic_bp": " mmHg", "pulse": "/min", "temperature": " °C"}
_ACVPU = {
    "A": ("våken", "alert"),
    "C": ("ny forvirring", "new confusion"),
    "V": ("reagerer på tiltale", "responds to voice"),
    "P": ("reagerer på smerte", "responds to pain"),
    "U": ("reagerer ikke", "unresponsive"),
}
# The words the scoring accepts for each letter (docs/news2.md), so that a set sent in words shows its letter.
_ACVPU_WORDS = {
    "ALERT": "A", "VÅKEN": "A", "CONFUSED": "C", "CONFUSION": "C", "NEW CONFUSION": "C", "NY FORVIRRING": "C",
    "FORVIRRET": "C", "VOICE": "V", "TILTALE": "V", "PAIN": "P", "SMERTE": "P", "UNRESPONSIVE": "U",
    "INGEN RESPONS": "U", "IKKE KONTAKTBAR": "U",
}
_NUMERIC = ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

# Every sentence of a message, per language. A template takes only fields of the built ISBAR.
_T: dict[str, dict[str, Any]] = {
    "nb": {
        "headings": ("Identifikasjon", "Situasjon", "Bakgrunn", "Aktuell status", "Råd"),
        "bands": {"ZERO": "null", "LOW": "lav", "LOW_MEDIUM": "lav-middels", "MEDIUM": "middels", "HIGH": "høy",
                  "RED": "rød score"},
        "kinds": {
            "NEWS2_HIGH": "NEWS2 høy (sum 7 eller mer)",
            "NEWS2_MEDIUM": "NEWS2 middels (sum 5-6)",
            "NEWS2_RED": "NEWS2 rød score (3 poeng i én parameter)",
            "NEWS2_RISING": "NEWS2 stigende",
            "MEASUREMENT_OVERDUE": "måling forsinket",
        },
        "tiers": {"LOW": "lav", "MODERATE": "moderat", "HIGH": "høy", "VERY_HIGH": "svært høy"},
        "patient": "Pasient: {}",
        "unit": "Enhet: {}",
        "flag": "Varsel: {}",
        "observed": "Observasjonssett: {}",
        "observed_last": "Siste observasjonssett: {}",
        "overdue_since": "Ingen observasjonssett mottatt siden {}.",
        "overdue_due": "Neste var ventet {}.",
        "total": "NEWS2-sum {}{}.",
        "total_last": "Siste NEWS2-sum {}{}.",
        "highest": "Høyest delpoeng ({}): {}.",
        "red_params": "Rød score (3 poeng): {}.",
        "red_unnamed": "Rød score: 3 poeng i én parameter.",
        "previous": "Forrige sum {}{}; {}.",
        "rising": "Stigende: {} mot laveste sum siste 24 timer ({}).",
        "rising_plain": "Stigende trend.",
        "change": "endring {}",
        "unchanged": "uendret",
        "scale": "SpO2-skala {}.",
        "scale_by": "SpO2-skala {}, forordnet av {}.",
        "age": "Alder: {} år.",
        "birth_date": "Fødselsdato: {}.",
        "pregnant": "Gravid: ja.",
        "plan": "Måleplan: {}.",
        "risk": "Risiko for komplekse behov: {}.",
        "risk_at": "Risiko for komplekse behov: {} (vurdert {}).",
        "reasons": "Grunner: {}.",
        "lowest": "Laveste NEWS2-sum siste 24 timer: {}.",
        "sub_score": "delpoeng {}",
        "prev_value": "forrige {}",
        "measured": "målt {}",
        "air": "luft",
        "oxygen": "oksygen",
        "scale_of": " (skala {})",
        "missing": "Mangler: {}.",
        "incomplete": "Settet er ufullstendig.",
        "measure_now": "Ta et nytt observasjonssett nå.",
        "contact": "Kontakt {}{}.",
        "no_contact": "Tiltaksplanen krever ingen kontakt ved dette nivået.",
        "measure": "Mål NEWS2 {}.",
        "advice": "Råd fra tiltaksplanen: {}",
        "advice_other": "Råd fra tiltaksplanen (på engelsk): {}",
        "policy": "Tiltaksplan: {} (nivå: {}).",
        "policy_plain": "Tiltaksplan: {}.",
        "default_unreviewed": "Dette er Vardes standard (RCP 2017), som enheten ennå ikke har gjennomgått.",
        "unit_unreviewed": "Tiltaksplanen er ennå ikke gjennomgått av enhetens medisinskfaglig ansvarlige lege.",
        "or": " eller ",
        "and": " og ",
        "decimal": ",",
    },
    "en": {
        "headings": ("Identification", "Situation", "Background", "Current status", "Recommendation"),
        "bands": {"ZERO": "zero", "LOW": "low", "LOW_MEDIUM": "low-medium", "MEDIUM": "medium", "HIGH": "high",
                  "RED": "red score"},
        "kinds": {
            "NEWS2_HIGH": "NEWS2 high (total 7 or more)",
            "NEWS2_MEDIUM": "NEWS2 medium (total 5-6)",
            "NEWS2_RED": "NEWS2 red score (3 points in one parameter)",
            "NEWS2_RISING": "NEWS2 rising",
            "MEASUREMENT_OVERDUE": "measurement overdue",
        },
        "tiers": {"LOW": "low", "MODERATE": "moderate", "HIGH": "high", "VERY_HIGH": "very high"},
        "patient": "Patient: {}",
        "unit": "Unit: {}",
        "flag": "Flag: {}",
        "observed": "Observation set: {}",
        "observed_last": "Last observation set: {}",
        "overdue_since": "No observation set has arrived since {}.",
        "overdue_due": "The next was due at {}.",
        "total": "NEWS2 total {}{}.",
        "total_last": "Last NEWS2 total {}{}.",
        "highest": "Highest sub-score ({}): {}.",
        "red_params": "Red score (3 points): {}.",
        "red_unnamed": "Red score: 3 points in one parameter.",
        "previous": "Previous total {}{}; {}.",
        "rising": "Rising: {} against the lowest total in the last 24 hours ({}).",
        "rising_plain": "Rising trend.",
        "change": "change {}",
        "unchanged": "unchanged",
        "scale": "SpO2 scale {}.",
        "scale_by": "SpO2 scale {}, prescribed by {}.",
        "age": "Age: {} years.",
        "birth_date": "Date of birth: {}.",
        "pregnant": "Pregnant: yes.",
        "plan": "Measurement plan: {}.",
        "risk": "Complex-needs risk: {}.",
        "risk_at": "Complex-needs risk: {} (scored {}).",
        "reasons": "Reasons: {}.",
        "lowest": "Lowest NEWS2 total in the last 24 hours: {}.",
        "sub_score": "sub-score {}",
        "prev_value": "previous {}",
        "measured": "measured {}",
        "air": "air",
        "oxygen": "oxygen",
        "scale_of": " (scale {})",
        "missing": "Missing: {}.",
        "incomplete": "The set is incomplete.",
        "measure_now": "Take a new observation set now.",
        "contact": "Contact {}{}.",
        "no_contact": "The response policy asks for no contact at this level.",
        "measure": "Measure NEWS2 {}.",
        "advice": "Advice in the response policy: {}",
        "advice_other": "Advice in the response policy (in Norwegian): {}",
        "policy": "Response policy: {} (level: {}).",
        "policy_plain": "Response policy: {}.",
        "default_unreviewed": "This is Varde's default response (RCP 2017), which the unit has not yet reviewed.",
        "unit_unreviewed": "The unit has not yet marked this response policy as reviewed by its medically "
                           "responsible doctor.",
        "or": " or ",
        "and": " and ",
        "decimal": ".",
    },
}


# ---- build: facts -> structured ISBAR (data fields only) ----

def build(facts: dict, policy: ResponsePolicy) -> dict:
    """The structured ISBAR of one flag from its facts (docs/response-policy.md). Absent or unusable facts are
    left out. Raises ValueError when patient_id, kind, band or total is missing; band and total may be missing from
    a MEASUREMENT_OVERDUE (the last set could not be scored), whose Råd is then to measure now."""
    patient_id, kind, band = (_text(facts.get(k)) for k in ("patient_id", "kind", "band"))
    total = _int(facts.get("total"))
    overdue_kind = kind == "MEASUREMENT_OVERDUE"
    for name, value in (("patient_id", patient_id), ("kind", kind), ("band", band), ("total", total)):
        if value is None and not (overdue_kind and name in ("band", "total")):
            raise ValueError(f"ISBAR facts: {name} is required")
    red = facts.get("red") is True
    params = _parameters(facts.get("parameters"))
    scored = [p for p in params if "sub_score" in p]
    top = max((p["sub_score"] for p in scored), default=0)
    red_names = [p["name"] for p in scored if p["sub_score"] == 3]

    identification = _known(patient_id=patient_id, unit=_text(facts.get("unit")), kind=kind,
                            observed_at=_time(facts.get("observed_at")))
    previous_total, lowest = _int(facts.get("previous_total")), _int(facts.get("lowest_total_24h"))
    overdue = facts.get("overdue") if isinstance(facts.get("overdue"), dict) else {}
    situation = _known(
        kind=kind, total=total, band=band, red=red,
        highest_sub_score=top if top > 0 else None,
        highest=[p["name"] for p in scored if p["sub_score"] == top] if top > 0 else None,
        red_parameters=red_names or None,
        previous_total=previous_total,
        previous_at=_time(facts.get("previous_at")) if previous_total is not None else None,
        change=total - previous_total if previous_total is not None and total is not None else None,
        rising=True if facts.get("rising") is True else None,
        lowest_total_24h=lowest,
        rise_24h=total - lowest if lowest is not None and total is not None and facts.get("rising") is True
        else None,
        overdue=_known(last_set_at=_time(overdue.get("last_set_at")), due_at=_time(overdue.get("due_at"))) or None,
    )
    background = _background(facts)
    if lowest is not None:
        background["lowest_total_24h"] = lowest
    missing = _names(facts.get("missing"))
    complete = facts.get("complete")
    current_status = _known(parameters=params or None, missing=missing or None,
                            complete=complete if isinstance(complete, bool) else None,
                            red_parameters=red_names or None)

    recommendation = _known(measure_now=True if overdue_kind else None, default=policy.source == "default")
    if band is not None:
        response = policy.response_for(band, red)
        recommendation.update(_known(
            response=response.key,
            contact=[list(step) for step in response.steps],
            within_us=response.within_us,
            measure_every_us=policy.measure_every_us(band, red),
            advice_nb=response.advice_nb or None,
            advice_en=response.advice_en or None,
        ))
    return {
        "identification": identification,
        "situation": situation,
        "background": background,
        "current_status": current_status,
        "recommendation": recommendation,
        "policy_version": policy.version,
        "policy_reviewed": policy.reviewed,
    }


def _known(**fields) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


def _text(value) -> str | None:
    """A string fact as written, with control characters (a line break would make a line of its own) as spaces."""
    if not isinstance(value, str):
        return None
    value = _CONTROL.sub(" ", value).strip()
    return value or None


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _number(value) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return _round(value)


def _time(value) -> str | None:
    """UTC ISO to the second ("2026-11-23T10:05:00Z"); a time without a zone is UTC, as in the scoring path."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError):
        return None


def _date(value) -> str | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return value.isoformat() if isinstance(value, dt.date) else None


def _chart_order(names) -> list[str]:
    order = {p: i for i, p in enumerate(PARAMETERS)}
    return sorted(names, key=lambda n: order.get(n, len(order)))  # stable: unknown names keep their order, last


def _names(values) -> list[str]:
    if not isinstance(values, list | tuple):
        return []
    out = []
    for v in values:
        name = _text(v)
        if name is not None and name not in out:
            out.append(name)
    return _chart_order(out)


def _value(name: str, value):
    if name == "air_oxygen":
        return value if isinstance(value, bool) else None
    if name == "consciousness":
        text = _text(value)
        if text is None:
            return None
        word = " ".join(text.upper().split())
        return word if word in _ACVPU else _ACVPU_WORDS.get(word, text)
    return _number(value)


def _parameters(values) -> list[dict]:
    if not isinstance(values, list | tuple):
        return []
    out, seen = [], set()
    for p in values:
        name = _text(p.get("name")) if isinstance(p, dict) else None
        if name is None or name in seen:
            continue
        seen.add(name)
        sub = _int(p.get("sub_score"))
        value, previous = _value(name, p.get("value")), _value(name, p.get("previous_value"))
        change = None
        if name in _NUMERIC and value is not None and previous is not None:
            change = _round(value - previous)
        scale = _int(p.get("scale")) if name == "spo2" else None
        out.append(_known(
            name=name, value=value, scale=scale if scale in (1, 2) else None,
            sub_score=sub if sub is not None and 0 <= sub <= 3 else None,
            measured_at=_time(p.get("measured_at")), device=_text(p.get("device")),
            previous_value=previous, previous_at=_time(p.get("previous_at")) if previous is not None else None,
            change=change,
        ))
    by_name = {p["name"]: p for p in out}
    return [by_name[n] for n in _chart_order(list(by_name))]


def _background(facts: dict) -> dict:
    settings = facts.get("settings") if isinstance(facts.get("settings"), dict) else {}
    risk = facts.get("risk") if isinstance(facts.get("risk"), dict) else {}
    scale = _int(settings.get("spo2_scale"))
    every = _number(settings.get("measure_every_minutes"))
    age = _number(settings.get("age"))
    reasons = [r for r in map(_text, risk.get("reasons") or []) if r] if isinstance(risk.get("reasons"), list) \
        else []
    tier = _text(risk.get("tier"))
    return _known(
        spo2_scale=scale if scale in (1, 2) else None,
        spo2_scale_prescribed_by=_text(settings.get("spo2_scale_prescribed_by")) if scale in (1, 2) else None,
        age=_round(age) if age is not None and age >= 0 else None,
        birth_date=_date(settings.get("birth_date")),
        pregnant=settings.get("pregnant") if isinstance(settings.get("pregnant"), bool) else None,
        measure_every_minutes=_round(every) if every is not None and every > 0 else None,
        risk=_known(tier=tier, reasons=reasons or None,
                    scored_at=_time(risk.get("scored_at"))) if tier is not None else None,
    )


def _round(x: int | float) -> int | float:
    """Differences of decimals without binary noise (37.8 - 37.1 is 0.7, not 0.6999999999999957)."""
    if isinstance(x, int):
        return x
    r = round(x, 6)
    return int(r) if r.is_integer() else r


# ---- render: structured ISBAR -> text ----

def render(isbar: dict, lang: str) -> str:
    """Plain text, one heading per section, every line a template filled from one field of `isbar`."""
    if lang not in _T:
        raise ValueError(f"lang {lang!r}: one of {', '.join(LANGUAGES)}")
    t = _T[lang]
    sections = (
        _identification(isbar.get("identification") or {}, t),
        _situation(isbar.get("situation") or {}, t, lang),
        _background_lines(isbar.get("background") or {}, t, lang),
        _status(isbar.get("current_status") or {}, t, lang),
        _recommendation(isbar, t, lang),
    )
    return "\n\n".join("\n".join((heading, *lines)) for heading, lines in zip(t["headings"], sections, strict=True)) \
        + "\n"


def _identification(s: dict, t: dict) -> list[str]:
    lines = [t["patient"].format(s["patient_id"])] if "patient_id" in s else []
    if "unit" in s:
        lines.append(t["unit"].format(s["unit"]))
    if "kind" in s:
        lines.append(t["flag"].format(t["kinds"].get(s["kind"], s["kind"])))
    if "observed_at" in s:
        key = "observed_last" if s.get("kind") == "MEASUREMENT_OVERDUE" else "observed"
        lines.append(t[key].format(_show_time(s["observed_at"])))
    return lines


def _situation(s: dict, t: dict, lang: str) -> list[str]:
    lines = []
    overdue = s.get("kind") == "MEASUREMENT_OVERDUE"
    o = s.get("overdue") or {}
    if "last_set_at" in o:
        lines.append(t["overdue_since"].format(_show_time(o["last_set_at"])))
    if "due_at" in o:
        lines.append(t["overdue_due"].format(_show_time(o["due_at"])))
    if "total" in s:
        band = f" ({t['bands'].get(s['band'], s['band'])})" if "band" in s else ""
        lines.append(t["total_last" if overdue else "total"].format(s["total"], band))
    if s.get("highest") and s.get("highest_sub_score", 0) < 3:
        lines.append(t["highest"].format(s["highest_sub_score"], _labels(s["highest"], lang)))
    if s.get("red_parameters"):
        lines.append(t["red_params"].format(_labels(s["red_parameters"], lang)))
    elif s.get("red"):
        lines.append(t["red_unnamed"])
    if "previous_total" in s:
        at = f" ({_show_time(s['previous_at'])})" if "previous_at" in s else ""
        lines.append(t["previous"].format(s["previous_total"], at, _change(s.get("change"), t)))
    if s.get("rising"):
        if "rise_24h" in s and "lowest_total_24h" in s:
            lines.append(t["rising"].format(_signed(s["rise_24h"], t), s["lowest_total_24h"]))
        else:
            lines.append(t["rising_plain"])
    return lines


def _background_lines(b: dict, t: dict, lang: str) -> list[str]:
    lines = []
    if "spo2_scale" in b:
        if "spo2_scale_prescribed_by" in b:
            lines.append(t["scale_by"].format(b["spo2_scale"], b["spo2_scale_prescribed_by"]))
        else:
            lines.append(t["scale"].format(b["spo2_scale"]))
    if "age" in b:
        lines.append(t["age"].format(_num(b["age"], t)))
    if "birth_date" in b:
        lines.append(t["birth_date"].format(b["birth_date"]))
    if b.get("pregnant") is True:  # not pregnant is the rule, and NEWS2 does not apply in pregnancy: no line
        lines.append(t["pregnant"])
    if "measure_every_minutes" in b:
        lines.append(t["plan"].format(_every(round(b["measure_every_minutes"] * 60), lang)))
    r = b.get("risk") or {}
    if "tier" in r:
        tier = t["tiers"].get(r["tier"], r["tier"])
        lines.append(t["risk_at"].format(tier, _show_time(r["scored_at"])) if "scored_at" in r
                     else t["risk"].format(tier))
        if r.get("reasons"):
            lines.append(t["reasons"].format("; ".join(r["reasons"])))
    if "lowest_total_24h" in b:
        lines.append(t["lowest"].format(b["lowest_total_24h"]))
    return lines


def _status(c: dict, t: dict, lang: str) -> list[str]:
    lines = [_parameter_line(p, t, lang) for p in c.get("parameters") or []]
    if c.get("missing"):
        lines.append(t["missing"].format(_labels(c["missing"], lang)))
    elif c.get("complete") is False:
        lines.append(t["incomplete"])
    if c.get("red_parameters"):
        lines.append(t["red_params"].format(_labels(c["red_parameters"], lang)))
    return lines


def _parameter_line(p: dict, t: dict, lang: str) -> str:
    name = p["name"]
    label = _label(name, lang, capital=True)
    if "scale" in p:
        label += t["scale_of"].format(p["scale"])
    parts = []
    if "value" in p:
        parts.append(_show_value(name, p["value"], t, lang))
    if "sub_score" in p:
        parts.append(t["sub_score"].format(p["sub_score"]))
    head = ", ".join(parts)
    tail = []
    if "previous_value" in p:
        prev = t["prev_value"].format(_show_value(name, p["previous_value"], t, lang))
        if "previous_at" in p:
            prev += f" ({_show_time(p['previous_at'])})"
        if "change" in p:
            prev += f", {_change(p['change'], t)}"
        tail.append(prev)
    if "measured_at" in p or "device" in p:
        measured = t["measured"].format(_show_time(p["measured_at"])) if "measured_at" in p else ""
        if "device" in p:
            measured = f"{measured} ({p['device']})" if measured else f"({p['device']})"
        tail.append(measured)
    details = "; ".join(x for x in (head, *tail) if x)
    return f"- {label}: {details}" if details else f"- {label}"


def _recommendation(isbar: dict, t: dict, lang: str) -> list[str]:
    r = isbar.get("recommendation") or {}
    lines = [t["measure_now"]] if r.get("measure_now") else []
    steps = [[CONTACTS.get(code, (code, code))[lang == "en"] for code in step] for step in r.get("contact") or []]
    if steps:
        within = _within(r.get("within_us"), lang)
        lines.append(t["contact"].format(_join([t["or"].join(s) for s in steps], t["and"]),
                                         f" {within}" if within else ""))
    elif "response" in r:
        lines.append(t["no_contact"])
    if r.get("measure_every_us"):
        lines.append(t["measure"].format(_every(r["measure_every_us"] // 1_000_000, lang)))
    own, other = ("advice_nb", "advice_en") if lang == "nb" else ("advice_en", "advice_nb")
    if r.get(own):
        lines.append(t["advice"].format(r[own]))
    elif r.get(other):
        lines.append(t["advice_other"].format(r[other]))
    if "policy_version" in isbar and "response" in r:
        level = t["bands"].get(r["response"], r["response"])
        lines.append(t["policy"].format(isbar["policy_version"], level))
    elif "policy_version" in isbar:
        lines.append(t["policy_plain"].format(isbar["policy_version"]))
    if isbar.get("policy_reviewed") is False:
        lines.append(t["default_unreviewed"] if r.get("default") else t["unit_unreviewed"])
    return lines


def _label(name: str, lang: str, capital: bool = False) -> str:
    label = PARAMETER_LABELS.get(name, (name, name))[lang == "en"]
    return label if capital or label.startswith("SpO2") else label[0].lower() + label[1:]


def _labels(names: list[str], lang: str) -> str:
    return ", ".join(_label(n, lang) for n in names)


def _join(items: list[str], and_: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + and_ + items[-1]


def _num(x, t: dict) -> str:
    """24, not 24.0; 37.8 stays (with a decimal comma in bokmål)."""
    if isinstance(x, float):
        x = _round(x)
    return str(x).replace(".", t["decimal"])


def _signed(x, t: dict) -> str:
    return ("+" if x > 0 else "") + _num(x, t)


def _change(x, t: dict) -> str:
    return t["unchanged"] if x == 0 else t["change"].format(_signed(x, t))


def _show_value(name: str, value, t: dict, lang: str) -> str:
    if name == "air_oxygen":
        return t["oxygen"] if value is True else t["air"] if value is False else str(value)
    if name == "consciousness" and value in _ACVPU:
        return f"{value} – {_ACVPU[value][lang == 'en']}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _num(value, t) + _UNIT.get(name, "")
    return str(value)


def _show_time(iso: str) -> str:
    """"2026-11-23T10:05:00Z" -> "2026-11-23 10:05 UTC"."""
    return f"{iso[:10]} {iso[11:16]} UTC" if len(iso) >= 16 else iso


def _split(seconds: int) -> tuple[int, str]:
    if seconds % 3600 == 0:
        return seconds // 3600, "h"
    if seconds % 60 == 0:
        return seconds // 60, "m"
    return seconds, "s"


def _within(us: int | None, lang: str) -> str:
    if us is None:
        return ""
    if us == 0:
        return "straks" if lang == "nb" else "immediately"
    n, unit = _split(us // 1_000_000)
    if lang == "nb":
        word = {"h": ("time", "timer"), "m": ("minutt", "minutter"), "s": ("sekund", "sekunder")}[unit]
        return f"innen {n} {word[n != 1]}"
    word = {"h": "hour", "m": "minute", "s": "second"}[unit]
    return f"within {n} {word}{'s' if n != 1 else ''}"


def _every(seconds: int, lang: str) -> str:
    n, unit = _split(max(int(seconds), 1))
    if lang == "nb":
        word = {"h": ("hver", "time"), "m": ("hvert", "minutt"), "s": ("hvert", "sekund")}[unit]
        return f"{word[0]} {word[1]}" if n == 1 else f"{word[0]} {n}. {word[1]}"
    word = {"h": "hour", "m": "minute", "s": "second"}[unit]
    return f"every {word}" if n == 1 else f"every {n} {word}s"
