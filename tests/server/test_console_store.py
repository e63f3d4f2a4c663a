"""The store's side of the coordinators' console (server/store/_console.py), on both stores: notes and a flag's
timeline, escalation by hand, reminders and escalations of claimed flags, console users and sessions, the console's
reads, the audit trail's filters, the v9 migration, and what watchers see of it over gRPC."""

from __future__ import annotations

import threading
import time

import pytest

from tests.server.stores import SimClock, open_and_close, simulated_clock, store_url  # noqa: F401  (fixture)
from tests.server.test_flag_store import HIGH9, MEDIUM5, T0, scored
from tests.support import Running
from varde._proto.varde.v1 import flags_pb2
from varde.server import clock
from varde.server.config import Settings
from varde.server.flags.escalation import EscalationPolicy, Escalator
from varde.server.flags.queue import FlagQueue
from varde.server.metrics import Metrics
from varde.server.store import ClaimConflict, FlagNotFound, StoreError, open_store
from varde.server.store.base import Caller, ConsoleSession, TimelineEntry

US = 1_000_000
MIN = 60 * US
HOUR = 60 * MIN
START = int(T0.timestamp() * US)
UNIT, OTHER = "974600951", "964338531"
KARI = Caller("console:kari", UNIT, "console")
OLA = Caller("console:ola", UNIT, "console")
STRANGER = Caller("console:per", OTHER, "console")
DEVICE = Caller("cert:device-1", UNIT, "PushObservation")


@pytest.fixture
def fake_clock():
    yield from simulated_clock(START)


@pytest.fixture
def store(store_url):  # noqa: F811
    yield from open_and_close(store_url)


def raise_flags(store, *rows, batch: str | None = None, unit_caller: Caller = DEVICE) -> dict:
    """rows: (patient, vitals) observed at T0; (patient, kind) -> flag of the caller's unit."""
    FlagQueue(store).record(scored(*[(p, 0, v) for p, v in rows]), batch or f"b-{time.time_ns()}", unit_caller)
    reader = Caller("t", unit_caller.unit)
    return {(f.patient_id, f.kind): f for f in store.list_flags(reader, states=("OPEN", "CLAIMED", "RESOLVED"))}


# -- notes, timeline, escalation by hand ----------------------------------------------------------------------------

def test_notes_and_the_timeline_say_what_happened_and_who_did_it(store, fake_clock):
    flag = raise_flags(store, ("p1", HIGH9))[("p1", "NEWS2_HIGH")]
    cursor = store.cursor()
    fake_clock.at += MIN
    store.claim(flag.id, KARI)
    fake_clock.at += MIN
    note_id = store.add_note(flag.id, KARI, "Ringte pasienten, puls 135")
    assert note_id > 0
    fake_clock.at += MIN
    store.release(flag.id, KARI, "off shift")
    fake_clock.at += MIN
    store.claim(flag.id, OLA)
    store.resolve(flag.id, OLA, "visited", "VISITED")
    fake_clock.at += MIN
    store.add_note(flag.id, OLA, "GP informed")  # a resolved flag still takes notes
    got = store.timeline(flag.id, KARI)
    assert [(e.what, e.actor, e.detail) for e in got] == [
        ("RAISED", "cert:device-1", None),
        ("CLAIMED", "console:kari", None),
        ("NOTED", "console:kari", "Ringte pasienten, puls 135"),
        ("RELEASED", "console:kari", "off shift"),
        ("CLAIMED", "console:ola", None),
        ("RESOLVED", "console:ola", "VISITED"),
        ("NOTED", "console:ola", "GP informed"),
    ]
    assert [e.at for e in got] == [START, START + MIN, START + 2 * MIN, START + 3 * MIN, START + 4 * MIN,
                                   START + 4 * MIN, START + 5 * MIN]
    assert isinstance(got[0], TimelineEntry)
    # watchers see the notes as changes of the flag
    kinds = [kind for _, kind, f in store.events_after(cursor, KARI) if f is not None and f.id == flag.id]
    assert kinds == ["CLAIMED", "NOTED", "RELEASED", "CLAIMED", "RESOLVED", "NOTED"]
    # audited: the note was added and the timeline read, never what the note says
    log = [r for r in store.audit_log(unit=UNIT) if r.flag_id == flag.id]
    assert [(r.actor, r.detail) for r in log if r.action == "NOTE"] == [("console:kari", ""), ("console:ola", "")]
    assert ("console:kari", "READ", "timeline") in [(r.actor, r.action, r.detail) for r in log]
    assert not any("135" in r.detail or "informed" in r.detail for r in store.audit_log())
    # another unit's flag is not found, and nothing is written for it
    for act in (lambda: store.add_note(flag.id, STRANGER, "x"), lambda: store.timeline(flag.id, STRANGER)):
        with pytest.raises(FlagNotFound):
            act()
    with pytest.raises(StoreError):
        store.add_note(flag.id, KARI, "   ")
    assert len(store.timeline(flag.id, KARI)) == 7


