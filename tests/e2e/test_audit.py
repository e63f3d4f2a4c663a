"""The audit trail after a full round trip through a secured server, read back with `varde audit`, on both stores."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa

from tests.server.secured import UNIT_A, Secured
from tests.server.stores import store_url  # noqa: F401  (fixture)
from varde.clients.cli import main

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
HIGH9 = {"resp_rate": 26, "spo2": 91, "on_oxygen": False, "systolic_bp": 120, "pulse": 135, "consciousness": "A",
         "temperature": 37.0}


def test_every_flag_access_and_scored_batch_is_in_the_audit_trail(store_url, capsys):  # noqa: F811
    secured = Secured(store_url)
    try:
        table = pa.Table.from_pylist([{"patient_id": p, "observed_at": T0, **HIGH9} for p in ("p1", "p2")])
        with secured.token_client("journal", hpr=None, client_id="ehr-1") as j:
            j.score(table, batch_id="ward-7")
        with secured.cert_client("device") as d:
            d.push({"patient_id": "p1", "observed_at": T0 + dt.timedelta(hours=1), **HIGH9})
        with secured.token_client("coordinator", hpr="1111111") as k:
            flags = k.list_flags(patient_id="p1")
            high = next(f for f in flags if f.kind == "NEWS2_HIGH")
            k.claim(high.id)
            k.release(high.id, "off shift")
            k.resolve(high.id, "VISITED", "pulse 135, seen by GP")
            events = k.watch_flags(patient_id="p1", reconnect=False)
            assert [next(events).type for _ in range(2)]  # the other open flag of p1, then CAUGHT_UP
            events.close()
    finally:
        secured.stop()

    assert main(["audit", "--queue", secured.queue, "--patient", "p1", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    mine = [(r["action"], r["method"], r["flag_id"]) for r in rows if r["actor"] == "hpr:1111111"]
    for action, method in (("READ", "ListFlags"), ("CLAIM", "ClaimFlag"), ("RELEASE", "ReleaseFlag"),
                           ("RESOLVE", "ResolveFlag")):
        assert (action, method, int(high.id)) in mine, (action, mine)
    assert any(a == "READ" and m == "WatchFlags" for a, m, _ in mine)
    assert {r["unit"] for r in rows} == {UNIT_A} and {r["patient_id"] for r in rows} == {"p1"}
    # no clinical value and no resolution note (the time is left out: its digits could hold "135" by chance)
    assert not any("135" in json.dumps({**r, "at": ""}) or "GP" in json.dumps(r) for r in rows)

    assert main(["audit", "--queue", secured.queue, "--json"]) == 0
    every = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    scored = [(r["actor"], r["method"], r["batch_id"], r["rows"]) for r in every if r["action"] == "SCORE"]
    assert ("client:ehr-1", "ScoreBatches", "ward-7/0", 2) in scored
    assert any(actor == "cert:device-1" and method == "PushObservation" and rows_ == 1
               for actor, method, _, rows_ in scored)
    assert [r["at"] for r in every] == sorted(r["at"] for r in every)

    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    assert main(["audit", "--queue", secured.queue, "--since", future]) == 0
    assert "no audit entries match" in capsys.readouterr().err
    assert main(["audit", "--queue", secured.queue, "--since", "24h", "--patient", "p1"]) == 0
    assert "RESOLVE  hpr:1111111" in capsys.readouterr().out


def test_audit_without_a_queue_says_where_to_look(tmp_path, capsys):
    assert main(["audit", "--queue", str(tmp_path / "missing.sqlite3")]) == 2
    assert "give the server's --queue" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite3").exists()
