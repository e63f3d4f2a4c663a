"""The queue through the server: flags from every scoring path, the coordinators' API, watch and resume."""

from __future__ import annotations

import datetime as dt
import threading
import urllib.request

import grpc
import pyarrow as pa
import pytest

from tests.server.secured import UNIT_B, Secured
from tests.server.stores import store_url  # noqa: F401  (fixture)
from tests.support import Running, observations
from varde._proto.varde.v1 import flags_pb2, scoring_pb2, scoring_pb2_grpc
from varde.clients.client import VardeError
from varde.server.config import Settings

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
CALM = {"resp_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70, "consciousness": "A",
        "temperature": 37.0}
HIGH9 = {**CALM, "resp_rate": 26, "spo2": 91, "pulse": 135}


@pytest.fixture
def queued(store_url):  # noqa: F811
    """Mutual TLS and tokens: a device certificate pushes, coordinators kari and ola hold their own tokens."""
    running = Secured(store_url)
    yield running
    running.stop()


def kari(q: Secured, **kw):
    return q.token_client("coordinator", hpr="1111111", **kw)


def ola(q: Secured, **kw):
    return q.token_client("coordinator", hpr="2222222", **kw)


def push(client, patient, hours, **vitals):
    return client.push({"patient_id": patient, "observed_at": T0 + dt.timedelta(hours=hours), **CALM, **vitals,
                        "source": "oximeter-12"})


def test_device_pushing_a_rising_series_gets_one_rising_flag_updated(queued):
    with queued.cert_client("device") as d, kari(queued) as c:
        series = [{}, {}, {"resp_rate": 22}, {"resp_rate": 22, "temperature": 38.5}, {"resp_rate": 23, "pulse": 95}]
        answers = [push(d, "p-home-1", i, **v) for i, v in enumerate(series)]
        assert [a.rising for a in answers] == [False, False, True, True, True]
        assert [a.total for a in answers] == [0, 0, 2, 3, 3]
        rising = c.list_flags(kinds=["NEWS2_RISING"])
        assert len(rising) == 1
        # the source is the device's certificate as the auth config names it, not the "source" it typed
        assert rising[0].occurrences == 3 and rising[0].source == "cert:device-1"
        assert answers[2].flag_ids == [rising[0].id] == answers[4].flag_ids
        # the same push again (a retry) counts nothing twice
        push(d, "p-home-1", 4, resp_rate=23, pulse=95)
        assert c.list_flags(kinds=["NEWS2_RISING"])[0].occurrences == 3


def test_batches_report_flags_and_a_resubmitted_batch_raises_nothing(queued):
    table = pa.Table.from_pylist([{"patient_id": f"p{i}", "observed_at": T0, **HIGH9} for i in range(5)])
    with queued.token_client("journal", hpr=None) as j, kari(queued) as c:
        first = [s for _, s in j.score_batches(table, batch_id="ward-7")]
        again = [s for _, s in j.score_batches(table, batch_id="ward-7")]
        flags = c.list_flags()
    assert sum(1 for f in flags if f.kind == "NEWS2_HIGH") == 5 and len(flags) == 10
    assert all(f.occurrences == 1 for f in flags)
    with queued.channel(queued.certs["journal"]) as ch:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write(table)
        replies = list(scoring_pb2_grpc.ScoringStub(ch).ScoreBatches(iter([
            scoring_pb2.ArrowBatch(batch_id="raw-1", arrow_ipc=sink.getvalue().to_pybytes()),
            scoring_pb2.ArrowBatch(batch_id="raw-1", arrow_ipc=sink.getvalue().to_pybytes())])))
    assert (replies[0].flags_updated, replies[0].flags_replayed) == (10, False)
    assert (replies[1].flags_raised, replies[1].flags_updated, replies[1].flags_replayed) == (0, 0, True)
    assert first and again


def test_claim_conflicts_and_unknown_ids_have_clear_statuses(queued):
    with queued.cert_client("device") as d, kari(queued) as k, ola(queued) as o:
        push(d, "p1", 0, **HIGH9)
        flag = k.list_flags(kinds=["NEWS2_HIGH"])[0]
        assert k.claim(flag.id).claimed_by == "hpr:1111111"
        with pytest.raises(VardeError) as info:
            o.claim(flag.id)
        assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "claimed by 'hpr:1111111'" in info.value.details
        with pytest.raises(VardeError) as info:
            o.resolve(flag.id, "NO_ACTION", "not mine")
        assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(VardeError) as info:
            k.claim(987654)
        assert info.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(VardeError) as info:
            k.resolve(flag.id, "FIXED", "GP called")
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "GP_CONTACTED" in info.value.details
        with pytest.raises(VardeError) as info:
            k.release(flag.id, " ")
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "reason" in info.value.details
        assert k.release(flag.id, "going off shift").release_reason == "going off shift"
        done = k.resolve(flag.id, "GP_CONTACTED", "GP called")
        assert done.state == flags_pb2.RESOLVED and done.resolution_note == "GP called"
        assert done.outcome == "GP_CONTACTED"
        assert flag.id not in [f.id for f in k.list_flags()]


