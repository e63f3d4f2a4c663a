"""PushObservation, StreamObservations and StreamObservationBatches over a real socket: the same answers as the
batch kernel."""

from __future__ import annotations

import datetime as dt
import math

import grpc
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import observations
from varde._proto.varde.v1 import observations_pb2 as pb
from varde._proto.varde.v1 import observations_pb2_grpc
from varde.clients.client import observation
from varde.scoring import score_news2
from varde.scoring.schema import PARAMETERS, SUBSCORE_COLUMNS

FEVERISH = {"patient_id": "p1", "resp_rate": 22, "spo2": 95, "on_oxygen": False, "systolic_bp": 118, "pulse": 96,
            "consciousness": "A", "temperature": 38.4}


def rows(table: pa.Table) -> list[dict]:
    """Contract columns of each row as an Observation would carry them (None = not set, NaN kept).

    A float32 value goes over as the decimal it stands for (float32 36.05 as 36.05, not as 36.0499992), which
    is what the kernel assumes of a float32 column (docs/news2.md).
    """
    for i, field in enumerate(table.schema):
        if field.type == pa.float32():
            values = [None if v is None else float(str(np.float32(v))) for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(values, pa.float64()))
    out = []
    for r in table.to_pylist():
        d = {k: r.get(k) for k in ("patient_id", "resp_rate", "spo2", "spo2_scale", "on_oxygen", "systolic_bp",
                                   "pulse", "consciousness", "temperature", "age", "pregnant")}
        d["observed_at"] = r["observed_at"]
        out.append(d)
    return out


def check_same(assessment: pb.Assessment, expected: dict) -> None:
    """An Assessment agrees with one row of score_news2's result columns."""
    assert (assessment.total if assessment.HasField("total") else None) == expected["news2_total"]
    band = pb.Band.Name(assessment.band).removeprefix("BAND_")
    assert band == (expected["news2_band"] or "UNSPECIFIED")
    assert assessment.red == bool(expected["news2_red"])
    assert assessment.complete == bool(expected["news2_complete"])
    assert assessment.applicable == bool(expected["news2_applicable"])  # null (rejected) answers False
    assert assessment.reject_reason == (expected["reject_reason"] or "")
    assert assessment.not_applicable_reason == (expected["news2_not_applicable_reason"] or "")
    assert assessment.monitoring == (expected["news2_monitoring"] or "")
    assert ";".join(assessment.missing) == (expected["news2_missing"] or "")
    for param, col in zip(PARAMETERS, SUBSCORE_COLUMNS, strict=True):
        sub = assessment.sub_scores
        assert (getattr(sub, param) if sub.HasField(param) else None) == expected[col], param


def test_push_scores_one_observation(server):
    with server.client() as c:
        a = c.push({**FEVERISH, "observed_at": dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)})
    assert (a.patient_id, a.total, a.band, a.complete, a.monitoring) == ("p1", 5, pb.BAND_MEDIUM, True, "1-hourly")
    assert a.observed_at.ToDatetime(dt.UTC) == dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    assert (a.sub_scores.resp_rate, a.sub_scores.spo2, a.sub_scores.pulse, a.sub_scores.temperature) == (2, 1, 1, 1)


def test_push_partial_and_rejected(server):
    with server.client() as c:
        partial = c.push({"patient_id": "p2", "resp_rate": 26, "spo2": 97})
        bad = c.push({**FEVERISH, "pulse": float("nan")})
        no_id = c.push({k: v for k, v in FEVERISH.items() if k != "patient_id"})
    assert partial.total == 3 and not partial.complete and partial.red
    assert list(partial.missing) == ["air_oxygen", "systolic_bp", "pulse", "consciousness", "temperature"]
    assert bad.reject_reason == "PULSE_NOT_A_NUMBER" and not bad.HasField("total")
    assert bad.band == pb.BAND_UNSPECIFIED
    assert no_id.reject_reason == "MISSING_PATIENT_ID"


def test_pushes_agree_with_the_batch_kernel(server):
    table = observations(300, seed=11)
    expected = score_news2(table).to_pylist()
    with server.client() as c:
        for values, exp in zip(rows(table), expected, strict=True):
            check_same(c.push(values), exp)


def test_stream_agrees_with_the_batch_kernel_and_keeps_order(server):
    table = observations(5_000, seed=12)
    expected = score_news2(table).to_pylist()
    with server.client() as c:
        got = list(c.stream(rows(table)))
    assert len(got) == len(expected)
    for a, exp, src in zip(got, expected, rows(table), strict=True):
        assert a.patient_id == (src["patient_id"] or "")
        check_same(a, exp)