def test_escalation_by_hand(store, fake_clock):
    flags = raise_flags(store, ("p1", HIGH9), ("p2", MEDIUM5))
    high, medium = flags[("p1", "NEWS2_HIGH")], flags[("p2", "NEWS2_MEDIUM")]
    fake_clock.at += MIN
    up = store.escalate(high.id, KARI)
    assert (up.escalation_level, up.escalated_at, up.updated_at, up.state) == (1, START + MIN, START + MIN, "OPEN")
    # the policy's steps count levels from the raise: level 1 by hand now, the policy's level 2 at 30 minutes
    policy = {3: 15 * MIN}
    fake_clock.at = START + 15 * MIN
    assert store.escalate_due(policy) == {3: 1}  # the NEWS2_RED flag only
    fake_clock.at = START + 30 * MIN
    assert store.escalate_due(policy) == {3: 2}
    assert store.get(high.id, KARI).escalation_level == 2
    # a claimed flag may be escalated too
    store.claim(medium.id, OLA)
    assert store.escalate(medium.id, KARI).escalation_level == 1
    got = store.timeline(high.id, KARI)
    assert [(e.what, e.actor) for e in got] == [("RAISED", "cert:device-1"), ("ESCALATED", "console:kari"),
                                                ("ESCALATED", None)]
    assert ("console:kari", "ESCALATE") in [(r.actor, r.action) for r in store.audit_log() if r.flag_id == high.id]
    store.resolve(medium.id, OLA, "", "PHONED")
    with pytest.raises(ClaimConflict, match="resolved; it cannot be escalated"):
        store.escalate(medium.id, KARI)
    with pytest.raises(FlagNotFound):
        store.escalate(high.id, STRANGER)
    with pytest.raises(FlagNotFound):
        store.escalate(999_999, KARI)
    assert store.get(high.id, KARI).escalation_level == 2


# -- claimed flags nobody resolves ----------------------------------------------------------------------------------

