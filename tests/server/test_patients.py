"""Per-patient settings through a secured server, on both stores: set by a coordinator, used by every push for the
patient, audited, and kept to the unit."""

from __future__ import annotations

import datetime as dt
import json

import grpc
import pytest

from tests.server.secured import UNIT_B, Secured
from tests.server.stores import store_url  # noqa: F401  (fixture)
from varde.clients.cli import main
from varde.clients.client import VardeError

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
# SpO2 90 % on air: 3 points on scale 1, 0 on scale 2 (target 88-92 %)
COPD = {"resp_rate": 16, "spo2": 90, "on_oxygen": False, "systolic_bp": 120, "pulse": 70, "consciousness": "A",
        "temperature": 37.0}


@pytest.fixture
def secured(store_url):  # noqa: F811
    s = Secured(store_url)
    yield s
    s.stop()


def test_scale_2_set_by_a_coordinator_is_used_for_every_push_of_that_patient(secured):
    with secured.token_client("coordinator", hpr="1111111") as k, secured.cert_client("device") as d:
        before = d.push({"patient_id": "copd-1", "observed_at": T0, **COPD})
        assert (before.sub_scores.spo2, before.total) == (3, 3)
        with pytest.raises(VardeError) as info:
            k.set_patient_settings("copd-1", spo2_scale=2)
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "who prescribed it" in info.value.details
        settings = k.set_patient_settings("copd-1", spo2_scale=2, prescribed_by="Dr. Lege", measure_every_minutes=240)
        assert (settings.spo2_scale, settings.spo2_scale_prescribed_by, settings.updated_by) == (
            2, "Dr. Lege", "hpr:1111111")
        assert settings.HasField("spo2_scale_prescribed_at") and settings.measure_every_minutes == 240
        after = d.push({"patient_id": "copd-1", "observed_at": T0 + dt.timedelta(hours=1), **COPD, "spo2_scale": 1})
        assert (after.sub_scores.spo2, after.total) == (0, 0)  # the prescription wins over what the device sent
        other = d.push({"patient_id": "someone-else", "observed_at": T0, **COPD})
        assert other.sub_scores.spo2 == 3
        k.set_patient_settings("copd-1", clear=["spo2_scale"])
        assert d.push({"patient_id": "copd-1", "observed_at": T0 + dt.timedelta(hours=2), **COPD}).total == 3
        assert k.patient_settings("copd-1").measure_every_minutes == 240


def test_birth_date_gives_the_age_at_each_observation(secured):
    with secured.token_client("coordinator") as k, secured.cert_client("device") as d:
        k.set_patient_settings("child-1", birth_date="2010-06-01")
        young = d.push({"patient_id": "child-1", "observed_at": dt.datetime(2026, 5, 31, tzinfo=dt.UTC), **COPD})
        grown = d.push({"patient_id": "child-1", "observed_at": dt.datetime(2026, 6, 1, tzinfo=dt.UTC), **COPD})
    assert young.not_applicable_reason == "UNDER_16" and not young.applicable
    assert grown.applicable and grown.total == 3


def test_the_patients_settings_decide_what_is_rejected_before_assembly(secured):
    # assembly reads a patient's settings in its own transaction; a reading rejected without them (here a device's
    # impossible scale) is looked at again with them, so that the prescription still wins
    with secured.token_client("coordinator") as k, secured.cert_client("device") as d:
        k.set_patient_settings("copd-2", spo2_scale=2, prescribed_by="Dr. Lege")
        fixed = d.push({"patient_id": "copd-2", "observed_at": T0, **COPD, "spo2_scale": 3})
        other = d.push({"patient_id": "someone-else", "observed_at": T0, **COPD, "spo2_scale": 3})
    assert fixed.assembled and not fixed.reject_reason and (fixed.sub_scores.spo2, fixed.total) == (0, 0)
    assert other.reject_reason == "SPO2_SCALE_INVALID" and not other.assembled


