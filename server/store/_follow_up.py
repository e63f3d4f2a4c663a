"""The store's home follow-up (docs/home.md): the readings observation sets are assembled from, each patient's newest
set and when the next is due, and the MEASUREMENT_OVERDUE flags. A mixin of Store: it uses Store's transaction, SQL,
event and audit helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import clock

if TYPE_CHECKING:
    from .base import Caller

__all__ = ["AssemblyReads", "FollowUpStore", "OVERDUE", "SYSTEM"]

OVERDUE = "MEASUREMENT_OVERDUE"
SYSTEM = "varde"  # the actor of what the server does by itself (raise or clear an overdue flag)


@dataclass
class AssemblyReads:
    """What FollowUpStore.assembly_reads found for a push's patients."""

    settings: dict[str, dict]  # patient -> settings (settings_for)
    history: dict[str, list]  # patient -> [(measured_at, seq, device, reading JSON)] in the window
    follow_up: dict[str, tuple]  # patient -> (newest set's time, the set an overdue flag is for or None, its total)
    resolved: dict[tuple[str, str], int]  # (patient, kind) -> the set of its newest resolved flag, if it had one
    kept: list[tuple]  # (patient, kind, worst_total) of open flags that keep an ISBAR message
    risk: list[tuple]  # (patient, state, updated_at): risk_state rows


