"""Kill -9 of a server in the middle of a streamed batch: nothing a client was told about is lost, and
resubmitting the stream duplicates nothing (a real process, a real SQLite file)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pyarrow as pa
import pytest

from tests.server.stores import new_postgres_database
from varde.clients.client import VardeClient, VardeError

CALM = {"resp_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70, "consciousness": "A",
        "temperature": 37.0}
HIGH9 = {**CALM, "resp_rate": 26, "spo2": 91, "pulse": 135}
BATCHES, ROWS, EVERY = 60, 2_000, 50


def batch(k: int) -> pa.RecordBatch:
    """Batch k: its own patients; every EVERY-th row HIGH (raising NEWS2_HIGH and NEWS2_RED)."""
    rows = [{"patient_id": f"b{k}-p{i}", **(HIGH9 if i % EVERY == 0 else CALM)} for i in range(ROWS)]
    return pa.RecordBatch.from_pylist(rows)


def start(port: int, queue: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "varde", "serve", "--address", f"127.0.0.1:{port}", "--metrics-port", "off",
         "--queue", queue, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    with VardeClient(f"127.0.0.1:{port}", retries=0, timeout=5) as c:
        # an early exit (port taken, bad queue) fails here with the server's own message
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if c.health() == "SERVING":
                    return proc
            except VardeError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_kill_9_mid_stream_loses_no_acknowledged_flag_and_resubmitting_duplicates_nothing(tmp_path, store):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if store == "sqlite":
        queue, drop = str(tmp_path / "queue.sqlite3"), None
    else:
        queue, drop = new_postgres_database()
    try:
        _crash_and_resubmit(port, queue)
    finally:
        if drop:
            drop()


def _crash_and_resubmit(port: int, queue: str) -> None:
    proc = start(port, queue)
    acknowledged = []
    try:
        with VardeClient(f"127.0.0.1:{port}", timeout=120) as c:
            try:
                for k, (_, summary) in enumerate(c.score_batches((batch(k) for k in range(BATCHES)),
                                                                 batch_id="crash")):
                    acknowledged.append((k, summary))
                    if k == 10:
                        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: later batches are in flight
            except VardeError as e:
                assert e.code.name in ("UNAVAILABLE", "CANCELLED", "INTERNAL"), e
    finally:
        proc.kill()
        proc.communicate()
    assert 10 < len(acknowledged) < BATCHES  # the stream really was cut

    proc = start(port, queue)
    try:
        with VardeClient(f"127.0.0.1:{port}") as c:
            flags = c.list_flags(limit=10_000)
            have = {(f.patient_id, f.kind) for f in flags}
            for k, _ in acknowledged:
                for i in range(0, ROWS, EVERY):
                    assert (f"b{k}-p{i}", "NEWS2_HIGH") in have and (f"b{k}-p{i}", "NEWS2_RED") in have
            # each acknowledged batch raised its flags
            assert all(s.flags_raised == 2 * ROWS // EVERY for _, s in acknowledged)
            before = {f.id: f.occurrences for f in flags}

            # resubmit the whole stream with the same batch ids
            replies = [s for _, s in c.score_batches((batch(k) for k in range(BATCHES)), batch_id="crash")]
            assert len(replies) == BATCHES
            assert all(r.flags_replayed for r in replies[:len(acknowledged)])
            after = c.list_flags(limit=10_000)
            assert len(after) == 2 * BATCHES * ROWS // EVERY
            assert max(Counter((f.patient_id, f.kind) for f in after).values()) == 1
            assert all(f.occurrences == 1 for f in after)
            assert all(before[i] == 1 for i in before)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
