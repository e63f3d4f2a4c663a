"""The store's home follow-up (docs/home.md): the readings observation sets are assembled from, each patient's newest
set and when the next is due, and the MEASUREMENT_OVERDUE flags. A mixin of Store: it uses Store's transaction, SQL,
event and audit helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .. import clock
from ._patients import settings_query

if TYPE_CHECKING:
    from .base import Caller

__all__ = ["FollowUpStore", "OVERDUE", "SYSTEM"]

OVERDUE = "MEASUREMENT_OVERDUE"
SYSTEM = "varde"  # the actor of what the server does by itself (raise or clear an overdue flag)


class FollowUpStore:
    def _lock_patient_keys(self, cur, unit: str, patients: Sequence[str]) -> None:
        """Serialise transactions on the same patients, new ones included (PostgreSQL: advisory locks in sorted
        order); SQLite's write transaction already does."""
        return None

    def readings_between(self, cur, unit: str, patients: Sequence[str], lo: int, hi: int) -> dict[str, list]:
        """(measured_at, seq, device, reading JSON) per patient, measured in [lo, hi]."""
        _, history, _ = self.assembly_reads(cur, unit, patients, lo, hi, settings=False, follow_up=False)
        return history

    def assembly_reads(self, cur, unit: str, patients: Sequence[str], lo: int, hi: int, *, settings: bool = True,
                       follow_up: bool = True) -> tuple[dict[str, dict], dict[str, list], dict[str, tuple]]:
        """What assembling a push reads under its patients' locks: their settings (settings_for), their readings
        measured in [lo, hi] (readings_between) and their follow-up rows (patient -> (newest set's time, the set
        an overdue flag was raised for or None, the set's total)); in one round trip where the store can send
        several statements before reading their answers."""
        queries = []
        for start in range(0, len(patients), 500):
            part = list(patients[start:start + 500])
            marks = ", ".join("?" * len(part))
            queries.append(("readings", f"SELECT patient_id, measured_at, seq, device, reading FROM readings WHERE "
                                        f"unit = ? AND patient_id IN ({marks}) AND measured_at >= ? AND "
                                        f"measured_at <= ?", (unit, *part, lo, hi)))
            if settings:
                queries.append(("settings", *settings_query(unit, part)))
            if follow_up:
                queries.append(("follow_up", f"SELECT patient_id, last_set_at, overdue_for, total FROM follow_up "
                                             f"WHERE unit = ? AND patient_id IN ({marks})", (unit, *part)))
        history: dict[str, list] = {p: [] for p in patients}
        found_settings: dict[str, dict] = {}
        rows: dict[str, tuple] = {}
        for (what, _, _), answer in zip(queries, self._read_many(cur, [(q, a) for _, q, a in queries]), strict=True):
            if what == "readings":
                for patient, *rest in answer:
                    history[patient].append(tuple(rest))
            elif what == "settings":
                found_settings.update((p, json.loads(text)) for p, text in answer)
            else:
                rows.update((p, (t, o, total)) for p, t, o, total in answer)
        return found_settings, history, rows

    def _read_many(self, cur, queries: list[tuple[str, tuple]]) -> list[list[tuple]]:
        """The rows of each query, in order (a store that can pipeline sends them all before reading any)."""
        return [self._execute(cur, text, params).fetchall() for text, params in queries]

    def insert_readings(self, cur, unit: str, rows: list[tuple[str, int, int, str, str]]) -> None:
        """(patient_id, measured_at, received_at, device, reading JSON) per accepted reading."""
        self._insert_rows(cur, "readings", ("unit", "patient_id", "measured_at", "received_at", "device", "reading"),
                          [(unit, *r) for r in rows])

    def resolved_sets(self, cur, unit: str, patients: Sequence[str], also: Sequence[tuple[str, tuple]] = ()
                      ) -> tuple[dict[tuple[str, str], int], list[list[tuple]]]:
        """(patient, kind) -> the set of the patient's newest resolved flag of that kind, for sets that raised one;
        and the rows of each of `also` (further reads, as (SQL, parameters)), sent in the same round trip where the
        store can."""
        queries = [(f"SELECT patient_id, kind, set_started_at FROM flags WHERE unit = ? AND patient_id IN "
                    f"({', '.join('?' * len(part))}) AND state = 'RESOLVED' AND set_started_at IS NOT NULL "
                    "ORDER BY resolved_at", (unit, *part))
                   for part in (list(patients[k:k + 500]) for k in range(0, len(patients), 500))]
        answers = self._read_many(cur, [*queries, *also])
        out: dict[tuple[str, str], int] = {}
        for rows in answers[:len(queries)]:
            out.update(((p, k), t) for p, k, t in rows)
        return out, answers[len(queries):]

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
        cur.executemany(self._sql(
            "INSERT INTO follow_up (unit, patient_id, last_set_at, band, red, total, due_at, overdue_for) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (unit, patient_id) DO UPDATE SET "
            "last_set_at = excluded.last_set_at, band = excluded.band, red = excluded.red, total = excluded.total, "
            "due_at = excluded.due_at, overdue_for = NULL"),
            [(unit, p, t, band, int(red), total, due) for p, t, band, red, total, due in rows])

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
