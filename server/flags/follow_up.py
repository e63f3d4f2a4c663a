"""Home follow-up around the assembled observation sets (docs/home.md): when each patient's next set is due and the
MEASUREMENT_OVERDUE flag when it does not come; the ISBAR message of every NEWS2 flag, from the set, the patient's
settings, history and risk, and the unit's response policy."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import replace

import numpy as np
import pyarrow as pa

from varde.scoring.risk.policy import TIERS
from varde.scoring.schema import PARAMETERS
from varde.scoring.trend import DAY_US

from ..store._follow_up import OVERDUE
from ..store.base import Findings, Store
from . import assembly, isbar
from ._rounds import Rounds
from .response import ResponsePolicies
from .rules import KINDS

__all__ = ["FollowUp", "OverdueWatcher"]

# observation field -> NEWS2 parameter name (chart order)
_PARAMETER = dict(zip(assembly.PARAMETER_FIELDS, PARAMETERS, strict=True))


def iso(us: int | None) -> str | None:
    if us is None:
        return None
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FollowUp:
    """Due times and ISBAR, for one server. `grace_us` is added to every due time (a reading a few minutes late is
    not overdue)."""

    def __init__(self, policies: ResponsePolicies | None = None, grace_us: int = 15 * 60 * 1_000_000,
                 metrics=None):
        self.policies = policies or ResponsePolicies(None)
        self.grace_us = grace_us
        self.metrics = metrics

    # -- due times ----------------------------------------------------------------------------------------------

    def interval_us(self, unit: str, band: str | None, red: bool, settings: dict | None) -> int | None:
        """How long until the next set is due: the band's frequency in the unit's response policy, or the
        patient's plan when it asks for more. None: never (no plan and no band)."""
        options = []
        if band is not None:
            every = self.policies.for_unit(unit).measure_every_us(band, red)
            if every:
                options.append(every)
        minutes = (settings or {}).get("measure_every_minutes")
        if minutes:
            options.append(int(minutes) * 60_000_000)
        return min(options) if options else None

    def after_sets(self, store: Store, cur, unit: str, scored: pa.Table, sets: list[assembly.AssembledSet],
                   patients: list[str], settings: dict[str, dict], known: dict | None = None) -> list[int]:
        """Inside the push's transaction: each patient's newest set and next due time; an open MEASUREMENT_OVERDUE
        flag of a patient whose newest set moved on is resolved. Returns the ids of the flags resolved.

        `known` is follow_up_of for these patients if the caller read it already in this transaction."""
        newest: dict[str, int] = {}
        for i, (patient, s) in enumerate(zip(patients, sets, strict=True)):
            if patient not in newest or s.at >= sets[newest[patient]].at:
                newest[patient] = i
        if known is None:
            known = store.follow_up_of(cur, unit, sorted(newest))
        bands = scored.column("news2_band").to_pylist()  # dictionary-encoded: its values as text
        red = scored.column("news2_red").to_pylist()
        total = scored.column("news2_total").to_pylist()
        rows, moved = [], []
        for patient, i in sorted(newest.items()):
            at = sets[i].at
            if patient in known and known[patient][0] >= at:
                continue  # a late reading: the newest set is still the newest
            every = self.interval_us(unit, bands[i], bool(red[i]), settings.get(patient))
            rows.append((patient, at, bands[i], bool(red[i]), total[i], at + every + self.grace_us if every else None))
            moved.append(patient)
        if rows:
            store.save_follow_up(cur, unit, rows)
        # only a patient an overdue flag was raised for can have one open (raise_overdue records the set it was for)
        overdue = [p for p in moved if p in known and known[p][1] is not None]
        cleared = store.clear_overdue(cur, unit, overdue, "a new observation set arrived") if overdue else []
        if self.metrics is not None and cleared:
            self.metrics.overdue_cleared.inc(len(cleared))
        return cleared

    def overdue_flag(self, row: tuple) -> tuple[int, str, str]:
        """(severity, assessment JSON, ISBAR JSON) of a MEASUREMENT_OVERDUE flag, from its follow-up row."""
        unit, patient, last, band, red, total, due = row
        severity = 3 if band == "HIGH" else 2 if band == "MEDIUM" or red else 1
        assessment = {"last_set_at": iso(last), "due_at": iso(due), "news2_band": band, "news2_total": total,
                      "news2_red": bool(red)}
        facts = {"patient_id": patient, "unit": unit, "kind": OVERDUE, "band": band, "total": total,
                 "red": bool(red), "overdue": {"last_set_at": iso(last), "due_at": iso(due)}}
        text = json.dumps(isbar.build(facts, self.policies.for_unit(unit)), ensure_ascii=False)
        return severity, json.dumps(assessment, separators=(",", ":")), text

    # -- ISBAR --------------------------------------------------------------------------------------------------

    def isbar_of(self, flag) -> dict | None:
        """A flag's ISBAR message: as stored (pushes, overdue), or built now from the assessment a batch stored
        with its measurements (building it for every flag of a million-row batch would cost more than the commit)."""
        if flag.isbar:
            return json.loads(flag.isbar)
        if flag.kind not in KINDS:
            return None
        a = json.loads(flag.assessment)
        if a.get("news2_total") is None or a.get("news2_band") is None:
            return None
        values = a.get("values") or {}
        subs = a.get("sub_scores") or {}
        parameters = []
        for name, param in _PARAMETER.items():
            if values.get(name) is None:
                continue
            entry = {"name": param, "value": values[name], "sub_score": subs.get(param)}
            if param == "spo2":
                entry["scale"] = 2 if values.get("spo2_scale") == 2 else 1
            parameters.append(entry)
        facts = {"patient_id": flag.patient_id, "unit": flag.unit, "kind": flag.kind,
                 "observed_at": a.get("observed_at"), "total": a["news2_total"], "band": a["news2_band"],
                 "red": bool(a.get("news2_red")), "complete": bool(a.get("news2_complete")),
                 "missing": [m for m in (a.get("news2_missing") or "").split(";") if m],
                 "rising": bool(a.get("rising")), "parameters": parameters,
                 "lowest_total_24h": a.get("lowest_total_24h")}
        if values.get("age") is not None:
            facts["settings"] = {"age": values["age"]}
        return isbar.build(facts, self.policies.for_unit(flag.unit))

    def with_isbar(self, cur, store: Store, unit: str, found: Findings, scored: pa.Table,
                   sets: list[assembly.AssembledSet], readings: dict[str, list[assembly.Reading]],
                   baseline: np.ndarray, rising: np.ndarray, settings: dict[str, dict],
                   newest_sets: dict[str, tuple[int, int | None]], kept_rows: list[tuple], risk_rows: list[tuple]
                   ) -> Findings:
        """The findings with the ISBAR message of each NEWS2 one, built from fields only (flags/isbar.py).

        From the assembly's read (Store.assembly_queries with flags), for these patients or more: `newest_sets` maps
        patient -> (time, total) of their newest set before this call, `kept_rows` are the open flags that keep an
        ISBAR message, `risk_rows` their risk_state rows."""
        if not len(found) or found.scored_rows is None:
            return found
        policy = self.policies.for_unit(unit)
        # (patient, kind) -> worst total of the open flag whose ISBAR message a new finding would not replace
        kept = {(p, k): w for p, k, w in kept_rows}
        older_of: dict[tuple[str, int, int], list[assembly.Reading]] = {}  # one read per set, however many kinds
        tiers = _risk(store, cur, unit, risk_rows)
        cols = {c: scored.column(c).to_pylist() for c in ("news2_total", "news2_red", "news2_complete",
                                                          "news2_missing", *(f"news2_{p}" for p in PARAMETERS))}
        bands = scored.column("news2_band").to_pylist()
        out = []
        for patient, kind, row, worst in zip(found.patient_ids, found.kinds, found.scored_rows, found.worst_total,
                                             strict=True):
            if kind not in KINDS or kept.get((patient, kind), -1) >= worst:
                out.append(None)  # the open flag keeps the message of a set as bad or worse (the upsert's rule)
                continue
            s = sets[row]
            key = (patient, s.at, s.started_at)
            if key not in older_of:
                older_of[key] = _older_readings(store, cur, unit, patient, s)
            older = older_of[key]
            previous = assembly.previous_values(readings.get(patient, []) + older, s)
            parameters = []
            for name in assembly.PARAMETER_FIELDS:
                if name not in s.values:
                    continue
                param = _PARAMETER[name]
                entry = {"name": param, "value": s.values[name], "sub_score": cols[f"news2_{param}"][row],
                         "measured_at": iso(s.parts[name][0]), "device": s.parts[name][1] or None}
                if name in previous:
                    entry["previous_value"], entry["previous_at"] = previous[name][0], iso(previous[name][1])
                if name == "spo2":
                    entry["scale"] = int((settings.get(patient) or {}).get("spo2_scale")
                                         or s.values.get("spo2_scale") or 1)
                parameters.append(entry)
            facts = {
                "patient_id": patient, "unit": unit, "kind": kind, "observed_at": iso(s.at),
                "total": cols["news2_total"][row], "band": bands[row], "red": bool(cols["news2_red"][row]),
                "complete": bool(cols["news2_complete"][row]),
                "missing": [_PARAMETER.get(m, m) for m in (cols["news2_missing"][row] or "").split(";") if m],
                "rising": bool(rising[row]), "parameters": parameters,
                "settings": settings.get(patient) or None, "risk": tiers.get(patient),
            }
            last = newest_sets.get(patient)
            if last is not None and last[0] < s.at and last[1] is not None:
                facts["previous_total"], facts["previous_at"] = last[1], iso(last[0])
            if baseline[row] >= 0:
                facts["lowest_total_24h"] = int(baseline[row])
            out.append(json.dumps(isbar.build(facts, policy), ensure_ascii=False))
        return replace(found, isbar=out)


