"""Two server processes on one PostgreSQL: one queue, seen and worked from either."""

from __future__ import annotations

import datetime as dt
import threading

from tests.e2e.test_crash import HIGH9, start
from tests.server.stores import new_postgres_database
from varde._proto.varde.v1 import flags_pb2
from varde.clients.client import VardeClient, VardeError


def _ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def test_two_servers_share_one_queue(tmp_path):
    url, drop = new_postgres_database()
    procs = []
    try:
        pa_, pb_ = _ports(2)
        procs = [start(pa_, url), start(pb_, url)]
        a, b = VardeClient(f"127.0.0.1:{pa_}"), VardeClient(f"127.0.0.1:{pb_}")
        try:
            events = b.watch_flags()
            assert next(events).type == flags_pb2.FlagEvent.CAUGHT_UP  # empty queue
            when = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
            a.push({"patient_id": "shared-1", "observed_at": when, **HIGH9})
            b.push({"patient_id": "shared-1", "observed_at": when + dt.timedelta(minutes=5), **HIGH9})
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
                    results[who] = client.claim(target, who).claimed_by
                except VardeError as e:
                    results[who] = e.code.name

            threads = [threading.Thread(target=claim, args=(c, w)) for c, w in ((a, "kari"), (b, "ola"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results.values()) in (["FAILED_PRECONDITION", "kari"], ["FAILED_PRECONDITION", "ola"])
            events.close()
        finally:
            a.close()
            b.close()
    finally:
        for p in procs:
            p.terminate()
            p.communicate(timeout=60)
        drop()