def test_a_claimed_flag_is_reminded_then_escalated_each_interval_until_released(store, fake_clock):
    flags = raise_flags(store, ("p1", HIGH9), ("p2", MEDIUM5))
    high, red, medium = flags[("p1", "NEWS2_HIGH")], flags[("p1", "NEWS2_RED")], flags[("p2", "NEWS2_MEDIUM")]
    policy = {3: HOUR, 2: 4 * HOUR}
    fake_clock.at = claimed = START + 10 * MIN
    store.claim(high.id, KARI)
    store.claim(medium.id, OLA)
    fake_clock.at = claimed + HOUR - 1
    assert store.remind_and_escalate_claimed(policy) == ({}, {})
    fake_clock.at = claimed + HOUR
    assert store.remind_and_escalate_claimed(policy) == ({3: 1}, {})  # the claimed HIGH one; the open RED is not
    assert store.remind_and_escalate_claimed(policy) == ({}, {})  # once per claim
    fake_clock.at = claimed + 2 * HOUR - 1
    assert store.remind_and_escalate_claimed(policy) == ({}, {})
    fake_clock.at = claimed + 2 * HOUR
    assert store.remind_and_escalate_claimed(policy) == ({}, {3: 1})
    assert store.remind_and_escalate_claimed(policy) == ({}, {})
    fake_clock.at = claimed + 3 * HOUR
    assert store.remind_and_escalate_claimed(policy) == ({}, {3: 1})
    now = store.get(high.id, KARI)
    assert (now.state, now.escalation_level, now.escalated_at) == ("CLAIMED", 2, claimed + 3 * HOUR)
    assert store.get(red.id, KARI).escalation_level == 0
    assert store.get(medium.id, OLA).escalation_level == 0
    # a release starts again: no reminder or escalation while open, and a new claim has its own hour
    fake_clock.at = released = claimed + 3 * HOUR + MIN
    store.release(high.id, KARI, "handover")
    fake_clock.at = released + 2 * HOUR
    assert store.remind_and_escalate_claimed({3: HOUR}) == ({}, {})
    store.claim(high.id, OLA)
    fake_clock.at = released + 3 * HOUR - 1
    assert store.remind_and_escalate_claimed({3: HOUR}) == ({}, {})
    fake_clock.at = released + 3 * HOUR
    assert store.remind_and_escalate_claimed({3: HOUR}) == ({3: 1}, {})
    fake_clock.at = released + 4 * HOUR
    assert store.remind_and_escalate_claimed({3: HOUR}) == ({}, {3: 1})
    assert store.get(high.id, KARI).escalation_level == 3
    # MEDIUM: four hours after its claim (eight for its first escalation); the server's rounds have no actor
    fake_clock.at = released + 4 * HOUR
    assert store.remind_and_escalate_claimed(policy) == ({2: 1}, {})
    whats = [(e.what, e.actor) for e in store.timeline(high.id, KARI)]
    assert whats == [("RAISED", "cert:device-1"), ("CLAIMED", "console:kari"), ("REMINDED", None),
                     ("ESCALATED", None), ("ESCALATED", None), ("RELEASED", "console:kari"),
                     ("CLAIMED", "console:ola"), ("REMINDED", None), ("ESCALATED", None)]
    store.resolve(high.id, OLA, "", "PHONED")
    fake_clock.at += 10 * HOUR
    assert store.remind_and_escalate_claimed({3: HOUR}) == ({}, {})
    assert store.remind_and_escalate_claimed({}) == ({}, {})


def test_the_escalator_round_reminds_and_counts(store, fake_clock):
    flag = raise_flags(store, ("p1", HIGH9))[("p1", "NEWS2_HIGH")]
    store.claim(flag.id, KARI)
    metrics = Metrics()
    escalator = Escalator(store, EscalationPolicy("t", {3: 15 * MIN}, {3: HOUR}), metrics, threading.Event())
    fake_clock.at += HOUR
    assert escalator.run_once() == 2  # the open NEWS2_RED escalated (one step a round), the claimed one reminded
    fake_clock.at += HOUR
    assert escalator.run_once() == 2  # both escalated
    sample = metrics.registry.get_sample_value
    assert sample("varde_flags_reminded_total", {"severity": "HIGH"}) == 1
    assert sample("varde_flags_escalated_total", {"severity": "HIGH"}) == 3


# -- users and sessions ---------------------------------------------------------------------------------------------