def risk_of(store: Store, cur, unit: str, patients: list[str]) -> dict[str, dict]:
    """The latest complex-needs risk tier of each of these patients that has one, with its newest reasons."""
    rows = store._execute(cur, f"SELECT patient_id, state, updated_at FROM risk_state WHERE unit = ? AND patient_id "
                               f"IN ({', '.join('?' * len(patients))})", (unit, *patients)).fetchall()
    return _risk(store, cur, unit, rows)


def _risk(store: Store, cur, unit: str, rows: list[tuple]) -> dict[str, dict]:
    """The latest complex-needs risk tier of each patient that has one (`rows`: their risk_state rows), with the
    reasons of its newest risk flag."""
    out = {}
    for patient, state, at in rows:
        tier = bytes(state)[0]
        if tier < len(TIERS):
            out[patient] = {"tier": TIERS[tier], "scored_at": iso(at)}
            flag = store._execute(cur, "SELECT assessment FROM flags WHERE unit = ? AND patient_id = ? AND kind "
                                       "LIKE ? ORDER BY created_at DESC LIMIT 1", (unit, patient, "RISK_%")).fetchone()
            if flag:
                reasons = json.loads(flag[0]).get("risk_reasons")
                if isinstance(reasons, list) and reasons:
                    out[patient]["reasons"] = [str(r) for r in reasons][:5]
    return out


