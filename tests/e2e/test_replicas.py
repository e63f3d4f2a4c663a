"""Two server processes on one PostgreSQL: one queue, seen and worked from either."""

from __future__ import annotations

import collections
import concurrent.futures
import datetime as dt
import threading
import time
from importlib import resources

import psycopg

from tests.e2e.test_crash import HIGH9, start
from tests.security_support import TokenIssuer
from tests.server.stores import new_postgres_database
from tests.support import free_ports
from varde._proto.varde.v1 import flags_pb2
from varde.clients.client import VardeClient, VardeError


def test_two_servers_share_one_queue(tmp_path):
    """Coordinators kari (on A) and ola (on B) of one unit, and a device, each with their own token."""
    url, drop = new_postgres_database()
    procs = []
    issuer = TokenIssuer()
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    config = tmp_path / "auth.toml"
    config.write_text(f'[tokens]\nissuer = "{issuer.issuer}"\naudience = "varde-api"\njwks = "{jwks}"\n'
                      'scheme = "Bearer"\n[tokens.scopes]\n"varde/coordinator" = "coordinator"\n'
                      '"varde/device" = "device"\n')
    kari = issuer.token(hpr_number="1111111")
    ola = issuer.token(hpr_number="2222222")
    device = issuer.token(scopes=("varde/device",), hpr_number=None)
    try:
        pa_, pb_ = free_ports(2)
        # Both start at once on the empty database: the schema migration runs under an advisory lock.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            procs = list(pool.map(lambda port: start(port, url, "--auth-config", str(config)), (pa_, pb_)))
        a, b = VardeClient(f"127.0.0.1:{pa_}", token=kari), VardeClient(f"127.0.0.1:{pb_}", token=ola)
        da, db = VardeClient(f"127.0.0.1:{pa_}", token=device), VardeClient(f"127.0.0.1:{pb_}", token=device)
        try:
            events = b.watch_flags()
            assert next(events).type == flags_pb2.FlagEvent.CAUGHT_UP  # empty queue
            when = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
            da.push({"patient_id": "shared-1", "observed_at": when, **HIGH9})
            db.push({"patient_id": "shared-1", "observed_at": when + dt.timedelta(minutes=5), **HIGH9})
            seen = [next(events) for _ in range(4)]  # raised on A, then updated from B
            assert [e.type for e in seen] == [flags_pb2.FlagEvent.RAISED] * 2 + [flags_pb2.FlagEvent.UPDATED] * 2
            flags = a.list_flags()
            assert len(flags) == 2 and all(f.occurrences == 2 for f in flags)

            target = flags[0].id
            results = {}
            barrier = threading.Barrier(2)

            def claim(client, who):
                barrier.wait()
                try:
                    results[who] = client.claim(target).claimed_by
                except VardeError as e:
                    results[who] = e.code.name

            threads = [threading.Thread(target=claim, args=(c, w)) for c, w in ((a, "kari"), (b, "ola"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results.values()) in (["FAILED_PRECONDITION", "hpr:1111111"],
                                                ["FAILED_PRECONDITION", "hpr:2222222"])
            events.close()
            with psycopg.connect(url) as conn:
                versions = [v for (v,) in conn.execute("SELECT version FROM varde_schema ORDER BY version")]
            assert versions == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]  # each migration applied once
        finally:
            for c in (a, b, da, db):
                c.close()
    finally:
        for p in procs:
            p.terminate()
            p.communicate(timeout=60)
        drop()


def test_two_servers_raise_each_overdue_and_each_escalation_once(tmp_path):
    """Both servers look for due work every 0.1 s on one PostgreSQL; each overdue patient and each escalation step
    happens once, on whichever server gets there first."""
    url, drop = new_postgres_database()
    policies = tmp_path / "policies"
    policies.mkdir()
    text = resources.files("varde.server.flags").joinpath("data/response_default.toml").read_text()
    # band ZERO due after 2 s (instead of 12 h), so that the test sees patients go overdue
    (policies / "default.toml").write_text(text.replace('measure_every = "12h"', 'measure_every = "2s"'))
    escalation = tmp_path / "escalation.toml"
    escalation.write_text('version = "t"\n[claim_within]\nHIGH = "1s"\n')
    procs = []
    try:
        ports = free_ports(2)
        args = ("--escalate-every-seconds", "0.1", "--overdue-grace-seconds", "0", "--response-policies",
                str(policies), "--escalation-policy", str(escalation))
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            procs = list(pool.map(lambda port: start(port, url, *args), ports))
        a = VardeClient(f"127.0.0.1:{ports[0]}")
        b = VardeClient(f"127.0.0.1:{ports[1]}")
        try:
            now = dt.datetime.now(dt.UTC)
            normal = {**HIGH9, "resp_rate": 16, "spo2": 97, "pulse": 70, "systolic_bp": 120, "temperature": 37.0}
            for k in range(12):
                (a if k % 2 else b).push({"patient_id": f"quiet-{k}", "observed_at": now, **normal})
            for k in range(4):
                (a if k % 2 else b).push({"patient_id": f"ill-{k}", "observed_at": now, **HIGH9})
            time.sleep(4.5)
            overdue = a.list_flags(kinds=["MEASUREMENT_OVERDUE"])
            # the ill patients are due after 15 minutes (HIGH): only the 12 quiet ones
            assert sorted(f.patient_id for f in overdue) == sorted(f"quiet-{k}" for k in range(12))
            with psycopg.connect(url) as conn:
                events = conn.execute("SELECT e.flag_id, e.type, f.kind FROM flag_events e JOIN flags f ON "
                                      "f.id = e.flag_id ORDER BY e.seq").fetchall()
            raised = [i for i, kind, flag_kind in events if kind == "RAISED" and flag_kind == "MEASUREMENT_OVERDUE"]
            assert len(raised) == len(set(raised)) == 12
            escalated = collections.Counter(i for i, kind, _ in events if kind == "ESCALATED")
            levels = {f.id: f.escalation_level for f in b.list_flags(kinds=["NEWS2_HIGH"])}
            assert len(levels) == 4 and all(level >= 2 for level in levels.values())
            assert {i: escalated[i] for i in levels} == levels  # one event per step, however many servers
        finally:
            a.close()
            b.close()
    finally:
        for p in procs:
            p.terminate()
            p.communicate(timeout=60)
        drop()

