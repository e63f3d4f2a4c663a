"""A simulated day of home follow-up (issue: home follow-up), on both stores, through a real server whose clock the
test moves: devices send parameters separately, a device goes quiet, an unclaimed HIGH flag escalates, a late
reading lands in its set, a clinician's scale 2 changes the next score, and the ISBAR message names it all."""

from __future__ import annotations

import datetime as dt
import time
import urllib.request

import pytest

from tests.server.stores import store_url  # noqa: F401  (fixture)
from tests.support import Running
from varde._proto.varde.v1 import flags_pb2
from varde.server import clock
from varde.server.config import Settings

T0 = dt.datetime(2026, 11, 23, 7, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)


class Clock:
    def __init__(self):
        self.at = T0

    def __call__(self) -> int:
        return int(self.at.timestamp() * 1_000_000)


@pytest.fixture
def day(store_url, tmp_path):  # noqa: F811
    c = Clock()
    clock.use(c)
    policy = tmp_path / "escalation.toml"
    policy.write_text('version = "test"\n[claim_within]\nHIGH = "15m"\nMEDIUM = "60m"\n')
    running = Running(Settings(address="127.0.0.1:0", queue=store_url, escalate_every_seconds=0.1,
                               escalation_policy=str(policy), overdue_grace_seconds=600))
    try:
        yield running, c
    finally:
        running.stop()
        clock.use(None)


def until(check, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def push(c, patient, at, device, **values):
    return c.push({"patient_id": patient, "observed_at": at, "source": device, **values})


def test_a_day_of_home_follow_up(day):
    running, now = day
    with running.client() as c:
        # 07:00 A clinician prescribes SpO2 scale 2 for Per (COPD) before his first reading.
        c.set_patient_settings("per", spo2_scale=2, prescribed_by="Dr. Lege", measure_every_minutes=240)

        # 07:00-07:12 Three patients, each with devices that send separately.
        now.at = T0 + 12 * MIN  # the devices send as they measure; the last at 07:12
        for patient, spo2, pulse, bp, temp, resp in (("anna", 93, 112, 98, 38.6, 23), ("bjorn", 97, 72, 128, 36.8, 14),
                                                     ("per", 89, 84, 135, 37.1, 18)):
            push(c, patient, T0, "oximeter", spo2=spo2, pulse=pulse)
            push(c, patient, T0 + 4 * MIN, "cuff", systolic_bp=bp, pulse=pulse)
            push(c, patient, T0 + 8 * MIN, "thermometer", temperature=temp)
            last = push(c, patient, T0 + 12 * MIN, "nurse-app", resp_rate=resp, consciousness="A", on_oxygen=False)
            assert last.complete and last.assembled
            if patient == "per":
                assert last.sub_scores.spo2 == 0 and last.total == 0  # 89 % on scale 2 is in target
            if patient == "anna":
                assert last.total == 9
        flags = c.list_flags()
        assert sorted((f.patient_id, f.kind) for f in flags) == [("anna", "NEWS2_HIGH"), ("anna", "NEWS2_MEDIUM")]
        high = next(f for f in flags if f.kind == "NEWS2_HIGH")

        # The ISBAR message names every parameter with its sub-score, in both languages.
        shown = c.get_flag(high.id)
        for label, score in (("Respirasjonsfrekvens", 2), ("SpO2", 2), ("Luft eller oksygen", 0),
                             ("Systolisk blodtrykk", 2), ("Puls", 2), ("Bevissthet", 0), ("Temperatur", 1)):
            assert any(line.startswith(f"- {label}") and f"delpoeng {score}" in line
                       for line in shown.isbar.text_nb.splitlines()), label
        assert "sub-score 1" in shown.isbar.text_en and "Recommendation" in shown.isbar.text_en
        assert not shown.isbar.response_policy_reviewed  # the shipped default: the unit must review it

        # 07:28 nobody has claimed the HIGH flag: it escalates, then again at 07:43; a claim stops it.
        now.at = T0 + 28 * MIN
        until(lambda: c.get_flag(high.id).escalation_level == 1, "the first escalation")
        now.at = T0 + 43 * MIN
        until(lambda: c.get_flag(high.id).escalation_level == 2, "the second escalation")
        c.claim(high.id)
        now.at = T0 + 90 * MIN
        time.sleep(0.5)
        assert c.get_flag(high.id).escalation_level == 2

        # 08:30 Anna's cuff was offline: its 07:06 reading lands in the 07:00 set, not a new one.
        late = push(c, "anna", T0 + 6 * MIN, "cuff", systolic_bp=118)
        assert late.observed_at.ToDatetime(dt.UTC) == T0 + 12 * MIN and late.sub_scores.systolic_bp == 0
        # 08:40 Per's scale 2 is still used for his next push; a new set, measured now
        per = push(c, "per", now.at, "oximeter", spo2=88)
        assert per.sub_scores.spo2 == 0

        # Bjørn's devices go quiet. His band (ZERO) asks for a set every 12 hours; 10 minutes' grace.
        now.at = T0 + 12 * MIN + dt.timedelta(hours=12) + 11 * MIN
        overdue = until(lambda: c.list_flags(kinds=["MEASUREMENT_OVERDUE"], patient_id="bjorn"), "overdue")
        assert len(overdue) == 1
        # Per's plan (every 4 h) made him overdue long before
        assert c.list_flags(kinds=["MEASUREMENT_OVERDUE"], patient_id="per")
        assert "Ta et nytt observasjonssett" in c.get_flag(overdue[0].id).isbar.text_nb
        push(c, "bjorn", now.at, "oximeter", spo2=97, pulse=70)
        assert not c.list_flags(kinds=["MEASUREMENT_OVERDUE"], patient_id="bjorn")
        cleared = c.get_flag(overdue[0].id)
        assert (cleared.state, cleared.outcome) == (flags_pb2.RESOLVED, "READING_ARRIVED")

        c.resolve(high.id, "VISITED", "visited; GP contacted")

    text = urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_port}/metrics").read().decode()
    for line in ('varde_observation_sets_total{completeness="partial"}',
                 'varde_observation_sets_total{completeness="complete"}', "varde_measurements_overdue_total",
                 "varde_measurements_overdue_cleared_total 1.0",
                 'varde_flags_escalated_total{severity="HIGH"}',
                 'varde_flag_raise_to_claim_seconds_count{kind="NEWS2_HIGH",severity="HIGH"} 1.0',
                 'varde_flag_raise_to_resolve_seconds_count{kind="NEWS2_HIGH",severity="HIGH"} 1.0',
                 'varde_flag_outcomes_total{kind="NEWS2_HIGH",outcome="VISITED"} 1.0'):
        assert line in text, line
