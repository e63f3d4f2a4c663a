"""Flags nobody claims escalate by the unit's policy, once per interval, exactly once however many servers run."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pyarrow as pa
import pytest

from tests.server.stores import store_url  # noqa: F401  (fixture)
from tests.support import Running
from varde._proto.varde.v1 import flags_pb2
from varde.scoring import score_news2
from varde.server.config import Settings
from varde.server.flags.escalation import EscalationPolicyError, load_escalation_policy
from varde.server.flags.queue import FlagQueue
from varde.server.store import open_store
from varde.server.store.base import Caller

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
HIGH9 = {"resp_rate": 26, "spo2": 91, "on_oxygen": False, "systolic_bp": 120, "pulse": 135, "consciousness": "A",
         "temperature": 37.0}
MEDIUM5 = {**HIGH9, "resp_rate": 22, "spo2": 94, "temperature": 38.5, "pulse": 95}
SECOND = 1_000_000


def raise_flags(store, *rows):
    table = pa.Table.from_pylist([{"patient_id": p, "observed_at": T0, **v} for p, v in rows])
    FlagQueue(store).record(score_news2(table), f"b-{time.time_ns()}", Caller("device"))


def levels(store) -> dict:
    return {(f.patient_id, f.kind): f.escalation_level for f in store.list_flags(Caller("t"))}


def test_unclaimed_flags_escalate_each_interval_until_claimed(store_url):  # noqa: F811
    store = open_store(store_url)
    try:
        raise_flags(store, ("p1", HIGH9), ("p2", HIGH9), ("p3", MEDIUM5))
        policy = {3: SECOND}  # HIGH after a second; MEDIUM never
        assert store.escalate_due(policy) == {}
        time.sleep(1.1)
        assert store.escalate_due(policy) == {3: 4}  # NEWS2_HIGH and NEWS2_RED of p1 and p2
        assert store.escalate_due(policy) == {}  # not again before the next interval
        high_p1 = next(f for f in store.list_flags(Caller("t")) if f.patient_id == "p1" and f.kind == "NEWS2_HIGH")
        store.claim(high_p1.id, Caller("kari"))
        time.sleep(1.0)
        assert store.escalate_due(policy) == {3: 3}
        got = levels(store)
        assert got[("p1", "NEWS2_HIGH")] == 1  # claimed: stopped
        assert got[("p2", "NEWS2_HIGH")] == got[("p1", "NEWS2_RED")] == 2
        assert got[("p3", "NEWS2_MEDIUM")] == 0
        events = [kind for _, kind, _ in store.events_after(0, Caller("t"))]
        assert events.count("ESCALATED") == 7
    finally:
        store.close()


def test_two_servers_escalate_each_step_once(store_url):  # noqa: F811
    a, b = open_store(store_url), open_store(store_url)
    try:
        raise_flags(a, *[(f"p{i}", HIGH9) for i in range(10)])
        time.sleep(1.1)
        barrier = threading.Barrier(2)
        done = {}

        def run(name, store):
            barrier.wait()
            done[name] = store.escalate_due({3: SECOND})

        threads = [threading.Thread(target=run, args=item) for item in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(d.get(3, 0) for d in done.values()) == 20
        assert set(levels(a).values()) == {1}
    finally:
        a.close()
        b.close()


def test_the_server_escalates_and_watchers_see_it(tmp_path):
    policy = tmp_path / "escalation.toml"
    policy.write_text('version = "test-1"\n[claim_within]\nHIGH = "1s"\n')
    running = Running(Settings(address="127.0.0.1:0", queue=str(tmp_path / "q.sqlite3"),
                               escalation_policy=str(policy), escalate_every_seconds=0.2))
    try:
        with running.client() as c:
            c.push({"patient_id": "p1", "observed_at": T0, **HIGH9})
            events = c.watch_flags(kinds=["NEWS2_HIGH"])
            while next(events).type != flags_pb2.FlagEvent.CAUGHT_UP:
                pass
            event = next(events)
            assert event.type == flags_pb2.FlagEvent.ESCALATED and event.flag.escalation_level == 1
            events.close()
    finally:
        running.stop()
    text = running.metrics.registry.get_sample_value("varde_flags_escalated_total", {"severity": "HIGH"})
    assert text >= 2  # NEWS2_HIGH and NEWS2_RED


@pytest.mark.parametrize(("text", "needle"), [
    ('[claim_within]\nHIGH = "15m"\n', "version"),
    ('version = "x"\n[claim_within]\nURGENT = "15m"\n', "severities are"),
    ('version = "x"\n[claim_within]\nHIGH = "a while"\n', "write e.g."),
    ('version = "x"\n[claim_within]\nHIGH = "0m"\n', "write e.g."),
    ('version = "x"\n[resolve_within]\nURGENT = "1h"\n', r"\[resolve_within\] URGENT: severities are"),
    ('version = "x"\n[resolve_within]\nHIGH = "soon"\n', r"\[resolve_within\] HIGH = 'soon': write e.g."),
    ('version = "x"\nresolve_within = "1h"\n', "must be a table"),
])
def test_a_bad_policy_names_the_key(tmp_path, text, needle):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(EscalationPolicyError, match=needle):
        load_escalation_policy(path)


def test_the_default_policy():
    policy = load_escalation_policy()
    assert policy.claim_within_us == {3: 15 * 60 * SECOND, 2: 60 * 60 * SECOND}
    assert policy.resolve_within_us == {3: 60 * 60 * SECOND, 2: 4 * 3600 * SECOND}
    assert policy.version.startswith("varde-default")


def test_a_policy_without_resolve_within_never_reminds(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('version = "x"\n[claim_within]\nHIGH = "90s"\n')
    policy = load_escalation_policy(path)
    assert (policy.claim_within_us, policy.resolve_within_us) == ({3: 90 * SECOND}, {})
