"""A reading measured more than five minutes after the server's clock is rejected with OBSERVED_IN_FUTURE (a
device's clock set wrong), in pushes, streams and batches; a little ahead is fine (clocks differ)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from tests.support import Running

CALM = {"resp_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70, "consciousness": "A",
        "temperature": 37.0}
HIGH9 = {**CALM, "resp_rate": 26, "spo2": 91, "pulse": 135}


def test_readings_from_the_future_are_rejected_and_raise_nothing(server):
    now = dt.datetime.now(dt.UTC)
    with server.client() as c:
        ahead = c.push({"patient_id": "fut-1", "observed_at": now + dt.timedelta(hours=1), **HIGH9})
        assert ahead.reject_reason == "OBSERVED_IN_FUTURE" and ahead.total == 0 and not ahead.flag_ids
        slightly = c.push({"patient_id": "fut-2", "observed_at": now + dt.timedelta(minutes=2), **CALM})
        assert slightly.reject_reason == "" and slightly.HasField("total")
        streamed = list(c.stream([{"patient_id": "fut-3", "observed_at": now + dt.timedelta(days=30), **CALM},
                                  {"patient_id": "fut-3", "observed_at": now, **CALM}]))
        assert [a.reject_reason for a in streamed] == ["OBSERVED_IN_FUTURE", ""]
        table = pa.Table.from_pylist([
            {"patient_id": "fut-4", "observed_at": now + dt.timedelta(hours=6), **HIGH9},
            {"patient_id": "fut-5", "observed_at": now - dt.timedelta(hours=1), **HIGH9},
            {"patient_id": "fut-6", "observed_at": None, **CALM}])
        scored = c.score(table)
        flagged = {p for p in ("fut-1", "fut-4", "fut-5") if c.list_flags(patient_id=p)}  # (other tests' flags
        # may fill a page of list_flags() on the shared server)
    assert scored.column("reject_reason").to_pylist() == ["OBSERVED_IN_FUTURE", None, None]
    assert scored.column("news2_total").to_pylist()[0] is None
    assert "fut-1" not in flagged and "fut-4" not in flagged and "fut-5" in flagged


def test_a_bad_national_id_is_reported_before_a_future_time(tmp_path):
    from varde.server.config import Settings

    running = Running(Settings(address="127.0.0.1:0", queue=None, validate_national_id=True))
    try:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        table = pa.Table.from_pylist([{"patient_id": "20036914712", "observed_at": later, **CALM},
                                      {"patient_id": "20036914700", "observed_at": later, **CALM}])
        with running.client() as c:
            reasons = c.score(table).column("reject_reason").to_pylist()
        assert reasons == ["INVALID_NATIONAL_ID", "OBSERVED_IN_FUTURE"]
    finally:
        running.stop()
