"""What operators rely on: health, reflection, metrics over HTTP, concurrency, configuration, graceful shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tests.support import observations
from varde._proto.varde.v1 import scoring_pb2, scoring_pb2_grpc
from varde.clients.client import VardeClient
from varde.server.app import SERVICE_NAMES
from varde.server.config import ConfigError, Settings

FEVERISH = {"patient_id": "p1", "resp_rate": 22, "spo2": 95, "on_oxygen": False, "systolic_bp": 118, "pulse": 96,
            "consciousness": "A", "temperature": 38.4}


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_health_serving_for_every_service(server):
    with grpc.insecure_channel(server.address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for name in ("", *SERVICE_NAMES):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


def test_reflection_lists_and_describes_the_services(server):
    with grpc.insecure_channel(server.address) as ch:
        db = ProtoReflectionDescriptorDatabase(ch)
        services = set(db.get_services())
        assert {"varde.v1.Scoring", "varde.v1.Observations", "grpc.health.v1.Health"} <= services
        desc = db.FindFileContainingSymbol("varde.v1.Observations")
        assert "varde/v1/observations.proto" in desc.name


def test_server_info_reports_limits(server):
    with server.client() as c:
        info = c.server_info()
    assert info.max_message_bytes == 64 << 20 and info.serial_below == 10_000 and info.version


def test_metrics_count_rows_rejects_bands_and_codes(server):
    before = scrape(server.metrics_port)
    table = observations(20_000, seed=21)
    with server.client() as c:
        scored = c.score(table)
        c.push(FEVERISH)
    with grpc.insecure_channel(server.address) as ch, pytest.raises(grpc.RpcError):
        list(scoring_pb2_grpc.ScoringStub(ch).ScoreBatches(iter([scoring_pb2.ArrowBatch(arrow_ipc=b"x")])))
    after = scrape(server.metrics_port)

    def delta(key):
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta('varde_rows_scored_total{kernel="news2_parallel"}') == 20_000
    assert delta('varde_rows_scored_total{kernel="news2_serial"}') == 1
    reasons = scored.column("reject_reason").drop_null().to_pylist()
    for reason in set(reasons):
        assert delta(f'varde_rows_rejected_total{{reason="{reason}"}}') == reasons.count(reason)
    high = scored.column("news2_band").to_pylist().count("HIGH")
    assert delta('varde_band_rows_total{band="HIGH"}') == high
    assert delta('varde_band_rows_total{band="MEDIUM"}') >= 1  # the push
    assert delta('varde_rpcs_total{code="OK",method="PushObservation"}') == 1
    assert delta('varde_rpcs_total{code="OK",method="ScoreBatches"}') == 1
    assert delta('varde_rpcs_total{code="INVALID_ARGUMENT",method="ScoreBatches"}') == 1
    assert delta('varde_rpc_seconds_count{method="PushObservation"}') == 1
    assert delta('varde_kernel_seconds_count{kernel="news2_parallel"}') >= 1
    assert after["varde_ready"] == 1
    assert after['varde_rpcs_in_flight{method="ScoreBatches"}'] == 0


def test_metric_labels_hold_no_patient_data(server):
    with server.client() as c:
        c.push({**FEVERISH, "patient_id": "12345678901-secret"})
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).read().decode()
    assert "12345678901" not in text and "secret" not in text


def test_a_big_batch_does_not_block_pushes(server):
    """Pushes complete while a large batch is being scored (the kernels release the GIL, pushes run serially)."""
    table = observations(400_000, seed=22)
    done = threading.Event()
    with server.client() as c:
        def big():
            for _ in range(3):
                c.score(table)
            done.set()

        t = threading.Thread(target=big)
        t.start()
        time.sleep(0.2)
        pushed = 0
        while not done.is_set() and pushed < 20:
            assert c.push(FEVERISH).total == 5
            pushed += 1
        finished_first = not done.is_set()
        t.join()
    assert pushed == 20 and finished_first


def test_settings_from_environment_and_flags():
    s = Settings.from_env({"VARDE_ADDRESS": "0.0.0.0:6000", "VARDE_METRICS_PORT": "off", "VARDE_WORKERS": "8",
                           "VARDE_INSECURE": "true"}, workers=16)
    assert (s.address, s.metrics_port, s.workers, s.insecure) == ("0.0.0.0:6000", None, 16, True)
    assert s.max_concurrent_streams == 12  # three quarters of the workers: unary calls always find one


@pytest.mark.parametrize("address", ["0.0.0.0:50051", "10.0.0.5:50051", "[::]:50051", "varde.kommune.no:443"])
def test_a_network_address_without_tls_and_auth_is_refused(address, tmp_path):
    with pytest.raises(ConfigError, match="--tls-cert/--tls-key and --auth-config") as info:
        Settings(address=address)
    assert "--insecure" in str(info.value)
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    with pytest.raises(ConfigError, match="without --auth-config"):
        Settings(address=address, tls_cert=str(cert), tls_key=str(cert))
    assert Settings(address=address, insecure=True).insecure


@pytest.mark.parametrize("address", ["127.0.0.1:0", "localhost:50051", "[::1]:50051", "127.0.0.2:1"])
def test_loopback_needs_nothing(address):
    assert Settings(address=address).loopback


@pytest.mark.parametrize(("env", "needle"), [
    ({"VARDE_ADDRESS": "localhost"}, "must be host:port"),
    ({"VARDE_WORKERS": "many"}, "VARDE_WORKERS='many' is not a valid int"),
    ({"VARDE_MAX_MESSAGE_BYTES": "10"}, "max_message_bytes is 10"),
    ({"VARDE_METRICS_PORT": "70000"}, "metrics port 70000"),
    ({"VARDE_TLS_CERT": "/nonexistent.pem", "VARDE_TLS_KEY": "/nonexistent.key"}, "no such file"),
    ({"VARDE_TLS_CERT": "/etc/hostname"}, "go together"),
    ({"VARDE_INSECURE": "perhaps"}, "VARDE_INSECURE='perhaps' is not a valid bool"),
    ({"VARDE_MAX_CONCURRENT_STREAMS": "64"}, "below workers"),
])
def test_bad_settings_fail_fast_with_the_name(env, needle):
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(env)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_lets_an_in_flight_stream_finish_then_exits_cleanly(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "varde", "serve", "--address", f"127.0.0.1:{port}", "--metrics-port", "off",
         "--grace-seconds", "30", "--queue", str(tmp_path / "q.sqlite3")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        with VardeClient(f"127.0.0.1:{port}", retries=10) as c:
            deadline = time.monotonic() + 180
            while c.health() != "SERVING":
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline
                time.sleep(0.2)
            table = observations(50_000, seed=23)
            released = threading.Event()

            def batches():
                yield table
                released.wait(30)  # SIGTERM arrives while the stream is open
                yield table

            results = []
            t = threading.Thread(target=lambda: results.extend(c.score_batches(batches(), batch_id="drain")))
            t.start()
            time.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            released.set()
            t.join(60)
        assert sum(b.num_rows for b, _ in results) == 100_000
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "SIGTERM: draining" in out and "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_insecure_on_a_network_address_warns_in_the_log_and_on_the_metrics_page(caplog):
    import logging
    import urllib.request

    from tests.support import Running

    with caplog.at_level(logging.WARNING, logger="varde.server"):
        running = Running(Settings(address="0.0.0.0:0", insecure=True, queue=None))
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_port}/metrics", timeout=10).read().decode()
        assert "varde_insecure 1.0" in page and "WARNING" in page
        assert any("--insecure" in r.getMessage() and "WITHOUT TLS and authentication" in r.getMessage()
                   for r in caplog.records)
    finally:
        running.stop()


def test_the_local_operator_default_is_said_once(caplog):
    import logging

    from tests.support import Running

    with caplog.at_level(logging.WARNING, logger="varde.server"):
        running = Running(Settings(address="127.0.0.1:0", queue=None))
    running.stop()
    said = [r.getMessage() for r in caplog.records if "local operator" in r.getMessage()]
    assert len(said) == 1 and "127.0.0.1:0 only" in said[0]


def test_no_request_compiles_a_kernel_after_the_warm_up(tmp_path):
    """The trend kernel (NEWS2_RISING) was in no warm-up: the first batch that raised a flag compiled it (~1 s)."""
    import datetime as dt

    from tests.support import Running
    from varde.scoring import _national_id_kernel, _news2_kernel, _trend_kernel

    running = Running(Settings(address="127.0.0.1:0", queue=str(tmp_path / "q.sqlite3"),
                               validate_national_id=True))
    kernels = [_trend_kernel.trend, _news2_kernel.news2_serial, _news2_kernel.news2_parallel,
               _national_id_kernel.check_serial, _national_id_kernel.check_parallel]
    try:
        before = [list(k.signatures) for k in kernels]
        assert all(before)
        with running.client() as c:
            when = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
            for hour, resp in enumerate((16, 22, 26)):
                c.push({"patient_id": "20036914700", "observed_at": when + dt.timedelta(hours=hour),
                        "resp_rate": resp, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70,
                        "consciousness": "A", "temperature": 37.0})
            assert c.list_flags(kinds=["NEWS2_RISING"])
        assert [list(k.signatures) for k in kernels] == before
    finally:
        running.stop()


def test_home_and_fhir_settings_fail_fast_with_what_to_do(tmp_path):
    from varde.server.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="needs a --queue"):
        Settings(fhir_port=0, queue=None)
    with pytest.raises(ConfigError, match="without --tls-cert/--tls-key and --auth-config"):
        Settings(fhir_port=0, fhir_host="0.0.0.0")  # the FHIR port on a network: as strict as the gRPC one
    assert Settings(fhir_port=0, fhir_host="0.0.0.0", insecure=True).fhir_host == "0.0.0.0"
    with pytest.raises(ConfigError, match="assembly_window_seconds"):
        Settings(assembly_window_seconds=-1)
    with pytest.raises(ConfigError, match="overdue_grace_seconds"):
        Settings(overdue_grace_seconds=-5)
    with pytest.raises(ConfigError, match="no such folder"):
        Settings(response_policies=str(tmp_path / "missing"))