def test_console_users(store, fake_clock):
    kari = store.add_console_user("kari", UNIT, "coordinator", "hash-1", "Kari Nordmann")
    assert (kari.username, kari.unit, kari.role, kari.password_hash, kari.display_name, kari.created_at,
            kari.disabled) == ("kari", UNIT, "coordinator", "hash-1", "Kari Nordmann", START, False)
    with pytest.raises(StoreError, match="user kari exists"):
        store.add_console_user("kari", OTHER, "viewer", "hash-2", "Another Kari")
    with pytest.raises(StoreError, match="roles are viewer, coordinator, admin"):
        store.add_console_user("ola", UNIT, "superuser", "hash-3", "Ola")
    store.add_console_user("admin", UNIT, "admin", "hash-4", "Admin")
    assert store.console_user("ola") is None
    assert [u.username for u in store.console_users()] == ["admin", "kari"]
    store.set_console_password("kari", "hash-5")
    assert store.console_user("kari").password_hash == "hash-5"
    with pytest.raises(StoreError):
        store.set_console_password("nobody", "hash")
    store.create_console_session("s1", "kari", "csrf-1")
    store.create_console_session("s2", "admin", "csrf-2")
    store.disable_console_user("kari")
    assert store.console_user("kari").disabled is True
    assert store.console_session("s1") is None and store.console_session("s2") is not None  # logged out at once
    with pytest.raises(StoreError):
        store.create_console_session("s3", "kari", "csrf-3")
    with pytest.raises(StoreError):
        store.create_console_session("s3", "nobody", "csrf-3")
    with pytest.raises(StoreError):
        store.disable_console_user("nobody")


def test_console_sessions_expire_by_idle_and_absolute_time(store, fake_clock):
    store.add_console_user("kari", UNIT, "coordinator", "h", "Kari")
    store.add_console_user("ola", UNIT, "viewer", "h", "Ola")
    made = store.create_console_session("a", "kari", "csrf-a")
    assert made == ConsoleSession("a", "kari", "csrf-a", START, START) == store.console_session("a")
    fake_clock.at = START + 10 * MIN
    store.create_console_session("b", "kari", "csrf-b")
    store.create_console_session("c", "ola", "csrf-c")
    fake_clock.at = START + 20 * MIN
    store.touch_console_session("a")
    assert store.console_session("a").seen_at == START + 20 * MIN
    assert store.console_session("a").created_at == START
    assert store.console_session("nothing") is None
    # idle: b and c were last seen at +10 min; absolute: a was created at the start
    assert store.drop_console_sessions(username="ola", idle_before_us=START + 5 * MIN) == 0
    assert store.drop_console_sessions(idle_before_us=START + 15 * MIN) == 2
    assert store.console_session("a") is not None
    assert store.drop_console_sessions(idle_before_us=START, created_before_us=START + 1) == 1
    assert store.console_session("a") is None
    store.create_console_session("d", "kari", "csrf-d")
    store.create_console_session("e", "ola", "csrf-e")
    store.drop_console_session("e")
    assert store.console_session("e") is None
    store.create_console_session("f", "kari", "csrf-f")
    assert store.drop_console_sessions(username="kari") == 2
    store.create_console_session("g", "ola", "csrf-g")
    assert store.drop_console_sessions() == 1


# -- the console's reads --------------------------------------------------------------------------------------------

