"""Readings from several devices become one observation set (docs/home.md), through a real server on both stores."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.stores import store_url  # noqa: F401  (fixture)
from tests.support import Running
from varde._proto.varde.v1 import observations_pb2 as pb
from varde.server.config import Settings
from varde.server.flags import assembly

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
OXIMETER = {"spo2": 93, "pulse": 112}  # SpO2 2, pulse 2
CUFF = {"systolic_bp": 98, "pulse": 115}  # BP 2, pulse 2
THERMOMETER = {"temperature": 38.6}  # 1
APP = {"resp_rate": 23, "consciousness": "A", "on_oxygen": False}  # 2, 0, 0: with the rest 9, HIGH


@pytest.fixture
def running(store_url):  # noqa: F811
    r = Running(queue=store_url)
    yield r
    r.stop()


def push(client, patient, at, values, device):
    return client.push({"patient_id": patient, "observed_at": at, "source": device, **values})


def parts(a) -> dict:
    return {p.parameter: (p.measured_at.ToDatetime(dt.UTC), p.device) for p in a.parts}


def test_devices_send_separately_and_the_set_fills_up_with_one_flag_per_kind(running):
    with running.client() as c:
        a1 = push(c, "home-1", T0, OXIMETER, "oximeter")
        assert a1.assembled and not a1.complete
        assert list(a1.missing) == ["resp_rate", "air_oxygen", "systolic_bp", "consciousness", "temperature"]
        assert (a1.total, a1.sub_scores.spo2, a1.sub_scores.pulse) == (4, 2, 2)
        a2 = push(c, "home-1", T0 + 5 * MIN, CUFF, "cuff")
        assert (a2.total, a2.complete) == (6, False)  # the cuff's pulse replaces the oximeter's (same score)
        assert pb.BAND_MEDIUM == a2.band  # a partial set whose present parameters reach MEDIUM raises it
        assert parts(a2)["pulse"] == (T0 + 5 * MIN, "cuff") and parts(a2)["spo2"] == (T0, "oximeter")
        a3 = push(c, "home-1", T0 + 9 * MIN, THERMOMETER, "thermometer")
        a4 = push(c, "home-1", T0 + 12 * MIN, APP, "nurse-app")
        assert (a3.total, a4.total, a4.complete, list(a4.missing)) == (7, 9, True, [])
        assert a4.band == pb.BAND_HIGH
        assert a4.observed_at.ToDatetime(dt.UTC) == T0 + 12 * MIN
        assert a4.set_started_at.ToDatetime(dt.UTC) == T0
        flags = c.list_flags(patient_id="home-1")
        kinds = sorted(f.kind for f in flags)
        assert kinds == ["NEWS2_HIGH", "NEWS2_MEDIUM"]  # one per kind, not one per reading
        high = next(f for f in flags if f.kind == "NEWS2_HIGH")
        assert set(a3.flag_ids) | set(a4.flag_ids) >= {high.id}


def test_a_reading_older_than_the_window_never_counts(running):
    with running.client() as c:
        push(c, "home-2", T0, {"temperature": 39.5}, "thermometer")
        late = push(c, "home-2", T0 + 31 * MIN, OXIMETER, "oximeter")
        assert "temperature" in late.missing and late.set_started_at.ToDatetime(dt.UTC) == T0 + 31 * MIN
        inside = push(c, "home-2", T0 + 29 * MIN, {"systolic_bp": 120}, "cuff")
        # measured 29 minutes after the thermometer, 2 before the oximeter: the newest set it belongs to is the
        # oximeter's (T0+31), and that set reaches back to T0+1: the thermometer's reading is out of it
        assert inside.observed_at.ToDatetime(dt.UTC) == T0 + 31 * MIN
        assert "temperature" in inside.missing and "systolic_bp" not in inside.missing


def test_a_late_reading_lands_in_the_set_of_its_measurement_time(running):
    with running.client() as c:
        push(c, "home-3", T0, OXIMETER, "oximeter")
        push(c, "home-3", T0 + 10 * MIN, APP, "nurse-app")
        push(c, "home-3", T0 + 3 * 60 * MIN, {"spo2": 97, "pulse": 70}, "oximeter")  # a later set, hours on
        # the cuff was offline: its reading of T0+5 arrives now and belongs to the T0 set, not the current one
        late = push(c, "home-3", T0 + 5 * MIN, CUFF, "cuff")
        assert late.observed_at.ToDatetime(dt.UTC) == T0 + 10 * MIN
        assert parts(late)["spo2"] == (T0, "oximeter") and parts(late)["systolic_bp"] == (T0 + 5 * MIN, "cuff")
        assert late.sub_scores.spo2 == 2 and list(late.missing) == ["temperature"]
        now = push(c, "home-3", T0 + 3 * 60 * MIN + MIN, THERMOMETER, "thermometer")
        assert "systolic_bp" in now.missing and now.sub_scores.spo2 == 0  # the late cuff is not in today's set


def test_a_newer_reading_of_a_parameter_replaces_the_older_and_a_same_time_resend_takes_the_last(running):
    with running.client() as c:
        push(c, "home-4", T0, {"temperature": 39.5}, "thermometer")
        again = push(c, "home-4", T0 + 2 * MIN, {"temperature": 37.0}, "thermometer")
        assert again.sub_scores.temperature == 0
        # an older reading arriving after the newer one does not replace it
        older = push(c, "home-4", T0 + MIN, {"temperature": 35.0}, "thermometer")
        assert older.observed_at.ToDatetime(dt.UTC) == T0 + 2 * MIN and older.sub_scores.temperature == 0


def test_rejected_readings_are_answered_and_kept_out_of_every_set(running):
    with running.client() as c:
        bad = push(c, "home-5", T0, {"spo2": 140}, "oximeter")
        assert bad.reject_reason == "SPO2_OUT_OF_RANGE" and not bad.assembled
        future = push(c, "home-5", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), {"pulse": 140}, "cuff")
        assert future.reject_reason == "OBSERVED_IN_FUTURE"
        good = push(c, "home-5", T0 + MIN, {"temperature": 37.0}, "thermometer")
        assert good.assembled and "spo2" in good.missing and "pulse" in good.missing


def test_a_partial_set_filling_up_is_not_a_rise(running):
    with running.client() as c:
        for k, (values, device) in enumerate(((OXIMETER, "ox"), (CUFF, "cuff"), (THERMOMETER, "t"), (APP, "app"))):
            a = push(c, "home-6", T0 + k * MIN, values, device)
            assert not a.rising, k
        assert not c.list_flags(patient_id="home-6", kinds=["NEWS2_RISING"])
        # a genuinely worse set an hour later is
        worse = push(c, "home-6", T0 + 60 * MIN, {**OXIMETER, **CUFF, **THERMOMETER, **APP, "resp_rate": 26,
                                                  "spo2": 90}, "app")
        assert worse.total == 11 and worse.complete


def test_a_retried_push_answers_the_same_and_raises_nothing_twice(running):
    with running.client() as c:
        first = push(c, "home-7", T0, {**OXIMETER, **CUFF, **THERMOMETER, **APP}, "app")
        again = push(c, "home-7", T0, {**OXIMETER, **CUFF, **THERMOMETER, **APP}, "app")
        assert (again.total, again.complete, again.assembled) == (first.total, True, True)
        assert [f.occurrences for f in c.list_flags(patient_id="home-7", kinds=["NEWS2_HIGH"])] == [1]


def test_a_set_a_coordinator_resolved_does_not_raise_again_when_a_straggler_joins_it(running):
    with running.client() as c:
        push(c, "home-10", T0, {**OXIMETER, **CUFF, **APP}, "app")  # 8: HIGH, missing temperature
        [high] = c.list_flags(patient_id="home-10", kinds=["NEWS2_HIGH"])
        c.resolve(high.id, "VISITED", "seen at home")
        late = push(c, "home-10", T0 + 10 * MIN, THERMOMETER, "thermometer")  # joins the same set
        assert late.total == 9 and late.complete
        assert not c.list_flags(patient_id="home-10", kinds=["NEWS2_HIGH"])  # nothing new to deal with
        # a new set: 40 minutes on the readings of T0 are replaced (the thermometer's of T0+10 is still in it)
        again = push(c, "home-10", T0 + 40 * MIN, {**OXIMETER, **CUFF, **APP}, "app")
        assert again.band == pb.BAND_HIGH and again.set_started_at.ToDatetime(dt.UTC) == T0 + 10 * MIN
        assert len(c.list_flags(patient_id="home-10", kinds=["NEWS2_HIGH"])) == 1


def test_the_newest_resolved_flag_of_a_kind_decides_whether_a_straggler_raises_again(running):
    with running.client() as c:
        push(c, "home-11", T0, {**OXIMETER, **CUFF, **APP}, "app")  # set A: 8, HIGH
        [first] = c.list_flags(patient_id="home-11", kinds=["NEWS2_HIGH"])
        c.resolve(first.id, "VISITED", "seen at home")
        b = push(c, "home-11", T0 + 40 * MIN, {**OXIMETER, **CUFF, **APP}, "app")  # set B: HIGH again
        assert b.set_started_at.ToDatetime(dt.UTC) == T0 + 40 * MIN
        [second] = c.list_flags(patient_id="home-11", kinds=["NEWS2_HIGH"])
        c.resolve(second.id, "PHONED", "called the patient")
        late = push(c, "home-11", T0 + 45 * MIN, THERMOMETER, "thermometer")  # joins set B, which was dealt with
        assert late.complete and late.set_started_at.ToDatetime(dt.UTC) == T0 + 40 * MIN
        assert not c.list_flags(patient_id="home-11", kinds=["NEWS2_HIGH"])


def test_a_pushed_flag_tells_the_patients_complex_needs_risk(running):
    extract = pa.table({"patient_id": ["home-12"], "age": pa.array([88], pa.int16()),
                        "icd10": pa.array([["I50.9", "C78.0"]], pa.list_(pa.string())),
                        "atc": pa.array([["C07AB02", "C03CA01"]], pa.list_(pa.string())),
                        "admissions_12m": [0], "has_coordinator": [False]})
    with running.client() as c:
        c.score_patients(extract, batch_id="gp-home-12")
        [unmet] = c.list_flags(patient_id="home-12", kinds=["RISK_UNMET_NEED"])
        reasons = json.loads(unmet.assessment_json)["risk_reasons"]
        push(c, "home-12", T0, {**OXIMETER, **CUFF, **APP, **THERMOMETER}, "app")
        [high] = c.list_flags(patient_id="home-12", kinds=["NEWS2_HIGH"])
        risk = json.loads(c.get_flag(high.id).isbar.json)["background"]["risk"]
        assert risk["tier"] == "HIGH" and risk["reasons"] == reasons[:5] and reasons
        assert "Charlson" in c.get_flag(high.id).isbar.text_en


def test_a_pushed_flag_tells_the_previous_set_and_each_parameters_previous_value(running):
    calm = {"resp_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70, "consciousness": "A",
            "temperature": 37.0}
    with running.client() as c:
        push(c, "home-14", T0, calm, "app")  # a complete set, total 0
        push(c, "home-14", T0 + 60 * MIN, {**OXIMETER, **CUFF, **THERMOMETER, **APP}, "app")  # a new set: 9, HIGH
        [high] = c.list_flags(patient_id="home-14", kinds=["NEWS2_HIGH"])
        isbar = json.loads(c.get_flag(high.id).isbar.json)
    situation = isbar["situation"]
    assert (situation["previous_total"], situation["total"], situation["change"]) == (0, 9, 9)
    pulse = next(p for p in isbar["current_status"]["parameters"] if p["name"] == "pulse")
    assert (pulse["value"], pulse["previous_value"]) == (115, 70)


def test_a_stream_assembles_in_order(running):
    with running.client() as c:
        rows = [{"patient_id": "home-8", "observed_at": T0 + k * MIN, **v}
                for k, v in enumerate((OXIMETER, CUFF, THERMOMETER, APP))]
        got = list(c.stream(rows))
        assert [a.total for a in got] == [4, 6, 7, 9] and got[-1].complete


def test_a_batched_stream_assembles_in_order_and_a_batch_sent_again_raises_nothing_twice(running):
    rows = [{"patient_id": "home-13", "observed_at": T0 + k * MIN, "source": "gateway", **v}
            for k, v in enumerate((OXIMETER, CUFF, THERMOMETER, APP))]
    with running.client() as c:
        got = list(c.stream(rows, batch=4))
        assert [a.total for a in got] == [4, 6, 7, 9] and got[-1].complete and all(a.assembled for a in got)
        flags = {f.kind: f.occurrences for f in c.list_flags(patient_id="home-13")}
        assert sorted(flags) == ["NEWS2_HIGH", "NEWS2_MEDIUM"]  # one per kind, not one per reading
        again = list(c.stream(rows, batch=4))
        assert [a.total for a in again] == [9, 9, 9, 9]  # the same readings, now all in one set
        assert {f.kind: f.occurrences for f in c.list_flags(patient_id="home-13")} == flags


def test_assembly_off_scores_every_push_as_sent(tmp_path):
    r = Running(Settings(address="127.0.0.1:0", queue=str(tmp_path / "q.sqlite3"), assembly_window_seconds=0))
    try:
        with r.client() as c:
            push(c, "home-9", T0, OXIMETER, "ox")
            a = push(c, "home-9", T0 + MIN, CUFF, "cuff")
            assert not a.assembled and a.total == 4 and "spo2" in a.missing
    finally:
        r.stop()


def test_assemble_reference_cases():
    r = assembly.Reading
    readings = [r(0, 1, "a", {"spo2": 95}), r(10, 2, "b", {"spo2": 90, "pulse": 80}), r(10, 3, "c", {"spo2": 92}),
                r(100, 4, "d", {"temperature": 37.0})]
    s = assembly.assemble(readings, 0, 20)
    # same time: the later arrival wins; the T0 reading was replaced, so the set starts at 10
    assert (s.at, s.started_at, s.values) == (10, 10, {"spo2": 92, "pulse": 80})
    s = assembly.assemble(readings, 100, 20)
    assert (s.at, s.values) == (100, {"temperature": 37.0})
    s = assembly.assemble(readings, 90, 95)  # the window reaches back from 100 to 5: the T0 reading is out
    assert s.values == {"spo2": 92, "pulse": 80, "temperature": 37.0} and s.parts["spo2"] == (10, "c")


FIELD_VALUES = {"resp_rate": (8, 30), "spo2": (85, 100), "systolic_bp": (85, 230), "pulse": (35, 140),
                "temperature": (34.5, 39.5)}


@st.composite
def readings(draw):
    n = draw(st.integers(1, 12))
    times = draw(st.lists(st.integers(0, 120), min_size=n, max_size=n, unique=True))  # minutes, distinct
    out = []
    for t in times:
        names = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), min_size=1, max_size=3, unique=True))
        values = {}
        for name in names:
            lo, hi = FIELD_VALUES[name]
            values[name] = draw(st.integers(int(lo), int(hi)) if isinstance(lo, int)
                                else st.floats(lo, hi).map(lambda x: round(x, 1)))
        out.append((t, values))
    return out


def reference_set(pushed: list[tuple[int, dict]], at: int, window: int) -> dict:
    """Obviously right: the newest reading of each field measured in [at - window, at]."""
    out = {}
    for t, values in sorted(pushed, key=lambda r: r[0]):
        if at - window <= t <= at:
            out.update(values)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=readings(), order=st.randoms(use_true_random=False))
def test_arrival_order_does_not_change_the_set(tmp_path, data, order):
    """Whatever order the devices' readings arrive in, the set a new reading joins is the reference set of the
    readings measured in the window before it, scored the same (the real store, the real kernel)."""
    import tempfile

    from varde.server.flags.queue import FlagQueue, Pushed
    from varde.server.services.observations import _observation, score_observations, score_sets
    from varde.server.store import open_store
    from varde.server.store.base import Caller

    minute = 60_000_000
    start = int(T0.timestamp() * 1_000_000)
    arrival = list(data)
    order.shuffle(arrival)
    store = open_store(tempfile.mktemp(dir=tmp_path, suffix=".sqlite3"))
    try:
        queue = FlagQueue(store)

        score = score_sets
        for k, (t, values) in enumerate(arrival):
            queue.record_readings([Pushed("p", start + t * minute, "d", values)], f"b{k}", Caller("x"),
                                  30 * minute, score, {})
        last = 121
        _, [s], (made, raw) = queue.record_readings([Pushed("p", start + last * minute, "d", {"on_oxygen": False})],
                                                    "last", Caller("x"), 30 * minute, score, {})
        expected = {**reference_set(data, last, 30), "on_oxygen": False}
        assert s.values == expected
        ref = score_observations([_observation("p", assembly.AssembledSet(s.at, s.at, expected), None)])
        assert raw.total.tolist() == ref.total.tolist()
    finally:
        store.close()
