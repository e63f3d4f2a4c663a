"""The store's per-patient settings (docs/patients.md): one JSON document per unit and patient, every read and
change audited by setting name. A mixin of Store: it uses Store's transaction, SQL and audit helpers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import clock

if TYPE_CHECKING:
    from .base import Caller

__all__ = ["PatientSettingsStore", "settings_query"]


def settings_query(unit: str, patients: Sequence[str]) -> tuple[str, tuple]:
    """The settings of these patients of the unit (at most 500 at once): (SQL, parameters)."""
    return (f"SELECT patient_id, settings FROM patient_settings WHERE unit = ? AND patient_id IN "
            f"({', '.join('?' * len(patients))})", (unit, *patients))


class PatientSettingsStore:
    def patient_settings(self, caller: Caller, patient_id: str) -> tuple[dict, str | None, int | None]:
        """(settings, updated_by, updated_at) of a patient in the caller's unit ({} when none); audited as a read."""
        with self.transaction() as cur:
            row = self._execute(cur, "SELECT settings, updated_by, updated_at FROM patient_settings WHERE unit = ? "
                                     "AND patient_id = ?", (caller.unit, patient_id)).fetchone()
            self.audit_call(cur, caller, "READ_SETTINGS", patient_id=patient_id)
        return (json.loads(row[0]), row[1], row[2]) if row else ({}, None, None)

    def set_patient_settings(self, caller: Caller, patient_id: str, changes: dict, clear: Sequence[str]
                             ) -> tuple[dict, str, int]:
        """Merge `changes` into the patient's settings and drop `clear`, in one audited transaction. The audit row
        names the settings changed, not their values."""
        now = clock.now_us()
        with self.transaction() as cur:
            self._lock_settings(cur, caller.unit, patient_id)
            row = self._execute(cur, "SELECT settings FROM patient_settings WHERE unit = ? AND patient_id = ?",
                                (caller.unit, patient_id)).fetchone()
            settings = json.loads(row[0]) if row else {}
            settings.update(changes)
            for name in clear:
                settings.pop(name, None)
            self._execute(cur, "INSERT INTO patient_settings (unit, patient_id, settings, updated_by, updated_at) "
                               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (unit, patient_id) DO UPDATE SET "
                               "settings = excluded.settings, updated_by = excluded.updated_by, "
                               "updated_at = excluded.updated_at",
                          (caller.unit, patient_id, json.dumps(settings, sort_keys=True), caller.actor, now))
            changed = sorted(set(changes) | set(clear))
            self.audit_call(cur, caller, "SETTINGS", patient_id=patient_id, detail=", ".join(changed))
        return settings, caller.actor, now

    def _lock_settings(self, cur, unit: str, patient_id: str) -> None:
        """Serialise two changes of one patient's settings (PostgreSQL); SQLite's write transaction already does."""
        return None

    def audit_read(self, caller: Caller, patient_id: str, what: str = "READ_READINGS") -> None:
        """One audit row for a read of a patient's data that touches no flag (the FHIR endpoint's assessments)."""
        with self.transaction() as cur:
            self.audit_call(cur, caller, what, patient_id=patient_id)

    def settings_for(self, unit: str, patients: Sequence[str]) -> dict[str, dict]:
        """Settings of these patients of the unit, for scoring their observations (not a person's read)."""
        if not patients:
            return {}
        out = {}
        with self.transaction(write=False) as cur:
            unique = sorted(set(patients))
            for start in range(0, len(unique), 500):
                part = unique[start:start + 500]
                rows = self._execute(cur, *settings_query(unit, part)).fetchall()
                out.update((p, json.loads(text)) for p, text in rows)
        return out