class FollowUpStore:
    def _lock_patient_keys(self, cur, unit: str, patients: Sequence[str]) -> None:
        """Serialise transactions on the same patients, new ones included (PostgreSQL: advisory locks in sorted
        order); SQLite's write transaction already does."""
        return None

    def readings_between(self, cur, unit: str, patients: Sequence[str], lo: int, hi: int) -> dict[str, list]:
        """(measured_at, seq, device, reading JSON) per patient, measured in [lo, hi]."""
        return self.assembly_reads(cur, unit, patients, lo, hi, settings=False, follow_up=False).history

    def assembly_reads(self, cur, unit: str, patients: Sequence[str], lo: int, hi: int, *, settings: bool = True,
                       follow_up: bool = True, flags: bool = False) -> AssemblyReads:
        """What assembling a push reads under its patients' locks (assembly_queries), read now."""
        queries = self.assembly_queries(unit, patients, lo, hi, settings=settings, follow_up=follow_up, flags=flags)
        return self.assembly_rows(patients, self._read_many(cur, queries))

    def assembly_queries(self, unit: str, patients: Sequence[str], lo: int, hi: int, *, settings: bool = True,
                         follow_up: bool = True, flags: bool = False) -> list[tuple[str, tuple]]:
        """What assembling a push reads under its patients' locks, one statement per 500 patients: their readings
        measured in [lo, hi]; with `settings` their settings; with `follow_up` their follow-up rows; with `flags`
        what raising flags for their sets may need (the resolved flags' sets, and the kept ISBAR messages and risk
        tiers FollowUp.with_isbar reads). A push's statements cost more in the server than in the database, so the
        few rows a push does not need (it finds nothing) are cheaper read than asked for again.
        assembly_rows makes AssemblyReads of the answers."""
        queries = []
        for start in range(0, len(patients), 500):
            part = list(patients[start:start + 500])
            where = f"unit = ? AND patient_id IN ({', '.join('?' * len(part))})"
            # tag, patient, three integers, two texts, a blob: every branch's rows in one shape, typed by the first
            parts = [("SELECT 0, patient_id, measured_at, seq, CAST(NULL AS BIGINT), device, reading, "
                      f"CAST(NULL AS {self.blob}) FROM readings "
                      f"WHERE {where} AND measured_at >= ? AND measured_at <= ?", (unit, *part, lo, hi))]
            if settings:
                parts.append((f"SELECT 1, patient_id, NULL, NULL, NULL, settings, NULL, NULL FROM patient_settings "
                              f"WHERE {where}", (unit, *part)))
            if follow_up:
                parts.append(("SELECT 2, patient_id, last_set_at, overdue_for, total, NULL, NULL, NULL FROM follow_up "
                              f"WHERE {where}", (unit, *part)))
            if flags:
                parts += [
                    ("SELECT 3, patient_id, set_started_at, resolved_at, NULL, kind, NULL, NULL FROM flags "
                     f"WHERE {where} AND state = 'RESOLVED' AND set_started_at IS NOT NULL", (unit, *part)),
                    ("SELECT 4, patient_id, worst_total, NULL, NULL, kind, NULL, NULL FROM flags "
                     f"WHERE {where} AND state <> 'RESOLVED' AND isbar IS NOT NULL", (unit, *part)),
                    ("SELECT 5, patient_id, updated_at, NULL, NULL, NULL, NULL, state FROM risk_state "
                     f"WHERE {where}", (unit, *part))]
            queries.append((" UNION ALL ".join(q for q, _ in parts), tuple(a for _, args in parts for a in args)))
        return queries

    @staticmethod
    def assembly_rows(patients: Sequence[str], answers: list[list[tuple]]) -> AssemblyReads:
        """AssemblyReads of the answers to assembly_queries."""
        out = AssemblyReads({}, {p: [] for p in patients}, {}, {}, [], [])
        resolved = []
        for rows in answers:
            for tag, patient, a, b, c, text, reading, blob in rows:
                if tag == 0:
                    out.history[patient].append((a, b, text, reading))
                elif tag == 1:
                    out.settings[patient] = json.loads(text)
                elif tag == 2:
                    out.follow_up[patient] = (a, b, c)
                elif tag == 3:
                    resolved.append((b, patient, text, a))
                elif tag == 4:
                    out.kept.append((patient, text, a))
                else:
                    out.risk.append((patient, blob, a))
        # the newest resolved flag of each kind wins
        out.resolved.update(((p, k), t) for _, p, k, t in sorted(resolved, key=lambda r: r[0]))
        return out

    def _read_many(self, cur, queries: list[tuple[str, tuple]]) -> list[list[tuple]]:
        """The rows of each query, in order (a store that can pipeline sends them all before reading any)."""
        return [self._execute(cur, text, params).fetchall() for text, params in queries]

    def insert_readings(self, cur, unit: str, rows: list[tuple[str, int, int, str, str]]) -> None:
        """(patient_id, measured_at, received_at, device, reading JSON) per accepted reading."""
        self._insert_rows(cur, "readings", ("unit", "patient_id", "measured_at", "received_at", "device", "reading"),
                          [(unit, *r) for r in rows])

    def mark_sets(self, cur, rows: list[tuple[int, int]]) -> None:
        """(set start, flag id) per flag a set raised or updated."""
        cur.executemany(self._sql("UPDATE flags SET set_started_at = ? WHERE id = ?"), rows)

    def forget_readings(self, before_us: int) -> int:
        """Drop readings received before `before_us` (Varde is not the journal: it keeps what assembly and ISBAR
        need)."""
        with self.transaction() as cur:
            return self._execute(cur, "DELETE FROM readings WHERE received_at < ?", (before_us,)).rowcount

    def follow_up_of(self, cur, unit: str, patients: Sequence[str]) -> dict[str, tuple[int, int | None]]:
        """patient -> (time of the newest set, the set an overdue flag was raised for or None)."""
        out = {}
        for start in range(0, len(patients), 500):
            part = list(patients[start:start + 500])
            out.update((p, (t, o)) for p, t, o in self._execute(
                cur, f"SELECT patient_id, last_set_at, overdue_for FROM follow_up WHERE unit = ? AND patient_id IN "
                     f"({', '.join('?' * len(part))})", (unit, *part)).fetchall())
        return out

    def save_follow_up(self, cur, unit: str, rows: list[tuple[str, int, str | None, bool, int | None, int | None]]
                       ) -> None:
        """(patient_id, newest set time, its band, red, total, next due time or None) per patient whose newest set
        moved on: it is no longer overdue."""
        for start in range(0, len(rows), 500):  # one statement for a push's few patients
            part = rows[start:start + 500]
            self._execute(cur, "INSERT INTO follow_up (unit, patient_id, last_set_at, band, red, total, due_at, "
                               f"overdue_for) VALUES {', '.join(['(?, ?, ?, ?, ?, ?, ?, NULL)'] * len(part))} "
                               "ON CONFLICT (unit, patient_id) DO UPDATE SET last_set_at = excluded.last_set_at, "
                               "band = excluded.band, red = excluded.red, total = excluded.total, "
                               "due_at = excluded.due_at, overdue_for = NULL",
                          tuple(v for p, t, band, red, total, due in part
                                for v in (unit, p, t, band, int(red), total, due)))

    def clear_overdue(self, cur, unit: str, patients: Sequence[str], note: str) -> list[int]:
        """Resolve the patients' open MEASUREMENT_OVERDUE flags: a reading arrived. Audited as the server's."""
        if not patients:
            return []
        self._lock_events(cur)  # before the flags' rows, in the order a claim takes them
        now = clock.now_us()
        ids = []
        for patient in patients:
            row = self._execute(cur, "UPDATE flags SET state = 'RESOLVED', resolved_at = ?, resolution_note = ?, "
                                     "outcome = 'READING_ARRIVED', claimed_by = coalesce(claimed_by, ?), "
                                     "updated_at = ? WHERE unit = ? AND patient_id = ? AND kind = ? AND "
                                     "state <> 'RESOLVED' RETURNING id",
                                (now, note, SYSTEM, now, unit, patient, OVERDUE)).fetchone()
            if row:
                ids.append(row[0])
        if ids:
            self._insert_rows(cur, "flag_events", ("flag_id", "type", "at"), [(i, "RESOLVED", now) for i in ids])
            self._audit(cur, _system(unit), "RESOLVE", ids, "READING_ARRIVED")
        return ids

    def raise_overdue(self, make: Callable[[tuple], tuple[int, str, str | None]], limit: int = 1000
                      ) -> list[tuple[int, str, int]]:
        """MEASUREMENT_OVERDUE for every patient whose next set is due and not yet flagged for this gap, once even
        with several servers: the gap is marked in the same transaction, which takes the event lock first.

        `make(row)` gives (severity, assessment JSON, ISBAR JSON) from the follow-up row (unit, patient_id,
        last_set_at, band, red, total, due_at). Returns (flag id, unit, severity) of the flags raised."""
        now = clock.now_us()
        raised = []
        with self.transaction() as cur:
            self._lock_events(cur)
            rows = self._execute(cur, "SELECT unit, patient_id, last_set_at, band, red, total, due_at FROM follow_up "
                                      "WHERE due_at <= ? AND overdue_for IS NULL ORDER BY unit, patient_id LIMIT ?",
                                 (now, limit)).fetchall()
            for row in rows:
                unit, patient, last = row[0], row[1], row[2]
                severity, assessment, isbar = make(row)
                got = self._execute(cur, (
                    "INSERT INTO flags (unit, patient_id, kind, severity, state, assessment, worst_total, source, "
                    "raised_by, occurrences, created_at, updated_at, isbar) VALUES (?, ?, ?, ?, 'OPEN', ?, 0, ?, ?, 1, "
                    "?, ?, ?) ON CONFLICT (unit, patient_id, kind) WHERE state <> 'RESOLVED' DO NOTHING RETURNING id"),
                    (unit, patient, OVERDUE, severity, assessment, SYSTEM, SYSTEM, now, now, isbar)).fetchone()
                self._execute(cur, "UPDATE follow_up SET overdue_for = ? WHERE unit = ? AND patient_id = ?",
                              (last, unit, patient))
                if got:
                    raised.append((got[0], unit, severity))
            if raised:
                self._insert_rows(cur, "flag_events", ("flag_id", "type", "at"), [(i, "RAISED", now)
                                                                                  for i, _, _ in raised])
                for flag_id, unit, _ in raised:
                    self._audit(cur, _system(unit), "RAISE", [flag_id], OVERDUE)
        return raised


def _system(unit: str) -> Caller:
    from .base import Caller

    return Caller(SYSTEM, unit, "")