def test_console_flags_order_by_severity_escalation_and_age_and_filter_by_team(store, fake_clock):
    raise_flags(store, ("p1", MEDIUM5))
    fake_clock.at += MIN
    raise_flags(store, ("p2", MEDIUM5))
    fake_clock.at += MIN
    flags = raise_flags(store, ("p3", HIGH9), ("p4", MEDIUM5))
    raise_flags(store, ("p1", MEDIUM5), unit_caller=Caller("device", OTHER))
    ids = {key: f.id for key, f in flags.items()}
    store.escalate(ids[("p2", "NEWS2_MEDIUM")], KARI)
    got = [(f.patient_id, f.kind) for f in store.console_flags(KARI)]
    assert got == [("p3", "NEWS2_HIGH"), ("p3", "NEWS2_RED"), ("p2", "NEWS2_MEDIUM"), ("p1", "NEWS2_MEDIUM"),
                   ("p4", "NEWS2_MEDIUM")]
    assert store.console_flags(KARI)[2].escalated_at == START + 2 * MIN
    assert [f.patient_id for f in store.console_flags(KARI, severities=(2,), limit=2)] == ["p2", "p1"]
    assert [f.kind for f in store.console_flags(KARI, min_severity=3, kinds=("NEWS2_RED",))] == ["NEWS2_RED"]
    assert [f.patient_id for f in store.console_flags(KARI, patient_id="p4")] == ["p4"]
    store.claim(ids[("p4", "NEWS2_MEDIUM")], OLA)
    assert [f.patient_id for f in store.console_flags(KARI, claimed_by="console:ola")] == ["p4"]
    assert [f.patient_id for f in store.console_flags(KARI, states=("CLAIMED",))] == ["p4"]
    for patient, team in (("p1", "Nord"), ("p4", "Nord"), ("p2", "Sør")):
        store.set_patient_settings(KARI, patient, {"team": team}, [])
    store.set_patient_settings(Caller("x", OTHER), "p3", {"team": "Nord"}, [])  # another unit's settings
    assert [f.patient_id for f in store.console_flags(KARI, team="Nord")] == ["p1", "p4"]
    assert [f.patient_id for f in store.console_flags(KARI, team="Nord", limit=1)] == ["p1"]
    assert [f.patient_id for f in store.console_flags(KARI, team="Sør")] == ["p2"]
    assert [f.kind for f in store.console_flags(KARI, team="")] == ["NEWS2_HIGH", "NEWS2_RED"]  # p3: no team here
    assert store.console_flags(KARI, team="Vest") == []
    assert {f.unit for f in store.console_flags(STRANGER)} == {OTHER}
    reads = [r for r in store.audit_log(actor="console:kari") if r.action == "READ" and r.detail == "console"]
    assert reads and all(r.unit == UNIT for r in reads)
    assert store.patient_teams(UNIT, ["p1", "p2", "p3", "p9"]) == {"p1": "Nord", "p2": "Sør"}
    assert store.patient_teams(OTHER, ["p3"]) == {"p3": "Nord"}
    assert store.patient_teams(UNIT, []) == {}


def test_status_counts_and_patient_flags(store, fake_clock):
    flags = raise_flags(store, ("p1", HIGH9), ("p2", MEDIUM5))
    store.claim(flags[("p2", "NEWS2_MEDIUM")].id, KARI)
    store.resolve(flags[("p1", "NEWS2_RED")].id, KARI, "", "NO_ACTION")
    assert store.status_counts(UNIT) == {"OPEN": 1, "CLAIMED": 1, "RESOLVED": 1}
    assert store.status_counts(OTHER) == {"OPEN": 0, "CLAIMED": 0, "RESOLVED": 0}
    fake_clock.at += 25 * HOUR  # resolved flags count for a day
    assert store.status_counts(UNIT) == {"OPEN": 1, "CLAIMED": 1, "RESOLVED": 0}
    raise_flags(store, ("p1", HIGH9))  # the open HIGH flag is updated, the resolved RED one raised again
    every = store.list_flags(Caller("t", UNIT), states=("OPEN", "CLAIMED", "RESOLVED"), patient_id="p1")
    got = store.patient_flags(KARI, "p1")
    assert [(f.kind, f.state, f.created_at) for f in got][0] == ("NEWS2_RED", "OPEN", START + 25 * HOUR)
    assert [f.id for f in got] == sorted((f.id for f in every), reverse=True) and len(got) == 3
    assert len(store.patient_flags(KARI, "p1", limit=1)) == 1
    assert store.patient_flags(STRANGER, "p1") == []
    read = [r for r in store.audit_log(actor="console:kari") if r.detail == "patient"]
    assert {r.flag_id for r in read} >= {f.id for f in got}
    assert [r.patient_id for r in store.audit_log(actor="console:per") if r.detail == "patient"] == ["p1"]


