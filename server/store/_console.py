"""The store's side of the coordinators' browser console (docs/flags.md#the-console): notes on a flag, escalation by
hand, a flag's timeline, reminders and escalations of claimed flags nobody resolves, console users and sessions,
and the reads the console's pages need. A mixin of Store: it uses Store's transaction, SQL, event and audit helpers.

Every read or change of a flag or a patient is audited like the gRPC API's; clinical free text (a note, a reason)
stays with the flag and is never copied into the audit trail. The store keeps only hashes of passwords and session
ids: hashing is the console's.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import clock

if TYPE_CHECKING:
    from .base import Caller, FlagRow

__all__ = ["ConsoleSession", "ConsoleStore", "ConsoleUser", "ROLES", "TimelineEntry"]

ROLES = ("viewer", "coordinator", "admin")
RESOLVED_WINDOW_US = 24 * 3600 * 1_000_000  # status_counts counts flags resolved in the last 24 hours
SERVER_RESOLVED = "READING_ARRIVED"  # the outcome of a flag the server resolved itself (not a coordinator's work)


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a flag: when, what (an event type: RAISED, CLAIMED, NOTED, ...), who (None: the
    server's own rounds) and its detail (the release reason, the outcome, the note's text)."""

    at: int
    what: str
    actor: str | None
    detail: str | None


@dataclass(frozen=True)
class ConsoleUser:
    username: str
    unit: str
    role: str  # viewer, coordinator or admin
    password_hash: str
    display_name: str
    created_at: int
    disabled: bool


@dataclass(frozen=True)
class ConsoleSession:
    id_hash: str  # a hash of the session id the browser holds; the id itself is never stored
    username: str
    csrf: str
    created_at: int
    seen_at: int


_USER_COLUMNS = "username, unit, role, password_hash, display_name, created_at, disabled"
_SESSION_COLUMNS = "id_hash, username, csrf, created_at, seen_at"


def _user(row) -> ConsoleUser:
    return ConsoleUser(*row[:6], bool(row[6]))


def _median_seconds(values: list[int]) -> float | None:
    return statistics.median(values) / 1e6 if values else None


