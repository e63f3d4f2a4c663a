"""Per-patient settings: what a clinician prescribes or records once (SpO2 scale 2, age or birth date, pregnancy,
the measurement plan), used by every push for the patient, and the team that follows the patient up (for the
console's queue). Every read and change is audited."""

from __future__ import annotations

import datetime as dt
import unicodedata

import grpc

from varde._proto.varde.v1 import patients_pb2 as pb
from varde._proto.varde.v1 import patients_pb2_grpc

from .._rpc import unary
from ..auth import identity_of
from ..errors import RequestError
from ..metrics import Metrics
from ..store.base import Caller, Store, now_us

__all__ = ["PatientsService", "apply_settings"]

CLEARABLE = ("spo2_scale", "age", "birth_date", "pregnant", "measure_every_minutes", "team")


def _bad(message: str, field: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, message, field=field)


def _patient(patient_id: str) -> str:
    if not patient_id or len(patient_id) > 256:
        raise _bad("patient_id must be 1-256 characters", "patient_id")
    return patient_id


def _changes(u: pb.PatientSettingsUpdate) -> dict:
    changes = {}
    if u.HasField("spo2_scale"):
        if u.spo2_scale not in (1, 2):
            raise _bad("spo2_scale must be 1 or 2", "spo2_scale")
        if u.spo2_scale == 2 and not u.spo2_scale_prescribed_by.strip():
            raise _bad("SpO2 scale 2 is a prescription: say who prescribed it (spo2_scale_prescribed_by)",
                       "spo2_scale_prescribed_by")
        changes["spo2_scale"] = u.spo2_scale
        changes["spo2_scale_prescribed_by"] = u.spo2_scale_prescribed_by.strip()[:200]
        changes["spo2_scale_prescribed_at"] = now_us()
    if u.HasField("age"):
        if not 0 <= u.age <= 130:
            raise _bad("age must be 0-130 years", "age")
        changes["age"] = u.age
    if u.HasField("birth_date"):
        try:
            born = dt.date.fromisoformat(u.birth_date)
        except ValueError:
            raise _bad(f"birth_date {u.birth_date[:40]!r} is not a date (YYYY-MM-DD)", "birth_date") from None
        if not dt.date(1880, 1, 1) <= born <= dt.date.today():
            raise _bad("birth_date must be between 1880-01-01 and today", "birth_date")
        changes["birth_date"] = born.isoformat()
    if u.HasField("pregnant"):
        changes["pregnant"] = u.pregnant
    if u.HasField("measure_every_minutes"):
        if not 1 <= u.measure_every_minutes <= 7 * 24 * 60:
            raise _bad("measure_every_minutes must be 1 to 10,080 (a week)", "measure_every_minutes")
        changes["measure_every_minutes"] = u.measure_every_minutes
    if u.HasField("team"):
        changes["team"] = _team(u.team)
    unknown = [c for c in u.clear if c not in CLEARABLE]
    if unknown:
        raise _bad(f"cannot clear {unknown}; clearable: {', '.join(CLEARABLE)}", "clear")
    both = set(changes) & set(u.clear)
    if both:
        raise _bad(f"{sorted(both)} both set and cleared", "clear")
    return changes


def _team(text: str) -> str:
    """A team's name as the unit writes it, trimmed; no control or format characters (the console shows it, and a
    line break or a bidirectional override would let one name pass for another)."""
    team = text.strip()
    if not 1 <= len(team) <= 80:
        raise _bad("team must be 1-80 characters (use clear to remove it)", "team")
    if any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") for c in team):
        raise _bad("team may not hold control characters", "team")
    return team


def _message(patient_id: str, unit: str, settings: dict, by: str | None, at: int | None) -> pb.PatientSettings:
    msg = pb.PatientSettings(patient_id=patient_id, unit=unit, updated_by=by or "",
                             spo2_scale_prescribed_by=settings.get("spo2_scale_prescribed_by", ""),
                             birth_date=settings.get("birth_date", ""), team=settings.get("team", ""))
    for name in ("spo2_scale", "age", "pregnant", "measure_every_minutes"):
        if name in settings:
            setattr(msg, name, settings[name])
    if settings.get("spo2_scale_prescribed_at"):
        msg.spo2_scale_prescribed_at.FromMicroseconds(settings["spo2_scale_prescribed_at"])
    if at:
        msg.updated_at.FromMicroseconds(at)
    return msg


def apply_settings(obs, settings: dict) -> None:
    """Fill an Observation from its patient's settings: they are the clinician's and win over what a device sent."""
    if "spo2_scale" in settings:
        obs.spo2_scale = settings["spo2_scale"]
    if "pregnant" in settings:
        obs.pregnant = settings["pregnant"]
    if "birth_date" in settings:
        born = dt.date.fromisoformat(settings["birth_date"])
        when = obs.observed_at.ToDatetime().date() if obs.HasField("observed_at") else dt.date.today()
        obs.age = max(0, when.year - born.year - ((when.month, when.day) < (born.month, born.day)))
    elif "age" in settings:
        obs.age = settings["age"]


class PatientsService(patients_pb2_grpc.PatientsServicer):
    def __init__(self, metrics: Metrics, store: Store):
        self.metrics = metrics
        self._store = store

    def _caller(self, context, method: str) -> Caller:
        identity = identity_of(context)
        return Caller(identity.actor, identity.unit, method)

    @unary("GetPatientSettings")
    def GetPatientSettings(self, request, context, where):
        caller = self._caller(context, "GetPatientSettings")
        settings, by, at = self._store.patient_settings(caller, _patient(request.patient_id))
        return _message(request.patient_id, caller.unit, settings, by, at)

    @unary("SetPatientSettings")
    def SetPatientSettings(self, request, context, where):
        caller = self._caller(context, "SetPatientSettings")
        patient = _patient(request.patient_id)
        changes = _changes(request)
        if not changes and not request.clear:
            raise _bad("nothing to change: set a field or name one in clear", "clear")
        settings, by, at = self._store.set_patient_settings(caller, patient, changes, list(request.clear))
        return _message(patient, caller.unit, settings, by, at)