def test_team_times_are_medians_from_raise_to_taken_and_resolved(store, fake_clock):
    raise_flags(store, ("old", MEDIUM5))
    fake_clock.at = t = START + HOUR
    flags = raise_flags(store, ("p1", MEDIUM5), ("p2", MEDIUM5), ("p3", MEDIUM5), ("p4", MEDIUM5))
    by = {p: flags[(p, "NEWS2_MEDIUM")].id for p in ("p1", "p2", "p3", "p4")}
    for patient in ("p1", "p2", "old"):
        store.set_patient_settings(KARI, patient, {"team": "Nord"}, [])
    fake_clock.at = t + 30 * US
    store.resolve(by["p3"], OLA, "", "PHONED")  # taken and resolved in one step, no claim
    fake_clock.at = t + 60 * US
    store.claim(by["p1"], KARI)
    fake_clock.at = t + 90 * US
    store.release(by["p1"], KARI, "wrong patient list")
    fake_clock.at = t + 120 * US
    store.claim(by["p2"], OLA)
    store.claim(by["p1"], OLA)  # the first claim counts
    fake_clock.at = t + 300 * US
    store.resolve(by["p1"], OLA, "", "VISITED")
    assert store.team_times(UNIT, t) == [("", 1, 30.0, 1, 30.0), ("Nord", 2, 90.0, 1, 300.0)]
    assert store.team_times(UNIT, START) == [("", 1, 30.0, 1, 30.0), ("Nord", 2, 90.0, 1, 300.0)]  # old: untaken
    assert store.team_times(UNIT, t + 1) == []
    assert store.team_times(OTHER, START) == []
    store.resolve(by["p4"], OLA, "", "NO_ACTION")
    assert store.team_times(UNIT, t)[0] == ("", 2, 165.0, 2, 165.0)


def test_last_received_is_the_newest_reading_per_patient(store):
    with store.transaction() as cur:
        store.insert_readings(cur, UNIT, [("p1", START, START + 5, "dev", "{}"), ("p1", START + 10, START + 50, "dev",
                                                                                   "{}"),
                                          ("p2", START, START + 7, "dev", "{}")])
        store.insert_readings(cur, OTHER, [("p3", START, START + 9, "dev", "{}")])
    assert store.last_received(UNIT, ["p1", "p2", "p3", "p1"]) == {"p1": START + 50, "p2": START + 7}
    assert store.last_received(OTHER, ["p3"]) == {"p3": START + 9}
    assert store.last_received(UNIT, []) == {}
    many = [f"q{i}" for i in range(1200)] + ["p2"]  # more than one statement's worth
    assert store.last_received(UNIT, many) == {"p2": START + 7}


def test_audit_log_filters_by_actor_unit_and_time(store, fake_clock):
    flag = raise_flags(store, ("p1", HIGH9))[("p1", "NEWS2_HIGH")]
    fake_clock.at = START + MIN
    store.claim(flag.id, KARI)
    fake_clock.at = START + 2 * MIN
    store.get(flag.id, OLA)
    raise_flags(store, ("p9", HIGH9), unit_caller=Caller("device", OTHER))
    assert [r.action for r in store.audit_log(actor="console:kari")] == ["CLAIM"]
    assert [(r.actor, r.action) for r in store.audit_log(actor="console:ola", since_us=START + 2 * MIN)] == [
        ("console:ola", "READ")]
    before = store.audit_log(until_us=START + MIN)  # the batch and the test's own list, not the claim
    assert {(r.actor, r.action) for r in before} == {("cert:device-1", "SCORE"), ("t", "READ")}
    assert [r.action for r in store.audit_log(since_us=START + MIN, until_us=START + 2 * MIN)] == ["CLAIM"]
    assert {r.unit for r in store.audit_log(unit=OTHER)} == {OTHER}
    assert {r.actor for r in store.audit_log(unit=OTHER)} == {"device", "t"}
    assert {r.unit for r in store.audit_log(unit=UNIT)} == {UNIT}
    assert store.audit_log(actor="console:kari", unit=OTHER) == []
    assert {(r.actor, r.action) for r in store.audit_log(unit=UNIT, patient_id="p1")} == {
        ("t", "READ"), ("console:kari", "CLAIM"), ("console:ola", "READ")}


# -- migration ------------------------------------------------------------------------------------------------------