class ConsoleStore:
    # -- flags: notes, escalation by hand, timeline ------------------------------------------------------------

    def add_note(self, flag_id: int, caller: Caller, text: str) -> int:
        """Add a note to a flag of the caller's unit, in any state; the note's id. A NOTED event tells watchers the
        flag changed; the audit row says a note was added, not what it says."""
        from .base import StoreError

        if not text or not text.strip():
            raise StoreError("a note needs text")
        now = clock.now_us()
        with self.transaction() as cur:
            self._lock_events(cur)
            self._current(cur, flag_id, caller.unit)  # FlagNotFound for another unit's flag
            note_id = self._execute(cur, "INSERT INTO flag_notes (flag_id, unit, at, actor, text) VALUES "
                                         "(?, ?, ?, ?, ?) RETURNING id",
                                    (flag_id, caller.unit, now, caller.actor, text)).fetchone()[0]
            self._execute(cur, "UPDATE flags SET updated_at = ? WHERE id = ?", (now, flag_id))
            self._event(cur, flag_id, "NOTED", now, caller.actor, str(note_id))  # the timeline finds the text by id
            self._audit(cur, caller, "NOTE", [flag_id])
        return note_id

    def escalate(self, flag_id: int, caller: Caller) -> FlagRow:
        """Escalate an OPEN or CLAIMED flag by hand (a coordinator who wants the doctor on call to know now): its
        level goes up one, with an ESCALATED event naming who did it. The policy's steps of an OPEN flag count
        levels from the raise, so a flag escalated by hand to level n next escalates at the policy's step n+1 (its
        level is never lower than the policy alone would have made it); a CLAIMED flag's steps count from the claim
        (claim_escalations) and are not moved."""
        from .base import _FLAG_COLUMNS, ClaimConflict, _flag

        now = clock.now_us()
        with self.transaction() as cur:
            self._lock_events(cur)
            row = self._execute(cur, f"UPDATE flags SET escalation_level = escalation_level + 1, escalated_at = ?, "
                                     f"updated_at = ? WHERE id = ? AND unit = ? AND state <> 'RESOLVED' "
                                     f"RETURNING {_FLAG_COLUMNS}", (now, now, flag_id, caller.unit)).fetchone()
            if row is None:
                self._current(cur, flag_id, caller.unit)  # FlagNotFound when not the unit's
                raise ClaimConflict(f"flag {flag_id} is resolved; it cannot be escalated")
            self._event(cur, flag_id, "ESCALATED", now, caller.actor)
            self._audit(cur, caller, "ESCALATE", [flag_id])
        return _flag(row)

    def timeline(self, flag_id: int, caller: Caller) -> list[TimelineEntry]:
        """Everything that happened to a flag of the caller's unit, oldest first (in commit order); a note comes
        with its text. Audited as a read."""
        with self.transaction() as cur:
            self._current(cur, flag_id, caller.unit)
            events = self._execute(cur, "SELECT at, type, actor, detail FROM flag_events WHERE flag_id = ? "
                                        "ORDER BY seq", (flag_id,)).fetchall()
            notes = dict(self._execute(cur, "SELECT id, text FROM flag_notes WHERE flag_id = ?",
                                       (flag_id,)).fetchall())
            self._audit(cur, caller, "READ", [flag_id], "timeline")
        out = []
        for at, what, actor, detail in events:
            if what == "NOTED" and detail is not None and detail.isdigit():
                detail = notes.get(int(detail))
            out.append(TimelineEntry(at, what, actor, detail))
        return out

    def remind_and_escalate_claimed(self, resolve_within_us: dict[int, int]
                                    ) -> tuple[dict[int, int], dict[int, int]]:
        """Claimed flags nobody resolves, per severity's time to resolve R (the escalation policy's
        [resolve_within]): R after the claim one REMINDED event (once per claim), then at 2R, 3R, ... an ESCALATED
        event each (escalation_level and claim_escalations up one). A new claim, or a release, starts again.

        One transaction under the event lock, each step conditional on what it read (as escalate_due), so that
        several servers do each step once. Returns (flags reminded, flags escalated) per severity."""
        now = clock.now_us()
        reminded: dict[int, int] = {}
        escalated: dict[int, int] = {}
        if not resolve_within_us:
            return reminded, escalated
        with self.transaction() as cur:
            self._lock_events(cur)
            for severity, within in sorted(resolve_within_us.items()):
                rows = self._execute(cur, "UPDATE flags SET reminded_at = ?, updated_at = ? WHERE state = 'CLAIMED' "
                                          "AND severity = ? AND reminded_at IS NULL AND claimed_at + ? <= ? "
                                          "RETURNING id", (now, now, severity, within, now)).fetchall()
                if rows:
                    ids = sorted(r[0] for r in rows)
                    self._insert_rows(cur, "flag_events", ("flag_id", "type", "at"), [(i, "REMINDED", now)
                                                                                      for i in ids])
                    reminded[severity] = len(ids)
                rows = self._execute(cur, "UPDATE flags SET escalation_level = escalation_level + 1, "
                                          "claim_escalations = claim_escalations + 1, escalated_at = ?, "
                                          "updated_at = ? WHERE state = 'CLAIMED' AND severity = ? AND "
                                          "claimed_at + (claim_escalations + 2) * ? <= ? RETURNING id",
                                     (now, now, severity, within, now)).fetchall()
                if rows:
                    ids = sorted(r[0] for r in rows)
                    self._insert_rows(cur, "flag_events", ("flag_id", "type", "at"), [(i, "ESCALATED", now)
                                                                                      for i in ids])
                    escalated[severity] = len(ids)
        return reminded, escalated

    # -- console users ------------------------------------------------------------------------------------------

    def add_console_user(self, username: str, unit: str, role: str, password_hash: str, display_name: str
                         ) -> ConsoleUser:
        """A new console user of `unit` (the store keeps the hash it is given; it does not hash)."""
        from .base import StoreError

        if not username:
            raise StoreError("a console user needs a username")
        if role not in ROLES:
            raise StoreError(f"role {role!r}: roles are {', '.join(ROLES)}")
        if not password_hash:
            raise StoreError("a console user needs a password hash")
        now = clock.now_us()
        with self.transaction() as cur:
            row = self._execute(cur, f"INSERT INTO console_users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0) "
                                     f"ON CONFLICT (username) DO NOTHING RETURNING {_USER_COLUMNS}",
                                (username, unit, role, password_hash, display_name, now)).fetchone()
        if row is None:
            raise StoreError(f"user {username} exists")
        return _user(row)

    def console_user(self, username: str) -> ConsoleUser | None:
        with self.transaction(write=False) as cur:
            row = self._execute(cur, f"SELECT {_USER_COLUMNS} FROM console_users WHERE username = ?",
                                (username,)).fetchone()
        return _user(row) if row else None

    def console_users(self) -> list[ConsoleUser]:
        """Every console user, by username."""
        with self.transaction(write=False) as cur:
            rows = self._execute(cur, f"SELECT {_USER_COLUMNS} FROM console_users ORDER BY username").fetchall()
        return [_user(r) for r in rows]

    def set_console_password(self, username: str, password_hash: str) -> None:
        """Replace a user's password hash. Their sessions stay: the console drops them (drop_console_sessions)
        when it should."""
        from .base import StoreError

        if not password_hash:
            raise StoreError("a console user needs a password hash")
        with self.transaction() as cur:
            done = self._execute(cur, "UPDATE console_users SET password_hash = ? WHERE username = ?",
                                 (password_hash, username)).rowcount
        if not done:
            raise StoreError(f"no console user {username}")

    def disable_console_user(self, username: str) -> None:
        """Disable a user and end their sessions, in one transaction: a disabled user is logged out at once."""
        from .base import StoreError

        with self.transaction() as cur:
            done = self._execute(cur, "UPDATE console_users SET disabled = 1 WHERE username = ?",
                                 (username,)).rowcount
            self._execute(cur, "DELETE FROM console_sessions WHERE username = ?", (username,))
        if not done:
            raise StoreError(f"no console user {username}")

    def sign_in_console_user(self, username: str, unit: str, role: str, display_name: str) -> ConsoleUser:
        """A user an OpenID Connect provider vouched for: created on first sign-in, their unit, role and name
        updated from the provider's claims at every sign-in. Such a user has no password ('!' is no hash); a
        disabled user stays disabled."""
        from .base import StoreError

        if role not in ROLES:
            raise StoreError(f"role {role!r}: roles are {', '.join(ROLES)}")
        now = clock.now_us()
        with self.transaction() as cur:
            row = self._execute(cur, f"INSERT INTO console_users ({_USER_COLUMNS}) VALUES (?, ?, ?, '!', ?, ?, 0) "
                                     "ON CONFLICT (username) DO UPDATE SET unit = excluded.unit, role = excluded.role, "
                                     f"display_name = excluded.display_name RETURNING {_USER_COLUMNS}",
                                (username, unit, role, display_name, now)).fetchone()
        return _user(row)

    def save_console_login(self, state_hash: str, nonce: str, verifier: str, next_path: str) -> None:
        with self.transaction() as cur:
            self._execute(cur, "DELETE FROM console_logins WHERE created_at < ?",
                          (clock.now_us() - 3600 * 1_000_000,))
            self._execute(cur, "INSERT INTO console_logins (state_hash, nonce, verifier, next_path, created_at) "
                               "VALUES (?, ?, ?, ?, ?)", (state_hash, nonce, verifier, next_path, clock.now_us()))

    def take_console_login(self, state_hash: str, max_age_us: int) -> tuple[str, str, str] | None:
        """(nonce, verifier, next path) of a sign-in begun less than `max_age_us` ago, removed as it is read: a
        state is good once."""
        with self.transaction() as cur:
            row = self._execute(cur, "DELETE FROM console_logins WHERE state_hash = ? RETURNING nonce, verifier, "
                                     "next_path, created_at", (state_hash,)).fetchone()
        if row is None or clock.now_us() - row[3] > max_age_us:
            return None
        return row[0], row[1], row[2]

    # -- console sessions ---------------------------------------------------------------------------------------

    def create_console_session(self, id_hash: str, username: str, csrf: str) -> ConsoleSession:
        """A session of an existing, enabled user (StoreError otherwise), created and seen now."""
        from .base import StoreError

        now = clock.now_us()
        with self.transaction() as cur:
            user = self._execute(cur, "SELECT disabled FROM console_users WHERE username = ?",
                                 (username,)).fetchone()
            if user is None or user[0]:
                raise StoreError(f"no enabled console user {username}")
            self._execute(cur, f"INSERT INTO console_sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                          (id_hash, username, csrf, now, now))
        return ConsoleSession(id_hash, username, csrf, now, now)

    def console_session(self, id_hash: str) -> ConsoleSession | None:
        with self.transaction(write=False) as cur:
            row = self._execute(cur, f"SELECT {_SESSION_COLUMNS} FROM console_sessions WHERE id_hash = ?",
                                (id_hash,)).fetchone()
        return ConsoleSession(*row) if row else None

    def touch_console_session(self, id_hash: str) -> None:
        """The session was used now (for the idle timeout)."""
        with self.transaction() as cur:
            self._execute(cur, "UPDATE console_sessions SET seen_at = ? WHERE id_hash = ?",
                          (clock.now_us(), id_hash))

    def drop_console_session(self, id_hash: str) -> None:
        with self.transaction() as cur:
            self._execute(cur, "DELETE FROM console_sessions WHERE id_hash = ?", (id_hash,))

    def drop_console_sessions(self, *, username: str | None = None, idle_before_us: int | None = None,
                              created_before_us: int | None = None) -> int:
        """Drop sessions: of `username` (all of theirs, or with the times below only theirs) that were last seen
        before `idle_before_us` or created before `created_before_us` (idle and absolute timeouts). With no
        argument, every session. Returns how many were dropped."""
        clauses, params, expired = [], [], []
        if username is not None:
            clauses.append("username = ?")
            params.append(username)
        if idle_before_us is not None:
            expired.append("seen_at < ?")
            params.append(idle_before_us)
        if created_before_us is not None:
            expired.append("created_at < ?")
            params.append(created_before_us)
        if expired:
            clauses.append(f"({' OR '.join(expired)})")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.transaction() as cur:
            return self._execute(cur, f"DELETE FROM console_sessions{where}", params).rowcount

    # -- the console's reads ------------------------------------------------------------------------------------

    def console_flags(self, caller: Caller, *, states: Sequence[str] = ("OPEN", "CLAIMED"), kinds: Sequence[str] = (),
                      min_severity: int = 0, severities: Sequence[int] = (), team: str | None = None,
                      claimed_by: str | None = None, patient_id: str = "", limit: int = 500) -> list[FlagRow]:
        """The caller's unit's flags for the console's queue: most severe, most escalated, oldest first. `team`
        keeps the flags of patients whose team setting is that team ('': patients with none); it is matched in
        Python, the settings being JSON. Each flag returned is audited as read."""
        from .base import _FLAG_COLUMNS, _flag

        where, params = self._filter(caller.unit, states, kinds, patient_id, min_severity)
        if severities:
            where += f" AND severity IN ({', '.join('?' * len(severities))})"
            params += [int(s) for s in severities]
        if claimed_by is not None:
            where += " AND claimed_by = ?"
            params.append(claimed_by)
        sql = (f"SELECT {_FLAG_COLUMNS} FROM flags WHERE {where} "
               "ORDER BY severity DESC, escalation_level DESC, created_at, id")
        with self.transaction() as cur:
            if team is None:
                flags = [_flag(r) for r in self._execute(cur, sql + " LIMIT ?", (*params, limit)).fetchall()]
            else:
                teams = self._unit_teams(cur, caller.unit)
                flags = []
                for r in self._execute(cur, sql, params).fetchall():
                    if teams.get(r[1], "") == team:
                        flags.append(_flag(r))
                        if len(flags) >= limit:
                            break
            self._audit(cur, caller, "READ", [f.id for f in flags], "console")
        return flags

    def patient_flags(self, caller: Caller, patient_id: str, limit: int = 50) -> list[FlagRow]:
        """A patient's flags in the caller's unit, in every state, newest first. Audited as a read of each flag, or
        of the patient when there is none."""
        from .base import _FLAG_COLUMNS, _flag

        with self.transaction() as cur:
            rows = self._execute(cur, f"SELECT {_FLAG_COLUMNS} FROM flags WHERE unit = ? AND patient_id = ? "
                                      "ORDER BY created_at DESC, id DESC LIMIT ?",
                                 (caller.unit, patient_id, limit)).fetchall()
            flags = [_flag(r) for r in rows]
            if flags:
                self._audit(cur, caller, "READ", [f.id for f in flags], "patient")
            else:
                self.audit_call(cur, caller, "READ", patient_id=patient_id, detail="patient")
        return flags

    def status_counts(self, unit: str) -> dict[str, int]:
        """OPEN and CLAIMED flags of the unit now, and RESOLVED in the last 24 hours (a count, no patient data)."""
        out = {"OPEN": 0, "CLAIMED": 0, "RESOLVED": 0}
        with self.transaction(write=False) as cur:
            for state, n in self._execute(cur, "SELECT state, count(*) FROM flags WHERE unit = ? AND state IN "
                                               "('OPEN', 'CLAIMED') GROUP BY state", (unit,)).fetchall():
                out[state] = n
            out["RESOLVED"] = self._execute(cur, "SELECT count(*) FROM flags WHERE unit = ? AND state = 'RESOLVED' "
                                                 "AND resolved_at >= ?",
                                            (unit, clock.now_us() - RESOLVED_WINDOW_US)).fetchone()[0]
        return out

    def patient_teams(self, unit: str, patients: Sequence[str]) -> dict[str, str]:
        """patient -> team setting, for those of the patients that have one."""
        with self.transaction(write=False) as cur:
            return self._teams(cur, unit, patients)

    def last_received(self, unit: str, patients: Sequence[str]) -> dict[str, int]:
        """patient -> when the newest reading a device pushed for them arrived (µs), for those with readings kept."""
        out: dict[str, int] = {}
        unique = sorted(set(patients))
        with self.transaction(write=False) as cur:
            for start in range(0, len(unique), 500):
                part = unique[start:start + 500]
                out.update(self._execute(cur, f"SELECT patient_id, max(received_at) FROM readings WHERE unit = ? AND "
                                              f"patient_id IN ({', '.join('?' * len(part))}) GROUP BY patient_id",
                                         (unit, *part)).fetchall())
        return out

    def team_times(self, unit: str, since_us: int) -> list[tuple[str, int, float | None, int, float | None]]:
        """Per team ('' for patients with none), over the unit's flags raised since `since_us`: (team, flags taken,
        median seconds from raise to taken, flags resolved, median seconds from raise to resolved), by team.

        Taken: the first claim, or the resolve of a flag resolved without one. A flag the server resolved itself
        (READING_ARRIVED) counts as taken only if someone claimed it first, and never as resolved. The team is the
        patient's team now, not when the flag was raised."""
        with self.transaction(write=False) as cur:
            rows = self._execute(cur, "SELECT f.patient_id, f.created_at, f.resolved_at, f.outcome, "
                                      "(SELECT min(e.at) FROM flag_events e WHERE e.flag_id = f.id AND "
                                      "e.type = 'CLAIMED') FROM flags f WHERE f.unit = ? AND f.created_at >= ?",
                                 (unit, since_us)).fetchall()
            teams = self._teams(cur, unit, [r[0] for r in rows])
        took: dict[str, list[int]] = {}
        done: dict[str, list[int]] = {}
        for patient, created, resolved, outcome, claimed in rows:
            team = teams.get(patient, "")
            took.setdefault(team, [])
            done.setdefault(team, [])
            if outcome == SERVER_RESOLVED:
                resolved = None
            taken = claimed if claimed is not None else resolved
            if taken is not None:
                took[team].append(max(0, taken - created))
            if resolved is not None:
                done[team].append(max(0, resolved - created))
        return [(team, len(took[team]), _median_seconds(took[team]), len(done[team]), _median_seconds(done[team]))
                for team in sorted(took)]

    def _teams(self, cur, unit: str, patients: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        unique = sorted(set(patients))
        for start in range(0, len(unique), 500):
            part = unique[start:start + 500]
            rows = self._execute(cur, f"SELECT patient_id, settings FROM patient_settings WHERE unit = ? AND "
                                      f"patient_id IN ({', '.join('?' * len(part))})", (unit, *part)).fetchall()
            for patient, text in rows:
                team = json.loads(text).get("team")
                if team:
                    out[patient] = team
        return out

    def _unit_teams(self, cur, unit: str) -> dict[str, str]:
        """patient -> team of every patient of the unit that has one."""
        out: dict[str, str] = {}
        for patient, text in self._execute(cur, "SELECT patient_id, settings FROM patient_settings WHERE unit = ?",
                                           (unit,)).fetchall():
            team = json.loads(text).get("team")
            if team:
                out[patient] = team
        return out
