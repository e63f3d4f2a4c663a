"""PostgreSQL away for a while: the server stays up, says so in health and metrics, answers UNAVAILABLE for calls
that need the store, keeps nothing it could not commit, and recovers by itself."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import urllib.parse
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.server.stores import new_postgres_database
from tests.support import Running
from varde.clients.client import VardeClient, VardeError
from varde.server.config import Settings

T0 = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
HIGH9 = {"resp_rate": 26, "spo2": 91, "on_oxygen": False, "systolic_bp": 120, "pulse": 135, "consciousness": "A",
         "temperature": 37.0}


class Cable:
    """A TCP proxy to PostgreSQL that the test can cut and reconnect, as a network outage would."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connect()

    def connect(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]
        self._listener.listen(64)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close alone does not
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self._conns.clear()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass


def _wait(condition, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_the_server_rides_out_a_postgresql_outage():
    url, drop = new_postgres_database()
    parsed = urllib.parse.urlsplit(url)
    cable = Cable((parsed.hostname or "127.0.0.1", parsed.port or 5432))
    proxied = parsed._replace(netloc=f"{parsed.username or 'postgres'}@127.0.0.1:{cable.port}").geturl()
    running = Running(Settings(address="127.0.0.1:0", queue=proxied))
    try:
        def metric(name: str) -> float:
            page = urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_port}/metrics", timeout=5).read()
            line = next(x for x in page.decode().splitlines() if x.startswith(name + " "))
            return float(line.split()[1])

        def health(service: str) -> int:
            with grpc.insecure_channel(running.address) as ch:
                return health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=5).status

        with VardeClient(running.address, retries=0, timeout=20) as c:
            c.push({"patient_id": "before", "observed_at": T0, **HIGH9})
            assert metric("varde_store_up") == 1

            cable.cut()
            _wait(lambda: metric("varde_store_up") == 0, "the outage was not noticed")
            assert health("varde.v1.Flags") == health_pb2.HealthCheckResponse.NOT_SERVING
            assert health("varde.v1.Observations") == health_pb2.HealthCheckResponse.NOT_SERVING
            assert health("") == health_pb2.HealthCheckResponse.SERVING  # the process is fine; no restart wanted
            started = time.monotonic()
            with pytest.raises(VardeError) as info:
                c.push({"patient_id": "during", "observed_at": T0, **HIGH9})
            assert info.value.code == grpc.StatusCode.UNAVAILABLE and "send it again" in info.value.details
            assert time.monotonic() - started < 12  # fails fast, a worker is not held
            with pytest.raises(VardeError) as info:
                c.list_flags()
            assert info.value.code == grpc.StatusCode.UNAVAILABLE

            cable.connect()
            _wait(lambda: metric("varde_store_up") == 1, "the recovery was not noticed")
            assert health("varde.v1.Flags") == health_pb2.HealthCheckResponse.SERVING
            patients = {f.patient_id for f in c.list_flags()}
            assert patients == {"before"}  # nothing from the refused push was kept
            c.push({"patient_id": "during", "observed_at": T0, **HIGH9})  # the device's retry
            assert {f.patient_id for f in c.list_flags()} == {"before", "during"}
    finally:
        running.stop()
        cable.cut()
        drop()