def _older_readings(store: Store, cur, unit: str, patient: str, s: assembly.AssembledSet
                    ) -> list[assembly.Reading]:
    """Readings of the day before the set, newest first, enough to find each parameter's previous value."""
    rows = store._execute(cur, "SELECT measured_at, seq, device, reading FROM readings WHERE unit = ? AND "
                               "patient_id = ? AND measured_at >= ? AND measured_at < ? ORDER BY measured_at DESC "
                               "LIMIT 200", (unit, patient, s.at - DAY_US, s.started_at)).fetchall()
    return [assembly.Reading(t, seq, device, assembly.decode(text)) for t, seq, device, text in rows]


class OverdueWatcher(Rounds):
    """Raises MEASUREMENT_OVERDUE every `every` seconds for the patients whose next set is due. Several servers on
    one store may run one each: the store marks each gap in the transaction that raises it."""

    what = "overdue"

    def __init__(self, store: Store, follow_up: FollowUp, metrics, stopping: threading.Event, every: float = 5.0):
        super().__init__(stopping, every)
        self._store, self._follow_up, self._metrics = store, follow_up, metrics

    def run_once(self) -> int:
        raised = self._store.raise_overdue(self._follow_up.overdue_flag)
        if raised and self._metrics is not None:
            self._metrics.overdue_raised.inc(len(raised))
            self._metrics.flags_raised.inc(len(raised))
        return len(raised)

