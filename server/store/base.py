"""The flag store: what every implementation does, written once in SQL both SQLite and PostgreSQL run.

Every change happens in one transaction that also records its events (for watchers) and audit rows; a caller is
told of a flag only after that transaction committed. Times are microseconds since the epoch, UTC.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from .. import clock
from ._console import ConsoleSession, ConsoleStore, ConsoleUser, TimelineEntry
from ._follow_up import FollowUpStore
from ._patients import PatientSettingsStore

__all__ = ["AuditRow", "Caller", "ClaimConflict", "ConsoleSession", "ConsoleUser", "Findings", "FlagNotFound",
           "FlagRow", "Store", "StoreError", "TimelineEntry", "now_us"]

# The staging table of a batch's findings, in the order Findings.rows() gives them.
STAGED_COLUMNS = ("patient_id", "kind", "severity", "assessment", "worst_total", "occurrences", "isbar",
                  "set_started_at")
# A batch of this many rows or fewer (a push, a device stream's group) commits in a pipelined transaction.
PIPELINE_ROWS = 64
SEVERITIES = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}
STATES = ("OPEN", "CLAIMED", "RESOLVED")


def now_us() -> int:
    return clock.now_us()


class StoreError(Exception):
    """The store cannot do what was asked; the message says why."""


class FlagNotFound(StoreError):
    pass


class ClaimConflict(StoreError):
    """The flag is held by someone else, or resolved."""


@dataclass(frozen=True)
class Findings:
    """Per (patient, kind) out of a batch, column-wise: severity and total of its worst row, that row's
    assessment as JSON, and how many rows found it. Ordered by patient, then kind."""

    patient_ids: list[str]
    kinds: list[str]
    severity: list[int]
    worst_total: list[int]
    assessments: list[str]
    occurrences: list[int]
    isbar: list[str | None] | None = None  # the ISBAR message of each, as JSON (None: none built)
    scored_rows: list[int] | None = None  # the scored row each describes (its worst), when known
    set_started: list[int | None] | None = None  # the observation set each came from (home follow-up), if any

    @classmethod
    def empty(cls) -> Findings:
        return cls([], [], [], [], [], [])

    def __len__(self) -> int:
        return len(self.patient_ids)

    def rows(self):
        """(patient_id, kind, severity, assessment, worst_total, occurrences, isbar, set_started_at) per finding,
        for the store."""
        isbar = self.isbar if self.isbar is not None else [None] * len(self.patient_ids)
        started = self.set_started if self.set_started is not None else [None] * len(self.patient_ids)
        return zip(self.patient_ids, self.kinds, self.severity, self.assessments, self.worst_total, self.occurrences,
                   isbar, started, strict=True)


@dataclass(frozen=True)
class Caller:
    """Who made a change, as the store records it: the authenticated actor, their unit, the RPC method."""

    actor: str
    unit: str = ""
    method: str = ""


@dataclass(frozen=True)
class AuditRow:
    at: int
    actor: str
    unit: str
    action: str
    method: str | None
    flag_id: int | None
    patient_id: str | None
    batch_id: str | None
    row_count: int | None
    detail: str


@dataclass(frozen=True)
class FlagRow:
    id: int
    patient_id: str
    kind: str
    severity: int
    state: str
    assessment: str
    source: str
    occurrences: int
    created_at: int
    updated_at: int
    claimed_by: str | None
    claimed_at: int | None
    resolved_at: int | None
    resolution_note: str | None
    unit: str = ""
    outcome: str | None = None
    release_reason: str | None = None
    escalation_level: int = 0
    isbar: str | None = None  # JSON (flags/isbar.py)
    escalated_at: int | None = None  # when escalation_level last went up (by the policy or by hand)


_FLAG_COLUMNS = ("id, patient_id, kind, severity, state, assessment, source, occurrences, created_at, updated_at, "
                 "claimed_by, claimed_at, resolved_at, resolution_note, unit, outcome, release_reason, "
                 "escalation_level, isbar, escalated_at")
OUTCOMES = ("VISITED", "PHONED", "GP_CONTACTED", "EMERGENCY_SERVICES", "NO_ACTION")


def _flag(row) -> FlagRow:
    return FlagRow(*row)


@dataclass(frozen=True)
class BatchOutcome:
    raised: int
    updated: int
    replayed: bool
    flag_ids: dict  # (patient_id, kind) -> flag id


class Store(PatientSettingsStore, FollowUpStore, ConsoleStore, abc.ABC):
    """Shared logic; subclasses provide connections, the dialect's few differences, and locking."""

    # Dialect: subclasses set these.
    placeholder = "?"
    greatest = "max"
    blob = "BLOB"
    migrations: Sequence[str] = ()

    # -- connection handling (subclass) ------------------------------------------------------------------------

    @abc.abstractmethod
    def transaction(self, *, write: bool = True, pipeline: bool = False) -> Iterator:
        """A transaction's cursor, committed at the end unless an exception leaves it. With `pipeline` the store
        may send a statement before the one before it has answered (PostgreSQL's pipeline mode): an error then
        surfaces at the next read of a result or at the end, and the transaction is rolled back all the same."""
        ...

    @abc.abstractmethod
    def close(self) -> None:
        ...

    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder).replace("GREATEST(", f"{self.greatest}(")

    def _execute(self, cur, text: str, params=()):
        cur.execute(self._sql(text), params)
        return cur

    @abc.abstractmethod
    def _lock_patients(self, cur, unit: str, patients: list[str], table: str) -> list[tuple[str, bytes]]:
        ...

    def _lock_events(self, cur) -> None:
        """Serialise event writers so that cursors are committed in order (PostgreSQL); SQLite already is."""
        return None

    @abc.abstractmethod
    def _claim_next_id(self, cur, unit: str) -> int | None:
        ...

    # -- schema -------------------------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema up to date; return its version. Safe to run from several servers at once."""
        with self.transaction() as cur:
            self._lock_migrations(cur)
            self._execute(cur, "CREATE TABLE IF NOT EXISTS varde_schema (version INTEGER NOT NULL)")
            row = self._execute(cur, "SELECT max(version) FROM varde_schema").fetchone()
            current = row[0] or 0
            for version, ddl in enumerate(self.migrations, start=1):
                if version > current:
                    for statement in ddl.split(";"):
                        if statement.strip():
                            self._execute(cur, statement)
                    self._execute(cur, "INSERT INTO varde_schema (version) VALUES (?)", (version,))
            return len(self.migrations)

    def _lock_migrations(self, cur) -> None:
        """Keep two servers from migrating at once (PostgreSQL); SQLite's write transaction already does."""
        return None

    # -- findings -----------------------------------------------------------------------------------------------

    @contextmanager
    def batch(self, batch_id: str, patients: list[str], state_table: str = "trend_state",
              caller: Caller = Caller("local-operator"), rows: int | None = None, serialise: bool = False,
              reads: Sequence[tuple[str, tuple]] = ()):
        """A transaction for one scored batch of `caller`'s unit. Yields (states, cur, rows): states maps patient
        -> stored trend bytes; rows are the answers of `reads` ((SQL, parameters) each), read after the patients
        are locked. The scoring itself is audited (who, method, batch id, row count) in the same transaction.

        Yields None instead when this batch_id was committed before: a resubmitted batch raises nothing twice.
        With `serialise`, transactions on the same patients wait for each other even for a patient never seen
        (assembly reads what the other wrote); a bulk batch does without.
        """
        with self.transaction(pipeline=rows is not None and rows <= PIPELINE_ROWS) as cur:
            self.audit_call(cur, caller, "SCORE", batch_id=batch_id, row_count=rows)
            opened = self._open_batch(cur, caller.unit, batch_id, patients, state_table,
                                      sorted(patients) if serialise and patients else None, list(reads))
            if opened is None:
                yield None
                return
            yield opened[0], cur, opened[1]

    def _open_batch(self, cur, unit: str, batch_id: str, patients: list[str], table: str, lock: list[str] | None,
                    reads: list[tuple[str, tuple]]) -> tuple[dict, list[list[tuple]]] | None:
        """None when the batch was seen; else the patients' states (their rows locked) and the rows of `reads`."""
        if self._seen_batch(cur, unit, batch_id, lock):
            return None
        states = dict(self._lock_patients(cur, unit, patients, table)) if patients else {}
        return states, self._read_many(cur, reads) if reads else []

    def _seen_batch(self, cur, unit: str, batch_id: str, lock: list[str] | None) -> bool:
        """Whether this batch id was committed before; with `lock`, first wait for those patients' keys."""
        if lock:
            self._lock_patient_keys(cur, unit, lock)
        return self._execute(cur, "SELECT 1 FROM batches WHERE unit = ? AND batch_id = ?",
                             (unit, batch_id)).fetchone() is not None

    def commit_batch(self, cur, batch_id: str, source: str, states: dict[str, bytes],
                     findings: Findings, state_table: str = "trend_state", unit: str = "") -> BatchOutcome:
        """Inside `batch`: save trend states, fold findings into flags, record the batch, in one transaction.

        Findings go through a staging table, so that a batch with thousands of them costs a few statements (a
        push's few go straight into the upsert where the store can: `_stage`).
        """
        now = now_us()
        if states:
            self._save_states(cur, [(unit, p, s, now) for p, s in states.items()], state_table)
        raised = updated = 0
        ids = {}
        if len(findings):
            staged, staged_params = self._stage(cur, findings)  # before the event lock: commits wait behind it
            self._lock_events(cur)
            token = uuid.uuid4().hex  # marks the flags this commit creates (a batch id may come back later)
            folded = self._execute(cur, (
                "INSERT INTO flags (unit, patient_id, kind, severity, state, assessment, worst_total, source, "
                "batch_id, raised_by, occurrences, created_at, updated_at, isbar, set_started_at) "
                "SELECT ?, patient_id, kind, severity, 'OPEN', assessment, worst_total, ?, ?, ?, occurrences, ?, ?, "
                "isbar, set_started_at "
                f"FROM {staged} WHERE true ORDER BY patient_id, kind "
                "ON CONFLICT (unit, patient_id, kind) WHERE state <> 'RESOLVED' DO UPDATE SET "
                "occurrences = flags.occurrences + excluded.occurrences, "
                "severity = GREATEST(flags.severity, excluded.severity), "
                "assessment = CASE WHEN excluded.worst_total > flags.worst_total THEN excluded.assessment "
                "ELSE flags.assessment END, "
                "isbar = CASE WHEN excluded.worst_total > flags.worst_total OR flags.isbar IS NULL THEN "
                "coalesce(excluded.isbar, flags.isbar) ELSE flags.isbar END, "
                "worst_total = GREATEST(flags.worst_total, excluded.worst_total), "
                "source = excluded.source, batch_id = excluded.batch_id, updated_at = excluded.updated_at, "
                # the set a home follow-up finding came from (a bulk batch's findings have none: kept as it was)
                "set_started_at = coalesce(excluded.set_started_at, flags.set_started_at) "
                "RETURNING id, patient_id, kind, raised_by"),
                (unit, source, batch_id, token, now, now, *staged_params)).fetchall()
            folded.sort(key=lambda r: (r[1], r[2]))  # events in the order the rows were locked
            # the events' actor is who sent the finding (as the flag's source names them)
            events = [(flag_id, "RAISED" if by == token else "UPDATED", now, source)
                      for flag_id, _, _, by in folded]
            raised = sum(1 for _, kind, _, _ in events if kind == "RAISED")
            updated = len(events) - raised
            self._insert_rows(cur, "flag_events", ("flag_id", "type", "at", "actor"), events)
            if len(findings) <= 1000:  # the ids matter to a push's answer, not to a bulk batch
                ids = {(p, k): i for i, p, k, _ in folded}
        self._execute(cur, "INSERT INTO batches (unit, batch_id, source, committed_at, raised, updated) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (unit, batch_id, source, now, raised, updated))
        return BatchOutcome(raised, updated, False, ids)

    @abc.abstractmethod
    def _stage(self, cur, f: Findings) -> tuple[str, Sequence]:
        """The findings as a table the flag upsert selects from (columns STAGED_COLUMNS): the name of a filled,
        transaction-local staging table, or a VALUES list, and the parameters that go with it."""
        ...

    def _insert_rows(self, cur, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        """Plain inserts of many rows, the store's fastest way."""
        cur.executemany(self._sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                  f"({', '.join('?' * len(columns))})"), rows)

    def _save_states(self, cur, rows: list[tuple[str, str, bytes, int]], table: str) -> None:
        cur.executemany(self._sql(f"INSERT INTO {table} (unit, patient_id, state, updated_at) VALUES (?, ?, ?, ?) "
                                  "ON CONFLICT (unit, patient_id) DO UPDATE SET state = excluded.state, "
                                  "updated_at = excluded.updated_at"), rows)

    def forget_batches(self, before_us: int) -> int:
        """Drop batch ids committed before `before_us`: a batch resent after that raises its flags again."""
        with self.transaction() as cur:
            # findings imported from a scale-out job (`varde flags import`) are remembered for good
            return self._execute(cur, "DELETE FROM batches WHERE committed_at < ? AND batch_id NOT LIKE ?",
                                 (before_us, "import:%")).rowcount

    def _event(self, cur, flag_id: int, kind: str, at: int, actor: str | None = None, detail: str | None = None
               ) -> None:
        """One event for watchers and the flag's timeline: who caused it (None: the server's own rounds) and its
        detail (a release reason, an outcome, a note's id; never a patient id)."""
        self._execute(cur, "INSERT INTO flag_events (flag_id, type, at, actor, detail) VALUES (?, ?, ?, ?, ?)",
                      (flag_id, kind, at, actor, detail))

    def _audit(self, cur, caller: Caller, action: str, flag_ids: Sequence[int], detail: str = "") -> None:
        now = now_us()
        cur.executemany(self._sql("INSERT INTO audit (at, actor, unit, method, action, flag_id, detail) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?)"),
                        [(now, caller.actor, caller.unit, caller.method or None, action, i, detail)
                         for i in flag_ids])

    def audit_call(self, cur, caller: Caller, action: str, *, batch_id: str | None = None,
                   row_count: int | None = None, patient_id: str | None = None, detail: str = "") -> None:
        """One audit row for a call that touches no single flag (a batch scored, a patient's settings)."""
        self._execute(cur, "INSERT INTO audit (at, actor, unit, method, action, batch_id, row_count, patient_id, "
                           "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (now_us(), caller.actor, caller.unit, caller.method or None, action, batch_id, row_count,
                       patient_id, detail))

    # -- coordinators -------------------------------------------------------------------------------------------

    def list_flags(self, caller: Caller, *, states: Sequence[str] = ("OPEN", "CLAIMED"),
                   kinds: Sequence[str] = (), patient_id: str = "", min_severity: int = 0,
                   limit: int = 1000) -> list[FlagRow]:
        """The caller's unit's flags, most severe and oldest first; each one returned is audited as read."""
        where, params = self._filter(caller.unit, states, kinds, patient_id, min_severity)
        with self.transaction() as cur:
            rows = self._execute(cur, f"SELECT {_FLAG_COLUMNS} FROM flags WHERE {where} "
                                      "ORDER BY severity DESC, created_at, id LIMIT ?", (*params, limit)).fetchall()
            flags = [_flag(r) for r in rows]
            self._audit(cur, caller, "READ", [f.id for f in flags], "list")
        return flags

    def _filter(self, unit, states, kinds, patient_id, min_severity):
        clauses, params = ["unit = ?"], [unit]
        if states:
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            params += list(states)
        if kinds:
            clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params += list(kinds)
        if patient_id:
            clauses.append("patient_id = ?")
            params.append(patient_id)
        if min_severity:
            clauses.append("severity >= ?")
            params.append(min_severity)
        return " AND ".join(clauses), params

    def get(self, flag_id: int, caller: Caller) -> FlagRow:
        with self.transaction() as cur:
            flag = self._current(cur, flag_id, caller.unit)
            self._audit(cur, caller, "READ", [flag_id], "get")
        return flag

    def cursor(self) -> int:
        with self.transaction(write=False) as cur:
            return self._execute(cur, "SELECT coalesce(max(seq), 0) FROM flag_events").fetchone()[0]

    def events_after(self, cursor: int, caller: Caller, limit: int = 500) -> list[tuple[int, str, FlagRow]]:
        """(cursor, event type, flag as it is now) for the caller's unit's events after `cursor`, oldest first.

        The cursor moves past other units' events too (the last seq looked at is returned with a None flag)."""
        with self.transaction() as cur:
            cols = ", ".join(f"f.{c.strip()}" for c in _FLAG_COLUMNS.split(","))
            rows = self._execute(cur, f"SELECT e.seq, e.type, {cols} FROM flag_events e JOIN flags f ON "
                                      "f.id = e.flag_id WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
                                 (cursor, limit)).fetchall()
            out = [(r[0], r[1], _flag(r[2:])) for r in rows]
            mine = [(seq, kind, f) for seq, kind, f in out if f.unit == caller.unit]
            if mine:
                self._audit(cur, caller, "READ", [f.id for _, _, f in mine], "watch")
        if out and (not mine or mine[-1][0] != out[-1][0]):
            mine.append((out[-1][0], "", None))  # where the next look starts
        return mine

    def claim(self, flag_id: int | None, caller: Caller) -> FlagRow:
        """Take a flag of the caller's unit (or, with None, its most severe and oldest open one)."""
        now = now_us()
        who = caller.actor
        with self.transaction() as cur:
            self._lock_events(cur)  # before any row lock, in the same order as a batch takes them
            if flag_id is None:
                flag_id = self._claim_next_id(cur, caller.unit)
                if flag_id is None:
                    raise FlagNotFound("no open flag to claim")
            # a new claim starts its own time to resolve (reminder and claim escalations: remind_and_escalate_claimed)
            row = self._execute(cur, f"UPDATE flags SET state = 'CLAIMED', claimed_by = ?, claimed_at = ?, "
                                     f"updated_at = ?, reminded_at = NULL, claim_escalations = 0 "
                                     f"WHERE id = ? AND unit = ? AND state = 'OPEN' "
                                     f"RETURNING {_FLAG_COLUMNS}",
                                (who, now, now, flag_id, caller.unit)).fetchone()
            if row is None:
                current = self._current(cur, flag_id, caller.unit)
                if current.state == "CLAIMED" and current.claimed_by == who:
                    self._audit(cur, caller, "CLAIM", [flag_id], "already held")
                    return current  # claiming again what you hold is not an error
                raise ClaimConflict(_why_not(current, "claim"))
            self._event(cur, flag_id, "CLAIMED", now, who)
            self._audit(cur, caller, "CLAIM", [flag_id])
        return _flag(row)

    def release(self, flag_id: int, caller: Caller, reason: str | None = None) -> FlagRow:
        now = now_us()
        with self.transaction() as cur:
            self._lock_events(cur)
            row = self._execute(cur, f"UPDATE flags SET state = 'OPEN', claimed_by = NULL, claimed_at = NULL, "
                                     f"reminded_at = NULL, claim_escalations = 0, "
                                     f"release_reason = ?, updated_at = ? WHERE id = ? AND unit = ? AND "
                                     f"state = 'CLAIMED' AND claimed_by = ? RETURNING {_FLAG_COLUMNS}",
                                (reason, now, flag_id, caller.unit, caller.actor)).fetchone()
            if row is None:
                raise ClaimConflict(_why_not(self._current(cur, flag_id, caller.unit), "release", caller.actor))
            self._event(cur, flag_id, "RELEASED", now, caller.actor, reason)
            self._audit(cur, caller, "RELEASE", [flag_id])
        return _flag(row)

    def resolve(self, flag_id: int, caller: Caller, note: str, outcome: str | None = None) -> FlagRow:
        now = now_us()
        who = caller.actor
        with self.transaction() as cur:
            self._lock_events(cur)
            row = self._execute(cur, f"UPDATE flags SET state = 'RESOLVED', resolved_at = ?, resolution_note = ?, "
                                     f"outcome = ?, claimed_by = coalesce(claimed_by, ?), updated_at = ? WHERE "
                                     f"id = ? AND unit = ? AND (state = 'OPEN' OR (state = 'CLAIMED' AND "
                                     f"claimed_by = ?)) RETURNING {_FLAG_COLUMNS}",
                                (now, note, outcome, who, now, flag_id, caller.unit, who)).fetchone()
            if row is None:
                raise ClaimConflict(_why_not(self._current(cur, flag_id, caller.unit), "resolve", who))
            self._event(cur, flag_id, "RESOLVED", now, who, outcome)
            # the outcome (a word from a fixed list) is; the note is not copied into the audit log
            self._audit(cur, caller, "RESOLVE", [flag_id], outcome or "")
        return _flag(row)

    def _current(self, cur, flag_id: int, unit: str) -> FlagRow:
        """The flag if it is the unit's; another unit's flag is not found (its existence is not theirs to know)."""
        row = self._execute(cur, f"SELECT {_FLAG_COLUMNS} FROM flags WHERE id = ? AND unit = ?",
                            (flag_id, unit)).fetchone()
        if row is None:
            raise FlagNotFound(f"no flag with id {flag_id}")
        return _flag(row)

    def escalate_due(self, claim_within_us: dict[int, int]) -> dict[int, int]:
        """Raise the escalation level of every OPEN flag whose time to claim (per severity; again for each level)
        has passed since it was raised; an ESCALATED event for each. Returns flags escalated per severity."""
        now = now_us()
        out: dict[int, int] = {}
        with self.transaction() as cur:
            self._lock_events(cur)
            for severity, within in sorted(claim_within_us.items()):
                rows = self._execute(cur, "UPDATE flags SET escalation_level = escalation_level + 1, "
                                          "escalated_at = ?, updated_at = ? WHERE state = 'OPEN' AND severity = ? "
                                          "AND created_at + (escalation_level + 1) * ? <= ? RETURNING id",
                                     (now, now, severity, within, now)).fetchall()
                if rows:
                    ids = sorted(r[0] for r in rows)
                    self._insert_rows(cur, "flag_events", ("flag_id", "type", "at"),
                                      [(i, "ESCALATED", now) for i in ids])
                    out[severity] = len(ids)
        return out

    def ping(self) -> None:
        """Raise if the store cannot run a statement now (for the health watcher)."""
        with self.transaction(write=False) as cur:
            self._execute(cur, "SELECT 1").fetchone()

    def open_counts(self) -> list[tuple[str, int, int]]:
        """(kind, severity, open or claimed flags) for the metrics page."""
        with self.transaction(write=False) as cur:
            return self._execute(cur, "SELECT kind, severity, count(*) FROM flags WHERE state <> 'RESOLVED' "
                                      "GROUP BY kind, severity").fetchall()

    def oldest_unclaimed(self) -> list[tuple[int, int]]:
        """(severity, raise time in µs of the oldest OPEN flag of that severity), for the escalation alerts."""
        with self.transaction(write=False) as cur:
            return self._execute(cur, "SELECT severity, min(created_at) FROM flags WHERE state = 'OPEN' "
                                      "GROUP BY severity").fetchall()

    def audit_log(self, *, since_us: int = 0, patient_id: str | None = None, limit: int = 1000,
                  actor: str | None = None, until_us: int | None = None, unit: str | None = None) -> list[AuditRow]:
        """The newest `limit` entries from `since_us` on (and before `until_us`), oldest first; with `patient_id`,
        the accesses to that patient's flags and data; with `actor` or `unit`, that actor's or unit's entries."""
        clauses, params = ["a.at >= ?"], [since_us]
        if until_us is not None:
            clauses.append("a.at < ?")
            params.append(until_us)
        if patient_id:
            clauses.append("coalesce(f.patient_id, a.patient_id) = ?")
            params.append(patient_id)
        if actor is not None:
            clauses.append("a.actor = ?")
            params.append(actor)
        if unit is not None:
            clauses.append("a.unit = ?")
            params.append(unit)
        with self.transaction(write=False) as cur:
            rows = self._execute(cur, "SELECT a.at, a.actor, a.unit, a.action, a.method, a.flag_id, "
                                      "coalesce(f.patient_id, a.patient_id), "
                                      "a.batch_id, a.row_count, a.detail FROM audit a LEFT JOIN flags f ON "
                                      f"f.id = a.flag_id WHERE {' AND '.join(clauses)} ORDER BY a.seq DESC LIMIT ?",
                                 (*params, limit)).fetchall()
        return [AuditRow(*r) for r in reversed(rows)]


def _why_not(flag: FlagRow, verb: str, coordinator: str | None = None) -> str:
    if flag.state == "RESOLVED":
        done = {"claim": "claimed", "release": "released", "resolve": "resolved"}[verb]
        return f"flag {flag.id} is resolved; it cannot be {done}"
    if flag.state == "CLAIMED":
        return f"flag {flag.id} is claimed by {flag.claimed_by!r}; only they can release or resolve it"
    return f"flag {flag.id} is open; claim it before you {verb} it"
