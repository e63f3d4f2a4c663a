"""The schema, as numbered migrations: append a new entry to change it, never edit an applied one."""

from __future__ import annotations

__all__ = ["migrations"]

_V1 = """
CREATE TABLE flags (
    id {serial} PRIMARY KEY, patient_id TEXT NOT NULL, kind TEXT NOT NULL, severity {int} NOT NULL,
    state TEXT NOT NULL, assessment TEXT NOT NULL, worst_total {int} NOT NULL, source TEXT NOT NULL,
    batch_id TEXT, raised_by TEXT, occurrences {int} NOT NULL, created_at {int} NOT NULL, updated_at {int} NOT NULL,
    claimed_by TEXT, claimed_at {int}, resolved_at {int}, resolution_note TEXT);
CREATE UNIQUE INDEX flags_one_open ON flags (patient_id, kind) WHERE state <> 'RESOLVED';
CREATE INDEX flags_queue ON flags (state, severity, created_at);
CREATE TABLE flag_events (seq {serial} PRIMARY KEY, flag_id {int} NOT NULL, type TEXT NOT NULL, at {int} NOT NULL);
CREATE TABLE trend_state (patient_id TEXT PRIMARY KEY, state {blob} NOT NULL, updated_at {int} NOT NULL);
CREATE TABLE batches (batch_id TEXT PRIMARY KEY, source TEXT NOT NULL, committed_at {int} NOT NULL,
    raised {int} NOT NULL, updated {int} NOT NULL);
CREATE TABLE audit (seq {serial} PRIMARY KEY, at {int} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    flag_id {int}, detail TEXT NOT NULL);
CREATE INDEX audit_flag ON audit (flag_id)
"""


# v2: each patient's risk tier at their last scoring, for RISK_RISING (same shape as trend_state).
_V2 = """
CREATE TABLE risk_state (patient_id TEXT PRIMARY KEY, state {blob} NOT NULL, updated_at {int} NOT NULL)
"""


# v3: units. Every flag, trend and risk state and batch id belongs to the unit (organisation number) of the
# credential that sent it ('' for the local operator); one open flag per unit, patient and kind. The audit trail
# records the unit, the method, the batch and its row count.
_V3 = """
ALTER TABLE flags ADD COLUMN unit TEXT NOT NULL DEFAULT '';
DROP INDEX flags_one_open;
CREATE UNIQUE INDEX flags_one_open_unit ON flags (unit, patient_id, kind) WHERE state <> 'RESOLVED';
CREATE INDEX flags_unit_queue ON flags (unit, state, severity, created_at);
CREATE TABLE trend_state_v3 (unit TEXT NOT NULL, patient_id TEXT NOT NULL, state {blob} NOT NULL,
    updated_at {int} NOT NULL, PRIMARY KEY (unit, patient_id));
INSERT INTO trend_state_v3 SELECT '', patient_id, state, updated_at FROM trend_state;
DROP TABLE trend_state;
ALTER TABLE trend_state_v3 RENAME TO trend_state;
CREATE TABLE risk_state_v3 (unit TEXT NOT NULL, patient_id TEXT NOT NULL, state {blob} NOT NULL,
    updated_at {int} NOT NULL, PRIMARY KEY (unit, patient_id));
INSERT INTO risk_state_v3 SELECT '', patient_id, state, updated_at FROM risk_state;
DROP TABLE risk_state;
ALTER TABLE risk_state_v3 RENAME TO risk_state;
CREATE TABLE batches_v3 (unit TEXT NOT NULL, batch_id TEXT NOT NULL, source TEXT NOT NULL,
    committed_at {int} NOT NULL, raised {int} NOT NULL, updated {int} NOT NULL, PRIMARY KEY (unit, batch_id));
INSERT INTO batches_v3 SELECT '', batch_id, source, committed_at, raised, updated FROM batches;
DROP TABLE batches;
ALTER TABLE batches_v3 RENAME TO batches;
CREATE INDEX batches_committed ON batches (committed_at);
ALTER TABLE audit ADD COLUMN unit TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN method TEXT;
ALTER TABLE audit ADD COLUMN batch_id TEXT;
ALTER TABLE audit ADD COLUMN row_count {int};
CREATE INDEX audit_at ON audit (at)
"""


# v4: per-patient settings a clinician sets (SpO2 scale 2, age or birth date, pregnancy, measurement plan), per
# unit, as JSON so that a new setting needs no migration.
_V4 = """
CREATE TABLE patient_settings (unit TEXT NOT NULL, patient_id TEXT NOT NULL, settings TEXT NOT NULL,
    updated_by TEXT NOT NULL, updated_at {int} NOT NULL, PRIMARY KEY (unit, patient_id));
ALTER TABLE audit ADD COLUMN patient_id TEXT
"""

