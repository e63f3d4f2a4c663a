"""The flag queue's behaviour, run against both stores (SQLite file and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading

import pyarrow as pa
import pytest

from tests.server.stores import store_url  # noqa: F401  (fixture)
from varde.scoring import score_news2
from varde.server.flags.queue import FlagQueue
from varde.server.store import ClaimConflict, FlagNotFound, open_store
from varde.server.store.base import Caller, now_us
from varde.server.store.sqlite import SQLiteStore

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
CALM = {"resp_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70, "consciousness": "A",
        "temperature": 37.0}
LOW2 = {**CALM, "resp_rate": 22}  # total 2, band LOW
RED3 = {**CALM, "resp_rate": 26}  # total 3, red, LOW_MEDIUM
MEDIUM5 = {**CALM, "resp_rate": 22, "spo2": 94, "temperature": 38.5, "pulse": 95}  # 2+1+1+1 = 5
HIGH9 = {**CALM, "resp_rate": 26, "spo2": 91, "pulse": 135}  # 3+3+3 = 9, red


def scored(*rows) -> pa.Table:
    """rows: (patient, hours after T0, vitals)."""
    records = [{"patient_id": p, "observed_at": T0 + dt.timedelta(hours=h), **v} for p, h, v in rows]
    return score_news2(pa.Table.from_pylist(records))


@pytest.fixture
def store(store_url):  # noqa: F811
    s = open_store(store_url)
    yield s
    s.close()


def open_flags(store, **kw):
    return {(f.patient_id, f.kind): f for f in store.list_flags(Caller("test"), **kw)}


def test_band_and_red_findings_raise_one_flag_each(store):
    q = FlagQueue(store)
    rec = q.record(scored(("p1", 0, HIGH9), ("p2", 0, MEDIUM5), ("p3", 0, RED3), ("p4", 0, CALM)), "b1", Caller("b1"))
    assert (rec.raised, rec.updated, rec.replayed) == (4, 0, False)
    flags = open_flags(store)
    assert set(flags) == {("p1", "NEWS2_HIGH"), ("p1", "NEWS2_RED"), ("p2", "NEWS2_MEDIUM"), ("p3", "NEWS2_RED")}
    high = flags[("p1", "NEWS2_HIGH")]
    assert (high.severity, high.state, high.occurrences, high.source) == (3, "OPEN", 1, "b1")
    detail = json.loads(high.assessment)
    assert detail["news2_total"] == 9 and detail["news2_band"] == "HIGH" and detail["sub_scores"]["pulse"] == 3
    assert detail["observed_at"].startswith("2026-11-23T08:00")
    assert flags[("p3", "NEWS2_RED")].severity == 2


def test_new_findings_fold_into_the_open_flag_keep_the_worst_and_escalate(store):
    q = FlagQueue(store)
    q.record(scored(("p1", 0, MEDIUM5)), "b1", Caller("b1"))
    rec = q.record(scored(("p1", 1, MEDIUM5), ("p1", 2, {**MEDIUM5, "pulse": 115})), "b2", Caller("b2"))  # 5 then 6
    assert (rec.raised, rec.updated) == (0, 1)
    flags = open_flags(store, kinds=["NEWS2_MEDIUM"])
    assert len(flags) == 1
    f = flags[("p1", "NEWS2_MEDIUM")]
    assert f.occurrences == 3 and json.loads(f.assessment)["news2_total"] == 6 and f.source == "b2"
    q.record(scored(("p1", 3, MEDIUM5)), "b3", Caller("b3"))  # a lower one does not replace the worst
    assert json.loads(open_flags(store)[("p1", "NEWS2_MEDIUM")].assessment)["news2_total"] == 6


def test_resubmitted_batch_raises_nothing_twice(store):
    q = FlagQueue(store)
    table = scored(("p1", 0, HIGH9), ("p1", 1, HIGH9))
    first = q.record(table, "same", Caller("same"))
    again = q.record(table, "same", Caller("same"))
    assert first.raised == 2 and again.replayed and again.raised == 0
    assert open_flags(store)[("p1", "NEWS2_HIGH")].occurrences == 2


def test_rising_series_gives_one_rising_flag_updated(store):
    q = FlagQueue(store)
    # calm, then 2 above the lowest: rising; then higher again: the same flag, updated
    for i, vitals in enumerate([CALM, CALM, LOW2, {**LOW2, "temperature": 38.5}]):
        rec = q.record(scored(("p1", i, vitals)), f"push-{i}", Caller("device-7"))
    assert rec.rising.tolist() == [True]
    rising = [f for f in store.list_flags(Caller("test")) if f.kind == "NEWS2_RISING"]
    assert len(rising) == 1 and rising[0].occurrences == 2 and rising[0].severity == 1
    assert json.loads(rising[0].assessment)["rising"] is True


def test_rising_needs_the_baseline_inside_24_hours(store):
    q = FlagQueue(store)
    q.record(scored(("p1", 0, CALM)), "a", Caller("a"))
    rec = q.record(scored(("p1", 25, LOW2)), "b", Caller("b"))
    assert rec.rising.tolist() == [False]
    assert not [f for f in store.list_flags(Caller("test")) if f.kind == "NEWS2_RISING"]


def test_a_resolved_flag_lets_a_new_finding_raise_a_new_one(store):
    q = FlagQueue(store)
    q.record(scored(("p1", 0, HIGH9)), "a", Caller("a"))
    first = open_flags(store)[("p1", "NEWS2_HIGH")]
    store.resolve(first.id, Caller("kari"), "seen by GP, admitted", "VISITED")
    q.record(scored(("p1", 1, HIGH9)), "b", Caller("b"))
    second = open_flags(store)[("p1", "NEWS2_HIGH")]
    assert second.id != first.id and second.occurrences == 1
    resolved = store.list_flags(Caller("test"), states=["RESOLVED"])
    assert [f.resolution_note for f in resolved if f.kind == "NEWS2_HIGH"] == ["seen by GP, admitted"]


def test_claim_release_resolve_rules(store):
    q = FlagQueue(store)
    q.record(scored(("p1", 0, MEDIUM5), ("p2", 0, HIGH9)), "a", Caller("a"))
    # claim-next takes the most severe first
    first = store.claim(None, Caller("kari"))
    assert first.kind == "NEWS2_HIGH" and first.claimed_by == "kari" and first.state == "CLAIMED"
    assert store.claim(first.id, Caller("kari")).state == "CLAIMED"  # again, by the holder: fine
    with pytest.raises(ClaimConflict, match="claimed by 'kari'"):
        store.claim(first.id, Caller("ola"))
    with pytest.raises(ClaimConflict, match="claimed by 'kari'"):
        store.resolve(first.id, Caller("ola"), "not mine")
    with pytest.raises(ClaimConflict):
        store.release(first.id, Caller("ola"), "not mine")
    released = store.release(first.id, Caller("kari"), "off shift")
    assert released.state == "OPEN" and released.claimed_by is None
    done = store.resolve(first.id, Caller("ola"), "ok")
    assert done.state == "RESOLVED" and done.claimed_by == "ola"
    with pytest.raises(ClaimConflict, match="resolved"):
        store.claim(first.id, Caller("kari"))
    with pytest.raises(FlagNotFound):
        store.claim(999_999, Caller("kari"))


def test_two_coordinators_claiming_at_once_exactly_one_wins(store_url):  # noqa: F811
    """Two store instances (as two server processes would have), many rounds of a simultaneous claim."""
    a, b = open_store(store_url), open_store(store_url)
    try:
        q = FlagQueue(a)
        q.record(scored(*[(f"p{i}", 0, HIGH9) for i in range(20)]), "x", Caller("x"))
        ids = [f.id for f in a.list_flags(Caller("test"), kinds=["NEWS2_HIGH"])]
        for flag_id in ids:
            barrier = threading.Barrier(2)
            results = {}

            def claim(store, who, flag_id=flag_id, barrier=barrier, results=results):
                barrier.wait()
                try:
                    results[who] = store.claim(flag_id, Caller(who)).claimed_by
                except ClaimConflict:
                    results[who] = None

            threads = [threading.Thread(target=claim, args=(s, who)) for s, who in ((a, "kari"), (b, "ola"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            winners = [w for w, got in results.items() if got == w]
            assert len(winners) == 1, results
            assert a.get(flag_id, Caller("test")).claimed_by == winners[0]
    finally:
        a.close()
        b.close()


def test_claim_next_from_two_stores_never_hands_out_one_flag_twice(store_url):  # noqa: F811
    a, b = open_store(store_url), open_store(store_url)
    try:
        FlagQueue(a).record(scored(*[(f"p{i}", 0, MEDIUM5) for i in range(30)]), "x", Caller("x"))
        taken: list[int] = []
        lock = threading.Lock()

        def worker(store, who):
            while True:
                try:
                    f = store.claim(None, Caller(who))
                except FlagNotFound:
                    return
                with lock:
                    taken.append(f.id)

        threads = [threading.Thread(target=worker, args=(s, w)) for s, w in ((a, "kari"), (b, "ola"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(taken) == 30 and len(set(taken)) == 30
    finally:
        a.close()
        b.close()


def test_every_read_and_change_is_audited_without_clinical_values(store):
    q = FlagQueue(store)
    q.record(scored(("p1", 0, HIGH9)), "a", Caller("client:ehr", "974600951", "ScoreBatches"))
    kari = Caller("hpr:1234567", "974600951", "ListFlags")
    flags = store.list_flags(kari)
    flag_id = flags[0].id
    store.claim(flag_id, kari)
    store.resolve(flag_id, kari, "pulse 135, sent to A&E", "EMERGENCY_SERVICES")
    log = store.audit_log()
    actions = [(r.actor, r.unit, r.action, r.flag_id) for r in log if r.flag_id == flag_id]
    assert ("hpr:1234567", "974600951", "READ", flag_id) in actions
    assert ("hpr:1234567", "974600951", "CLAIM", flag_id) in actions
    assert ("hpr:1234567", "974600951", "RESOLVE", flag_id) in actions
    scored_rows = [r for r in log if r.action == "SCORE"]
    assert [(r.actor, r.method, r.batch_id, r.row_count) for r in scored_rows] == [
        ("client:ehr", "ScoreBatches", "a", 1)]
    assert all(r.at > 0 for r in log)
    assert not any("135" in (r.detail or "") for r in log)
    assert {r.patient_id for r in store.audit_log(patient_id="p1")} == {"p1"}
    assert len(store.audit_log(patient_id="p1")) == 3 + len(flags) - 1
    assert store.audit_log(patient_id="nobody") == []
    assert store.audit_log(since_us=now_us() + 10**9) == []


UNIT_A, UNIT_B = "974600951", "964338531"


def test_units_see_and_act_on_their_own_flags_only(store):
    q = FlagQueue(store)
    a = Caller("hpr:1", UNIT_A, "ListFlags")
    b = Caller("hpr:2", UNIT_B, "ListFlags")
    q.record(scored(("p1", 0, HIGH9)), "same-id", Caller("client:x", UNIT_A))
    rec = q.record(scored(("p1", 0, HIGH9)), "same-id", Caller("client:y", UNIT_B))
    assert not rec.replayed and rec.raised == 2  # another unit's batch id and open flags are its own
    mine, theirs = store.list_flags(a), store.list_flags(b)
    assert len(mine) == len(theirs) == 2 and not {f.id for f in mine} & {f.id for f in theirs}
    assert {f.unit for f in mine} == {UNIT_A} and {f.source for f in mine} == {"client:x"}
    flag_of_a = mine[0].id
    for act in (lambda: store.claim(flag_of_a, b), lambda: store.resolve(flag_of_a, b, "x"),
                lambda: store.release(flag_of_a, b), lambda: store.get(flag_of_a, b)):
        with pytest.raises(FlagNotFound):
            act()
    assert store.claim(None, b).unit == UNIT_B
    cursor = 0
    seen_by_b = [f for _, _, f in store.events_after(cursor, b) if f is not None]
    assert seen_by_b and {f.unit for f in seen_by_b} == {UNIT_B}
    assert store.get(flag_of_a, a).state == "OPEN"


def test_events_are_in_commit_order_and_resume_from_a_cursor(store):
    q = FlagQueue(store)
    start = store.cursor()
    q.record(scored(("p1", 0, HIGH9)), "a", Caller("a"))
    events = store.events_after(start, Caller("w"))
    assert [kind for _, kind, _ in events] == ["RAISED", "RAISED"]
    cursor = events[-1][0]
    q.record(scored(("p1", 1, HIGH9)), "b", Caller("b"))
    store.claim(events[0][2].id, Caller("kari"))
    later = store.events_after(cursor, Caller("w"))
    assert [kind for _, kind, _ in later] == ["UPDATED", "UPDATED", "CLAIMED"]
    assert [seq for seq, _, _ in later] == sorted(seq for seq, _, _ in later)
    assert store.events_after(later[-1][0], Caller("w")) == []


def test_schema_migration_is_idempotent(store_url):  # noqa: F811
    a = open_store(store_url)
    b = open_store(store_url)  # a second server starting on the same store
    assert a.migrate() == b.migrate() == 11
    a.close()
    b.close()


def test_batch_ids_are_remembered_for_the_retention_period_only(store):
    q = FlagQueue(store)
    table = scored(("p1", 0, HIGH9))
    q.record(table, "old", Caller("old"))
    assert q.record(table, "old", Caller("old")).replayed
    assert store.forget_batches(now_us() + 1) >= 1
    again = q.record(table, "old", Caller("old"))
    assert not again.replayed and again.updated == 2


def test_imported_findings_are_remembered_for_good(store):
    q = FlagQueue(store)
    table = scored(("p1", 0, HIGH9))
    q.record(table, "import:part-0.parquet:abc/0", Caller("job"))
    q.record(table, "ordinary", Caller("job"))
    assert store.forget_batches(now_us() + 1) == 1  # the ordinary one only
    assert q.record(table, "import:part-0.parquet:abc/0", Caller("job")).replayed


def test_a_small_batch_with_many_findings_commits_them_all(store):
    # 20 rows: a push-sized batch (pipelined on PostgreSQL), but 40 findings, more than go inline as VALUES
    q = FlagQueue(store)
    rec = q.record(scored(*((f"p{k:02d}", 0, HIGH9) for k in range(20))), "many", Caller("many"))
    assert (rec.raised, rec.updated) == (40, 0)
    flags = open_flags(store)
    assert len(flags) == 40 and {k for _, k in flags} == {"NEWS2_HIGH", "NEWS2_RED"}
    assert len(store.events_after(0, Caller("test"))) == 40
    rec = q.record(scored(*((f"p{k:02d}", 1, HIGH9) for k in range(20))), "more", Caller("more"))
    assert (rec.raised, rec.updated) == (0, 40)


def test_a_failed_small_batch_commits_nothing_and_the_store_goes_on(store):
    # On PostgreSQL a push's transaction is pipelined: a statement's error surfaces later than the statement.
    # Whenever it surfaces, the whole transaction is rolled back and the next batch finds the store usable.
    integrity = (sqlite3.IntegrityError, *((pytest.importorskip("psycopg").IntegrityError,)
                                            if not isinstance(store, SQLiteStore) else ()))
    with pytest.raises(integrity), store.batch("broken", ["p1"], caller=Caller("dev"), rows=1) as opened:
        _, cur, _ = opened
        store._execute(cur, "INSERT INTO batches (unit, batch_id, source, committed_at, raised, updated) "
                            "VALUES (?, ?, ?, ?, ?, ?)", ("", "broken", None, None, 0, 0))  # NOT NULL
        store._execute(cur, "INSERT INTO batches (unit, batch_id, source, committed_at, raised, updated) "
                            "VALUES (?, ?, ?, ?, ?, ?)", ("", "after", "dev", 1, 0, 0))
    assert [r for r in store.audit_log() if r.batch_id == "broken"] == []
    q = FlagQueue(store)
    for attempt in ("broken", "after"):  # neither batch id was remembered
        rec = q.record(scored(("p1", 0, HIGH9)), attempt, Caller("dev"))
        assert not rec.replayed
    assert len(open_flags(store)) == 2
