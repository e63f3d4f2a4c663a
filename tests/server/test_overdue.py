"""MEASUREMENT_OVERDUE (docs/home.md): raised once when a patient's next observation set does not come in time,
resolved by the server when one does; on both stores, with the server's clock moved by the test."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from tests.server.stores import SimClock, open_and_close, simulated_clock, store_url  # noqa: F401  (fixture)
from varde.server.flags.follow_up import FollowUp, OverdueWatcher
from varde.server.flags.queue import FlagQueue, Pushed
from varde.server.store import open_store
from varde.server.store.base import Caller

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
US = 1_000_000
MIN = 60 * US
HOUR = 60 * MIN
START = int(T0.timestamp() * US)
ZERO_SET = {"resp_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70, "consciousness": "A",
            "temperature": 37.0}
MEDIUM_SET = {**ZERO_SET, "resp_rate": 23, "pulse": 115, "temperature": 38.6}  # 2 + 2 + 1 = 5


@pytest.fixture
def fake_clock():
    yield from simulated_clock(START)


@pytest.fixture
def store(store_url):  # noqa: F811
    yield from open_and_close(store_url)


def push(queue: FlagQueue, patient: str, at: int, values: dict, settings: dict | None = None, unit: str = ""):
    """What PushObservation does with an accepted reading (services/observations.py), without the network."""
    from varde.server.services.observations import score_sets

    settings = {patient: settings} if settings else {}
    return queue.record_readings([Pushed(patient, at, "dev", values)], f"b-{patient}-{at}-{len(values)}",
                                 Caller("device", unit), 30 * MIN, score_sets, settings)


def overdue_flags(store, unit: str = "", states=("OPEN", "CLAIMED")):
    return [f for f in store.list_flags(Caller("t", unit), states=states) if f.kind == "MEASUREMENT_OVERDUE"]


def test_overdue_by_the_band_then_cleared_by_a_reading(store, fake_clock):
    follow = FollowUp(grace_us=15 * MIN)
    queue = FlagQueue(store, follow_up=follow)
    watcher = OverdueWatcher(store, follow, None, threading.Event())
    push(queue, "p1", START, MEDIUM_SET)  # MEDIUM: 1-hourly in the default policy
    fake_clock.at = START + HOUR + 14 * MIN
    assert watcher.run_once() == 0  # within the grace
    fake_clock.at = START + HOUR + 16 * MIN
    assert watcher.run_once() == 1
    assert watcher.run_once() == 0  # once per gap
    [flag] = overdue_flags(store)
    assert flag.severity == 2 and flag.isbar  # MEDIUM, like the band the patient was last in
    fake_clock.at += 10 * MIN
    push(queue, "p1", fake_clock.at, {"pulse": 80})
    assert overdue_flags(store) == []
    [resolved] = overdue_flags(store, states=("RESOLVED",))
    assert (resolved.outcome, resolved.claimed_by) == ("READING_ARRIVED", "varde")
    events = [kind for _, kind, f in store.events_after(0, Caller("t")) if f and f.id == flag.id]
    assert events == ["RAISED", "RESOLVED"]


def test_the_plan_asks_for_more_than_the_band(store, fake_clock):
    follow = FollowUp(grace_us=0)
    queue = FlagQueue(store, follow_up=follow)
    watcher = OverdueWatcher(store, follow, None, threading.Event())
    push(queue, "p2", START, ZERO_SET, settings={"measure_every_minutes": 30})  # band ZERO: 12-hourly
    push(queue, "p3", START, ZERO_SET)
    fake_clock.at = START + 31 * MIN
    assert watcher.run_once() == 1
    assert [f.patient_id for f in overdue_flags(store)] == ["p2"]
    fake_clock.at = START + 12 * HOUR + MIN
    assert watcher.run_once() == 1
    assert sorted(f.patient_id for f in overdue_flags(store)) == ["p2", "p3"]


def test_a_patient_with_no_plan_and_no_band_is_never_overdue(store, fake_clock):
    follow = FollowUp(grace_us=0)
    queue = FlagQueue(store, follow_up=follow)
    watcher = OverdueWatcher(store, follow, None, threading.Event())
    push(queue, "child", START, ZERO_SET, settings={"age": 12})  # not applicable: no band
    fake_clock.at = START + 7 * 24 * HOUR
    assert watcher.run_once() == 0


def test_a_late_reading_does_not_clear_overdue_and_a_resolved_overdue_is_not_raised_again(store, fake_clock):
    follow = FollowUp(grace_us=0)
    queue = FlagQueue(store, follow_up=follow)
    watcher = OverdueWatcher(store, follow, None, threading.Event())
    push(queue, "p4", START, MEDIUM_SET)
    fake_clock.at = START + 2 * HOUR
    assert watcher.run_once() == 1
    push(queue, "p4", START - 10 * MIN, {"pulse": 80})  # measured before the newest set: not a new set
    [flag] = overdue_flags(store)
    store.claim(flag.id, Caller("kari"))
    store.resolve(flag.id, Caller("kari"), "phoned: in hospital", "PHONED")
    fake_clock.at = START + 5 * HOUR
    assert watcher.run_once() == 0


def test_two_watchers_on_one_store_raise_each_overdue_once(store_url, fake_clock):  # noqa: F811
    if not store_url.startswith("postgresql"):
        pytest.skip("replicas share PostgreSQL")
    stores = [open_store(store_url) for _ in range(2)]
    try:
        follow = FollowUp(grace_us=0)
        queue = FlagQueue(stores[0], follow_up=follow)
        for k in range(40):
            push(queue, f"q{k:02d}", START, MEDIUM_SET)
        fake_clock.at = START + 2 * HOUR
        watchers = [OverdueWatcher(s, follow, None, threading.Event()) for s in stores]
        counts = []
        barrier = threading.Barrier(2)

        def run(w):
            barrier.wait()
            counts.append(sum(w.run_once() for _ in range(5)))

        threads = [threading.Thread(target=run, args=(w,)) for w in watchers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(counts) == 40
        assert len(overdue_flags(stores[0])) == 40
        raised = [f.id for _, kind, f in stores[0].events_after(0, Caller("t"), limit=10_000)
                  if kind == "RAISED" and f and f.kind == "MEASUREMENT_OVERDUE"]
        assert len(raised) == len(set(raised)) == 40
    finally:
        for s in stores:
            s.close()