# v5: what a resolved flag led to (a fixed list), and why a claimed flag was given back.
_V5 = """
ALTER TABLE flags ADD COLUMN outcome TEXT;
ALTER TABLE flags ADD COLUMN release_reason TEXT
"""

# v6: escalation of flags nobody claims: how many times a flag escalated, and when last.
_V6 = """
ALTER TABLE flags ADD COLUMN escalation_level {int} NOT NULL DEFAULT 0;
ALTER TABLE flags ADD COLUMN escalated_at {int}
"""

# v7: home follow-up. Every accepted reading a device pushed (any subset of the parameters, with the time it was
# measured and the device), from which observation sets are assembled; each patient's newest set and when the next
# is due (MEASUREMENT_OVERDUE); and the ISBAR message of a flag, as JSON.
_V7 = """
CREATE TABLE readings (seq {serial} PRIMARY KEY, unit TEXT NOT NULL, patient_id TEXT NOT NULL,
    measured_at {int} NOT NULL, received_at {int} NOT NULL, device TEXT NOT NULL, reading TEXT NOT NULL);
CREATE INDEX readings_patient ON readings (unit, patient_id, measured_at);
CREATE INDEX readings_received ON readings (received_at);
CREATE TABLE follow_up (unit TEXT NOT NULL, patient_id TEXT NOT NULL, last_set_at {int} NOT NULL,
    band TEXT, red {int} NOT NULL, total {int}, due_at {int}, overdue_for {int}, PRIMARY KEY (unit, patient_id));
CREATE INDEX follow_up_due ON follow_up (due_at);
ALTER TABLE flags ADD COLUMN isbar TEXT
"""


# v8: the observation set (its oldest reading's time) a home follow-up flag was last raised or updated by, so that
# a set a coordinator already resolved does not raise the same kind again when a straggling reading joins it.
_V8 = """
ALTER TABLE flags ADD COLUMN set_started_at {int}
"""


# v9: the coordinators' browser console (docs/flags.md). Who caused each flag event (NULL: the server's own
# rounds) and its detail (a release reason, an outcome, a note's id; never a patient id); reminders and escalations
# of claimed flags not resolved in time; notes on a flag; console users and their sessions (only hashes of session
# ids and passwords are kept). flag_events gets an index on flag_id for a flag's timeline.
_V9 = """
ALTER TABLE flag_events ADD COLUMN actor TEXT;
ALTER TABLE flag_events ADD COLUMN detail TEXT;
CREATE INDEX flag_events_flag ON flag_events (flag_id);
ALTER TABLE flags ADD COLUMN reminded_at {int};
ALTER TABLE flags ADD COLUMN claim_escalations {int} NOT NULL DEFAULT 0;
CREATE TABLE flag_notes (id {serial} PRIMARY KEY, flag_id {int} NOT NULL, unit TEXT NOT NULL, at {int} NOT NULL,
    actor TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX flag_notes_flag ON flag_notes (flag_id);
CREATE TABLE console_users (username TEXT PRIMARY KEY, unit TEXT NOT NULL, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, display_name TEXT NOT NULL, created_at {int} NOT NULL,
    disabled {int} NOT NULL DEFAULT 0);
CREATE TABLE console_sessions (id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
    created_at {int} NOT NULL, seen_at {int} NOT NULL);
CREATE INDEX console_sessions_user ON console_sessions (username)
"""


# v10: a sign-in through OpenID Connect (docs/console.md) between the redirect to the provider and its return: the
# hash of its state, the nonce and PKCE verifier, where to go after; single use, kept minutes only. In the store, not
# in one server's memory, so that the return may reach another replica.
_V10 = """
CREATE TABLE console_logins (state_hash TEXT PRIMARY KEY, nonce TEXT NOT NULL, verifier TEXT NOT NULL,
    next_path TEXT NOT NULL, created_at {int} NOT NULL)
"""


# v11: a patient's flags in every state, by unit and patient. Without it, a push's look at the patient's resolved
# flags (home follow-up), the console's patient page and ISBAR's risk reasons read every resolved flag of the unit.
_V11 = """
CREATE INDEX flags_patient ON flags (unit, patient_id, created_at)
"""


def migrations(dialect: str) -> tuple[str, ...]:
    types = {
        "sqlite": {"serial": "INTEGER", "int": "INTEGER", "blob": "BLOB"},
        "postgresql": {"serial": "BIGSERIAL", "int": "BIGINT", "blob": "BYTEA"},
    }[dialect]
    return tuple(v.format(**types) for v in (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11))