def test_two_coordinators_claiming_over_grpc_exactly_one_wins(queued):
    with queued.cert_client("device") as d, kari(queued) as c:
        for i in range(10):
            push(d, f"p{i}", 0, **HIGH9)
        ids = [f.id for f in c.list_flags(kinds=["NEWS2_HIGH"])]
    for flag_id in ids:
        barrier = threading.Barrier(2)
        results = {}

        def claim(who, flag_id=flag_id, barrier=barrier, results=results):
            with queued.token_client("coordinator", hpr=who) as c:
                barrier.wait()
                try:
                    results[who] = c.claim(flag_id).claimed_by.removeprefix("hpr:")
                except VardeError as e:
                    results[who] = e.code

        threads = [threading.Thread(target=claim, args=(w,)) for w in ("1111111", "2222222")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(map(str, results.values())) == sorted([str(grpc.StatusCode.FAILED_PRECONDITION),
                                                             [w for w, r in results.items() if r == w][0]])


def test_watch_gives_the_snapshot_then_live_changes(queued):
    with queued.cert_client("device") as d, kari(queued) as c:
        push(d, "p1", 0, **HIGH9)
        events = c.watch_flags()
        first = [next(events) for _ in range(3)]
        assert [e.type for e in first] == [flags_pb2.FlagEvent.EXISTING] * 2 + [flags_pb2.FlagEvent.CAUGHT_UP]
        push(d, "p2", 0, resp_rate=26)  # red only
        live = next(events)
        assert live.type == flags_pb2.FlagEvent.RAISED and live.flag.patient_id == "p2"
        assert live.flag.kind == "NEWS2_RED" and live.cursor > first[-1].cursor
        c.claim(live.flag.id)
        claimed = next(events)
        assert claimed.type == flags_pb2.FlagEvent.CLAIMED and claimed.flag.claimed_by == "hpr:1111111"
        events.close()


def test_watch_resumes_from_its_cursor_across_a_server_restart(tmp_path):
    queue = str(tmp_path / "q.sqlite3")
    first = Running(queue=queue)
    port = first.port
    watcher = first.client()
    push(watcher, "p1", 0, **HIGH9)
    events = watcher.watch_flags()
    seen = [next(events) for _ in range(3)]
    first.stop()
    # a new server on the same port and queue file; the watcher reconnects and resumes after its cursor
    second = Running(Settings(address=f"127.0.0.1:{port}", queue=queue))
    try:
        with second.client() as c2:
            push(c2, "p2", 0, **HIGH9)
        resumed = [next(events) for _ in range(2)]
        assert [e.type for e in resumed] == [flags_pb2.FlagEvent.RAISED] * 2
        assert {e.flag.patient_id for e in resumed} == {"p2"}
        assert resumed[0].cursor > seen[-1].cursor
        events.close()
    finally:
        watcher.close()
        second.stop()


def test_queue_metrics(queued):
    with queued.cert_client("device") as d, kari(queued) as c:
        push(d, "p1", 0, **HIGH9)
        flag = c.list_flags(kinds=["NEWS2_HIGH"])[0]
        c.claim(flag.id)
        c.resolve(flag.id, "PHONED")
    text = urllib.request.urlopen(f"http://127.0.0.1:{queued.running.metrics_port}/metrics",
                                  timeout=10).read().decode()
    assert 'varde_flags_open{kind="NEWS2_RED",severity="HIGH"} 1.0' in text
    assert "varde_flags_raised_total 2.0" in text
    assert 'varde_flags_resolved_total{outcome="PHONED"} 1.0' in text
    assert 'varde_flag_raise_to_claim_seconds_count{kind="NEWS2_HIGH",severity="HIGH"} 1.0' in text
    assert 'varde_flags_oldest_unclaimed_timestamp_seconds{severity="HIGH"}' in text  # the NEWS2_RED flag waits
    assert "varde_store_up 1.0" in text
    assert 'varde_findings_total{kind="NEWS2_HIGH"} 1.0' in text


def test_scoring_with_no_queue_has_no_flags_service(tmp_path):
    running = Running(Settings(address="127.0.0.1:0", queue=None))
    try:
        with running.client() as c:
            assert c.score(observations(100)).num_rows == 100
            with pytest.raises(VardeError) as info:
                c.list_flags()
            assert info.value.code == grpc.StatusCode.UNIMPLEMENTED
    finally:
        running.stop()


def test_a_coordinator_of_unit_b_cannot_list_watch_claim_or_resolve_unit_a_flags(queued):
    """The device certificate belongs to unit A; a coordinator's token from unit B sees none of it."""
    with queued.cert_client("device") as d, kari(queued) as a, \
            queued.token_client("coordinator", unit=UNIT_B, hpr="3333333") as b:
        push(d, "p1", 0, **HIGH9)
        flags = a.list_flags()
        assert len(flags) == 2 and {f.unit for f in flags} == {"974600951"}
        assert b.list_flags() == [] and b.list_flags(patient_id="p1", states=["OPEN", "CLAIMED", "RESOLVED"]) == []
        events = b.watch_flags(reconnect=False)
        assert next(events).type == flags_pb2.FlagEvent.CAUGHT_UP  # nothing existing for unit B
        push(d, "p2", 0, **HIGH9)  # live events of unit A do not reach B either
        with queued.token_client("device", unit=UNIT_B, hpr=None) as d_b:
            push(d_b, "p9", 0, resp_rate=26)
        live = next(events)
        assert live.flag.patient_id == "p9" and live.flag.unit == UNIT_B
        events.close()
        for act in (lambda: b.claim(flags[0].id), lambda: b.resolve(flags[0].id, "NO_ACTION", "x"),
                    lambda: b.release(flags[0].id, "x")):
            with pytest.raises(VardeError) as info:
                act()
            assert info.value.code == grpc.StatusCode.NOT_FOUND  # another unit's flag does not exist for B
        assert b.claim().patient_id == "p9"  # "next" is B's own
        assert all(f.state == flags_pb2.OPEN for f in a.list_flags())