def test_settings_belong_to_the_unit_and_every_read_and_change_is_audited(secured, capsys):
    with secured.token_client("coordinator", hpr="1111111") as a, \
            secured.token_client("coordinator", unit=UNIT_B, hpr="2222222") as b:
        a.set_patient_settings("p1", pregnant=True, age=30)
        assert not b.patient_settings("p1").HasField("pregnant")  # unit B knows nothing of it
        b.set_patient_settings("p1", age=70)
        assert a.patient_settings("p1").age == 30
        with pytest.raises(VardeError) as info:
            a.set_patient_settings("p1", clear=["nonsense"])
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(VardeError):
            a.set_patient_settings("p1", birth_date="2999-01-01")
    with secured.cert_client("device") as d, pytest.raises(VardeError) as info:
        d.patient_settings("p1")
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
    secured.stop()
    assert main(["audit", "--queue", secured.queue, "--patient", "p1", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    mine = [(r["action"], r["detail"]) for r in rows if r["actor"] == "hpr:1111111"]
    assert ("SETTINGS", "age, pregnant") in mine and ("READ_SETTINGS", None) in mine
    assert all(r["patient_id"] == "p1" for r in rows)
    assert not any("30" in (r["detail"] or "") for r in rows)  # names of settings, never their values


def test_varde_patient_set_and_show(secured, tmp_path, capsys):
    token = tmp_path / "token"
    token.write_text(secured.token("coordinator", hpr="1111111"))
    conn = ["--server", secured.address, "--tls-ca", str(secured.pki.ca_path), "--tls-cert",
            str(secured.certs["operator"].cert_path), "--tls-key", str(secured.certs["operator"].key_path),
            "--token-file", str(token)]
    assert main(["patient", "set", "copd-9", "--spo2-scale", "2", "--prescribed-by", "Dr. Lege",
                 "--birth-date", "1941-03-12", *conn]) == 0
    out = capsys.readouterr().out
    assert "SpO2 scale 2, prescribed by Dr. Lege" in out and "born 1941-03-12" in out and "hpr:1111111" in out
    assert main(["patient", "show", "copd-9", "--json", *conn]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["spo2Scale"] == 2 and shown["birthDate"] == "1941-03-12"
    assert main(["patient", "set", "copd-9", "--spo2-scale", "2", *conn]) == 2
    assert "who prescribed it" in capsys.readouterr().err


def test_team_is_set_shown_cleared_and_checked(secured, tmp_path, capsys):
    with secured.token_client("coordinator", hpr="1111111") as k:
        assert k.set_patient_settings("p1", team="  Hjemmesykepleien Nord ", age=80).team == "Hjemmesykepleien Nord"
        assert k.patient_settings("p1").team == "Hjemmesykepleien Nord"
        for bad in ("   ", "x" * 81, "Nord\nSør", "Nord\u202eSør"):
            with pytest.raises(VardeError) as info:
                k.set_patient_settings("p1", team=bad)
            assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "team" in info.value.details
        cleared = k.set_patient_settings("p1", clear=["team"])
        assert cleared.team == "" and cleared.age == 80
    token = tmp_path / "token"
    token.write_text(secured.token("coordinator", hpr="1111111"))
    conn = ["--server", secured.address, "--tls-ca", str(secured.pki.ca_path), "--tls-cert",
            str(secured.certs["operator"].cert_path), "--tls-key", str(secured.certs["operator"].key_path),
            "--token-file", str(token)]
    assert main(["patient", "set", "p2", "--team", "Sør", *conn]) == 0
    assert "team Sør" in capsys.readouterr().out
    assert main(["patient", "show", "p2", *conn]) == 0
    assert "team Sør" in capsys.readouterr().out
    assert main(["patient", "show", "p2", "--json", *conn]) == 0
    assert json.loads(capsys.readouterr().out)["team"] == "Sør"