def test_a_version_8_store_migrates_to_9_and_keeps_its_data(store_url):  # noqa: F811
    if store_url.startswith("postgresql://"):
        from varde.server.store.postgres import PostgresStore as cls
    else:
        from varde.server.store.sqlite import SQLiteStore as cls
    # a store as the previous release left it: schema 8, a claimed flag with its events, settings and audit rows
    target = store_url
    old = type("OldStore", (cls,), {"migrations": cls.migrations[:8]})(target)
    try:
        with old.transaction() as cur:
            assert old._execute(cur, "SELECT max(version) FROM varde_schema").fetchone()[0] == 8
            flag_id = old._execute(cur, "INSERT INTO flags (unit, patient_id, kind, severity, state, assessment, "
                                        "worst_total, source, raised_by, occurrences, created_at, updated_at, "
                                        "claimed_by, claimed_at) VALUES (?, 'p1', 'NEWS2_HIGH', 3, 'CLAIMED', '{}', "
                                        "9, 'cert:device-1', 'x', 1, ?, ?, 'console:kari', ?) RETURNING id",
                                   (UNIT, START, START, START + MIN)).fetchone()[0]
            old._execute(cur, "INSERT INTO flag_events (flag_id, type, at) VALUES (?, 'RAISED', ?), "
                              "(?, 'CLAIMED', ?)", (flag_id, START, flag_id, START + MIN))
            old._execute(cur, "INSERT INTO patient_settings (unit, patient_id, settings, updated_by, updated_at) "
                              "VALUES (?, 'p1', '{\"age\": 80}', 'hpr:1', ?)", (UNIT, START))
            old._execute(cur, "INSERT INTO audit (at, actor, unit, action, flag_id, detail) VALUES "
                              "(?, 'console:kari', ?, 'CLAIM', ?, '')", (START + MIN, UNIT, flag_id))
        new = open_store(target)
        try:
            assert new.migrate() == 11
            flag = new.get(flag_id, KARI)
            assert (flag.state, flag.claimed_by, flag.escalated_at, flag.escalation_level) == (
                "CLAIMED", "console:kari", None, 0)
            assert [(e.what, e.actor) for e in new.timeline(flag_id, KARI)] == [("RAISED", None), ("CLAIMED", None)]
            assert new.patient_settings(KARI, "p1")[0] == {"age": 80}
            assert [r.action for r in new.audit_log(actor="console:kari")][0] == "CLAIM"
            fake = SimClock(START + MIN + HOUR)
            clock.use(fake)
            try:
                assert new.remind_and_escalate_claimed({3: HOUR}) == ({3: 1}, {})  # new columns start empty
            finally:
                clock.use(None)
            new.add_note(flag_id, KARI, "after the upgrade")
            last = new.timeline(flag_id, KARI)[-1]
            assert (last.what, last.actor, last.detail) == ("NOTED", "console:kari", "after the upgrade")
        finally:
            new.close()
    finally:
        old.close()


# -- over gRPC ------------------------------------------------------------------------------------------------------

def test_watchers_see_notes_reminders_and_event_types_they_do_not_know(tmp_path):
    policy = tmp_path / "escalation.toml"
    policy.write_text('version = "test-1"\n[resolve_within]\nHIGH = "1s"\n')
    running = Running(Settings(address="127.0.0.1:0", queue=str(tmp_path / "q.sqlite3"),
                               escalation_policy=str(policy), escalate_every_seconds=0.1))
    try:
        store = running.server.varde.store
        with running.client() as c:
            c.push({"patient_id": "p1", "observed_at": T0, **HIGH9})
            events = c.watch_flags(kinds=["NEWS2_HIGH"])
            first = next(events)
            while next(events).type != flags_pb2.FlagEvent.CAUGHT_UP:
                pass
            me = Caller("local-operator")
            store.add_note(first.flag.id, me, "ringt")
            with store.transaction() as cur:  # as a newer server sharing the store might write
                store._event(cur, first.flag.id, "SOMETHING_NEW", clock.now_us())
            c.claim(first.flag.id)
            seen = []
            while len(seen) < 5:
                seen.append(flags_pb2.FlagEvent.Type.Name(next(events).type))
            events.close()
    finally:
        running.stop()
    assert seen == ["NOTED", "UPDATED", "CLAIMED", "REMINDED", "ESCALATED"]
    assert running.metrics.registry.get_sample_value("varde_flags_reminded_total", {"severity": "HIGH"}) == 1