def test_a_batched_stream_agrees_with_the_batch_kernel_and_keeps_order(server):
    table = observations(5_000, seed=13)
    expected = score_news2(table).to_pylist()
    sent = rows(table)
    for r in sent:  # patients of their own: the server assembles a patient's readings of the last 30 minutes
        r["patient_id"] = r["patient_id"] and f"batched-{r['patient_id']}"
    with server.client() as c:
        assert c.server_info().max_observations_per_batch == 512
        got = list(c.stream(sent, batch=300))  # 16 full batches and a short one
        assert list(c.stream([], batch=64)) == []
    assert len(got) == len(expected)
    for a, exp, src in zip(got, expected, sent, strict=True):
        assert a.patient_id == (src["patient_id"] or "")
        check_same(a, exp)


def test_a_batch_over_the_limit_is_refused_naming_the_limit_and_an_empty_one_answers_empty(server):
    one = observation(FEVERISH)
    with grpc.insecure_channel(server.address) as ch:
        stub = observations_pb2_grpc.ObservationsStub(ch)
        replies = list(stub.StreamObservationBatches(iter([pb.ObservationBatch(), pb.ObservationBatch(
            observations=[one] * 3)]), timeout=10))
        assert [len(r.assessments) for r in replies] == [0, 3] and replies[1].assessments[0].total == 5
        with pytest.raises(grpc.RpcError) as info:
            list(stub.StreamObservationBatches(iter([pb.ObservationBatch(observations=[one] * 513)]), timeout=10))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "513 observations; at most 512" in info.value.details() and "split it" in info.value.details()
    with pytest.raises(ValueError, match="batch must be 1 or more"), server.client() as c:
        list(c.stream([FEVERISH], batch=0))


def test_stream_of_nothing_answers_nothing(server):
    with server.client() as c:
        assert list(c.stream([])) == []


def test_naive_time_is_refused_by_the_client():
    with pytest.raises(ValueError, match="time zone"):
        observation({"patient_id": "p", "observed_at": dt.datetime(2026, 1, 1)})


def test_unknown_field_is_refused_by_the_client():
    with pytest.raises(ValueError, match="heart_rate"):
        observation({"patient_id": "p", "heart_rate": 80})


def test_raw_stub_push_unset_fields_mean_not_measured(server):
    with grpc.insecure_channel(server.address) as ch:
        a = observations_pb2_grpc.ObservationsStub(ch).PushObservation(pb.Observation(patient_id="x"), timeout=10)
    assert a.reject_reason == "NO_VITAL_SIGNS"
    assert not math.isnan(a.total) and not a.HasField("total")


_NUMBER_FIELDS = ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature", "spo2_scale", "age")
_maybe_number = st.one_of(st.none(), st.sampled_from([math.nan, math.inf]), st.integers(-5, 400).map(float),
                          st.floats(-10, 400, allow_nan=False).map(lambda x: round(x, 1)))
_one_push = st.fixed_dictionaries({
    "patient_id": st.sampled_from(["", "p1", "01010750160", "01010750161"]),  # none, no id, valid, bad checksum
    **{name: _maybe_number for name in ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature")},
    "spo2_scale": st.one_of(st.none(), st.integers(-1, 3)),
    "age": st.one_of(st.none(), st.integers(-1, 130)),
    "on_oxygen": st.one_of(st.none(), st.booleans()),
    "pregnant": st.one_of(st.none(), st.booleans()),
    "consciousness": st.sampled_from(["", "A", "c", " V ", "Reagerer på tiltale", "sleepy"]),
    "seconds": st.one_of(st.none(), st.just(1_700_000_000), st.just(4_000_000_000)),  # none, past, future
})


@settings(deadline=None, max_examples=300)
@given(_one_push, st.booleans())
def test_a_single_push_is_answered_as_the_general_path_answers_it(values, check_ids):
    # One observation takes its own path (score_one, one Assessment, nothing unpacked); the same observation as the
    # first of two takes the general one. Their answers are the same message.
    from varde.server.services.observations import assessments, score_observations

    obs = pb.Observation(patient_id=values["patient_id"], consciousness=values["consciousness"])
    for name in (*_NUMBER_FIELDS, "on_oxygen", "pregnant"):
        if values[name] is not None:
            setattr(obs, name, values[name])
    if values["seconds"] is not None:
        obs.observed_at.seconds = values["seconds"]
    single = assessments([obs], score_observations([obs], check_ids))[0]
    general = assessments([obs, obs], score_observations([obs, obs], check_ids))[0]
    assert single == general
