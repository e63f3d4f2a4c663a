"""Every NEWS2 flag carries its ISBAR message, whichever path raised it: a hospital batch (built when read, from the
measurements the flag keeps) or a device's push (built when raised); `varde flags show` prints it."""

from __future__ import annotations

import datetime as dt
import json

import grpc
import pyarrow as pa
import pytest

from varde.clients.cli import main
from varde.clients.client import VardeError

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
HIGH9 = {"resp_rate": 26, "spo2": 91, "on_oxygen": False, "systolic_bp": 120, "pulse": 135, "consciousness": "a",
         "temperature": 37.05}


def test_a_batch_flag_has_an_isbar_message_naming_every_measurement(server):
    table = pa.Table.from_pylist([{"patient_id": "isbar-batch-1", "observed_at": T0, **HIGH9}])
    table = table.set_column(table.schema.get_field_index("temperature"), "temperature",
                             table.column("temperature").cast(pa.float32()))
    with server.client() as c:
        c.score(table, batch_id="isbar-batch-1")
        [high] = c.list_flags(patient_id="isbar-batch-1", kinds=["NEWS2_HIGH"])
        assert high.isbar.text_nb and high.isbar.text_en  # in lists too, not only GetFlag
        shown = c.get_flag(high.id)
        nb = shown.isbar.text_nb
        for line in ("Respirasjonsfrekvens: 26/min, delpoeng 3", "SpO2 (skala 1): 91 %, delpoeng 3",
                     "Puls: 135/min, delpoeng 3", "Temperatur: 37,05 °C, delpoeng 0", "Bevissthet (ACVPU): A"):
            assert line in nb, line
        assert "NEWS2 total 9 (high)" in shown.isbar.text_en
        assert not shown.isbar.response_policy_reviewed and shown.isbar.response_policy_version
        structured = json.loads(shown.isbar.json)
        assert set(structured) >= {"identification", "situation", "background", "current_status", "recommendation"}


def test_risk_flags_have_no_isbar_and_unknown_ids_are_not_found(server):
    with server.client() as c:
        with pytest.raises(VardeError) as info:
            c.get_flag(987654321)
        assert info.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(VardeError) as info:
            c.get_flag(0)
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_varde_flags_show_prints_the_isbar_in_either_language(server, capsys):
    with server.client() as c:
        c.push({"patient_id": "isbar-cli-1", "observed_at": T0, "source": "oximeter", **HIGH9})
        [high] = c.list_flags(patient_id="isbar-cli-1", kinds=["NEWS2_HIGH"])
    assert main(["flags", "show", str(high.id), "--server", server.address]) == 0
    out = capsys.readouterr().out
    assert "NEWS2_HIGH" in out and "Identifikasjon" in out and "Råd" in out and "(oximeter)" in out
    assert main(["flags", "show", str(high.id), "--lang", "en", "--server", server.address]) == 0
    out = capsys.readouterr().out
    assert "Identification" in out and "Recommendation" in out and "Respiration rate: 26/min, sub-score 3" in out
    assert main(["flags", "show", str(high.id), "--json", "--server", server.address]) == 0
    assert json.loads(capsys.readouterr().out)["isbar"]["textNb"].startswith("Identifikasjon")
    assert main(["flags", "show", "99999999", "--server", server.address]) == 2
    assert "no flag with id 99999999" in capsys.readouterr().err
