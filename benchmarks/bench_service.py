"""The gRPC service under load: Varde against Arrow Flight, raw grpcio and a FastAPI endpoint, in one run.

    python benchmarks/bench_service.py [--rows N] [--repeat K] [--seconds S] [--markdown]

Every server runs in its own process (Python's GIL would otherwise be shared with the load generator), in a scratch
directory: Varde as `varde serve` (flag queue off unless --flags), the peers as this script started again with a
hidden --serve option. All are stopped at exit, on Ctrl-C and on SIGTERM. What is measured:

1. ScoreBatches streaming: --rows synthetic rows (benchmarks/_data.py) through `VardeClient.score(table)`, end to
   end: the client cuts ~4 MiB chunks, writes each as its own Arrow IPC stream, the server scores it and returns
   the result columns only, the client re-attaches the input columns. Peers on the same chunks:
   - flight do_exchange: pyarrow.flight; the server echoes every batch back (no scoring). One IPC stream for the
     whole exchange, so the patient_id dictionary goes over the wire once, not once per chunk.
   - grpc-echo: a raw grpcio bidi stream echoing bytes; the client sends Varde's own request payloads (IPC
     serialised beforehand, outside the timing): the transport alone.
   - flight + score_news2: the Flight exchange with the server scoring each batch and returning the result
     columns, the client re-attaching them: Varde's work on Flight's transport (not Varde's API).
   Best and median of --repeat; MB/s counts the input's Arrow bytes (table.nbytes) for every peer. Then the CPU
   each stage of the Varde path costs, each stage alone in this process (no network).
2. PushObservation (unary): 1, 8 and 64 concurrent clients, --seconds each after --warmup; p50/p99 latency,
   requests/s and the server's CPU per request (from /proc). Load from h2load (nghttp2's C load generator; gRPC
   as HTTP/2 POSTs) when it is installed, else from Python processes (--loadgen). Floors: the same RPC on a
   sync grpcio server (set up as Varde's) and on grpc.aio, both answering a fixed Assessment.
3. StreamObservations: --stream-obs observations over one stream from `VardeClient.stream`, best of 3; the same
   against the two no-op servers; then StreamObservationBatches, --stream-batch observations a message
   (`VardeClient.stream(..., batch=N)`).
4. FastAPI: an `async def` endpoint under uvicorn (one process, uvloop + httptools when installed, access log
   off) that parses the same observation as JSON (a pydantic model), scores it with `score_news2` on a one-row
   table and returns the result row as JSON; 1 and 8 clients, same load generator as (2). Skipped when fastapi
   or uvicorn is not installed (pip install -e '.[bench]').

Targets (/work/shared/targets.md): ScoreBatches >= 80 % of Flight; PushObservation p99 < 3 ms unloaded and
>= 3,000 obs/s, and at 8 clients at least FastAPI's req/s with p99 <= 3 ms; StreamObservations >= 10x FastAPI's
req/s. On 2 cores the load generator and the server share the machine: the run ends by saying how many cores
other processes used (loopback softirq time, which is this run's own traffic, not counted).
"""

from __future__ import annotations

import argparse
import array
import atexit
import contextlib
import ctypes
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import generate  # noqa: E402

MiB = 1 << 20
HOST = "127.0.0.1"
ECHO_METHOD = "/bench.Echo/Echo"
PUSH_LEVELS = (1, 8, 64)
FASTAPI_LEVELS = (1, 8)
# Floors for PushObservation: the same RPC answering a fixed Assessment (no scoring), sync and asyncio grpcio.
NOOP_LEVELS = {"grpc-noop": (1, 8), "grpc-aio-noop": (8,)}
NOOP_NAMES = {"grpc-noop": "grpc sync no-op", "grpc-aio-noop": "grpc.aio no-op"}
PAYLOAD_ROWS = 4096  # distinct observations the load generators cycle through
FLIGHT, VARDE_STREAM = "flight do_exchange", "varde ScoreBatches"


# ---------------------------------------------------------------------------------------------- child processes


def _die_with_parent() -> None:
    """In a child before exec: get SIGTERM when the parent dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Children:
    """Server processes started by this run, in a scratch directory of their own (their working directory: nothing
    lands in the repository); all are stopped and the directory removed at exit, on Ctrl-C and on SIGTERM."""

    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []
        self.dir = Path(tempfile.mkdtemp(prefix="bench-service-"))
        atexit.register(self.stop_all)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = self.dir / f"{name}.log"
        with open(log, "wb") as f:
            proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir,
                                    env={**os.environ, **(env or {})}, preexec_fn=_die_with_parent)
        self.procs.append((name, proc, log))
        return proc

    def log_of(self, proc: subprocess.Popen) -> str:
        for _, p, log in self.procs:
            if p is proc:
                return log.read_text(errors="replace")[-3000:]
        return ""

    def check_alive(self) -> None:
        for name, proc, log in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"the {name} server exited ({proc.returncode}):\n"
                                   f"{log.read_text(errors='replace')[-3000:]}")

    def stop_all(self, remove: bool = True) -> None:
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for _, proc, _ in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], bool], proc: subprocess.Popen, children: Children, what: str,
             timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready:\n{children.log_of(proc)}")
        with contextlib.suppress(Exception):
            if check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {timeout:.0f} s:\n{children.log_of(proc)}")
        time.sleep(0.1)


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def machine_busy_seconds() -> float:
    """user + nice + system + irq CPU seconds of the machine. Not softirq: on loopback that is mostly this run's
    own traffic (TCP receive processing), which no process is charged for."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields[:3]) + fields[5]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def own_cpu_seconds() -> float:
    """This process and its reaped children (servers, load generators)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# ---------------------------------------------------------------------------------------------- peer servers


def serve_flight(port: int) -> None:
    """do_exchange with command b"echo": every batch back as it came; b"score": score_news2's result columns."""
    import pyarrow.flight as flight

    from varde.scoring import RESULT_COLUMNS, score_news2, warm_up

    results = list(RESULT_COLUMNS)

    class Peer(flight.FlightServerBase):
        def do_exchange(self, context, descriptor, reader, writer):
            score = descriptor.command == b"score"
            started = False
            while True:
                try:
                    batch = reader.read_chunk().data
                except StopIteration:
                    break
                if score:
                    batch = score_news2(batch).select(results)
                if not started:
                    writer.begin(batch.schema)
                    started = True
                writer.write_batch(batch)

    warm_up()
    server = Peer(f"grpc://{HOST}:{port}")
    print("READY", flush=True)
    server.serve()


def _noop_assessment():
    from varde._proto.varde.v1 import observations_pb2 as pb

    a = pb.Assessment(patient_id="p000001", band=pb.BAND_LOW, complete=True, monitoring="4-6-hourly", applicable=True)
    a.total = 1
    a.sub_scores.resp_rate = 1
    return a


def serve_grpc_noop(port: int) -> None:
    """Push and Stream answering a fixed Assessment on a sync grpcio server set up as Varde's (64 workers)."""
    from concurrent import futures

    import grpc

    from varde._proto.varde.v1 import observations_pb2_grpc

    answer = _noop_assessment()

    class Noop(observations_pb2_grpc.ObservationsServicer):
        def PushObservation(self, request, context):
            return answer

        def StreamObservations(self, request_iterator, context):
            for _ in request_iterator:
                yield answer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), maximum_concurrent_rpcs=1000)
    observations_pb2_grpc.add_ObservationsServicer_to_server(Noop(), server)
    server.add_insecure_port(f"{HOST}:{port}")
    server.start()
    print("READY", flush=True)
    server.wait_for_termination()


def serve_grpc_aio_noop(port: int) -> None:
    """The same fixed answer on grpc.aio (one asyncio loop, no worker threads)."""
    import asyncio

    import grpc

    from varde._proto.varde.v1 import observations_pb2_grpc

    answer = _noop_assessment()

    class Noop(observations_pb2_grpc.ObservationsServicer):
        async def PushObservation(self, request, context):
            return answer

        async def StreamObservations(self, request_iterator, context):
            async for _ in request_iterator:
                yield answer

    async def main() -> None:
        server = grpc.aio.server()
        observations_pb2_grpc.add_ObservationsServicer_to_server(Noop(), server)
        server.add_insecure_port(f"{HOST}:{port}")
        await server.start()
        print("READY", flush=True)
        await server.wait_for_termination()

    asyncio.run(main())


def serve_grpc_echo(port: int) -> None:
    from concurrent import futures

    import grpc

    def echo(request_iterator, context):
        yield from request_iterator

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.stream_stream_rpc_method_handler(echo)})  # no (de)serialisers: raw bytes
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), handlers=[handler],
                         options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
    server.add_insecure_port(f"{HOST}:{port}")
    server.start()
    print("READY", flush=True)
    server.wait_for_termination()


def fastapi_app():
    from fastapi import FastAPI
    from pydantic import BaseModel

    from varde.scoring import RESULT_COLUMNS, score_news2

    class Observation(BaseModel):
        patient_id: str
        observed_at: dt.datetime | None = None
        resp_rate: float | None = None
        spo2: float | None = None
        spo2_scale: int | None = None
        on_oxygen: bool | None = None
        systolic_bp: float | None = None
        pulse: float | None = None
        consciousness: str | None = None
        temperature: float | None = None
        age: int | None = None
        pregnant: bool | None = None

    # The types PushObservation's server builds from the protobuf message (varde.server.services.observations).
    schema = pa.schema([
        ("patient_id", pa.string()), ("observed_at", pa.timestamp("us", tz="UTC")), ("resp_rate", pa.float64()),
        ("spo2", pa.float64()), ("spo2_scale", pa.int32()), ("on_oxygen", pa.bool_()), ("systolic_bp", pa.float64()),
        ("pulse", pa.float64()), ("consciousness", pa.string()), ("temperature", pa.float64()), ("age", pa.int32()),
        ("pregnant", pa.bool_()),
    ])  # fmt: skip
    results = list(RESULT_COLUMNS)
    app = FastAPI()

    async def score(obs: Observation) -> dict:
        table = pa.Table.from_pylist([obs.model_dump()], schema=schema)
        row = score_news2(table).select(results).to_pylist()[0]
        row["patient_id"] = obs.patient_id
        return row

    # Real annotations, not the strings of `from __future__ import annotations`: FastAPI reads them for the body.
    score.__annotations__ = {"obs": Observation, "return": dict}
    app.post("/score")(score)
    return app


def serve_fastapi(port: int) -> None:
    import uvicorn

    from varde.scoring import warm_up

    warm_up()
    app = fastapi_app()
    print("READY", flush=True)
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


SERVE_ROLES = {"flight": serve_flight, "grpc-echo": serve_grpc_echo, "fastapi": serve_fastapi,
               "grpc-noop": serve_grpc_noop, "grpc-aio-noop": serve_grpc_aio_noop}


def start_peer(children: Children, role: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = children.start(role, [sys.executable, __file__, "--serve", role, "--port", str(port)])
    return proc, port


# ---------------------------------------------------------------------------------------------- 1. ScoreBatches


@dataclass
class Timed:
    name: str
    times: list[float]
    note: str
    wire_mb: float
    server_cpu: float = float("nan")  # server CPU seconds per run (median)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def time_runs(fn: Callable[[], object], repeat: int, server_pid: int | None) -> tuple[list[float], float]:
    import gc

    fn()  # warm-up
    times, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        cpu0 = proc_cpu_seconds(server_pid) if server_pid else float("nan")
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpus.append(proc_cpu_seconds(server_pid) - cpu0 if server_pid else float("nan"))
    return times, statistics.median(cpus)


def chunks_of(table: pa.Table, chunk_bytes: int) -> list[pa.RecordBatch]:
    from varde.clients.client import _chunks

    return list(_chunks(table.combine_chunks().to_batches()[0], chunk_bytes))


def bench_varde_stream(address: str, table: pa.Table, repeat: int, pid: int, chunk_bytes: int) -> Timed:
    from varde.clients.client import VardeClient, _ipc
    from varde.scoring import score_news2

    client = VardeClient(address, chunk_bytes=chunk_bytes)
    scored = client.score(table)
    want = score_news2(table).column("news2_total")
    if scored.num_rows != table.num_rows or not scored.column("news2_total").equals(want):
        raise RuntimeError("ScoreBatches returned totals that differ from score_news2 in this process")
    times, cpu = time_runs(lambda: client.score(table), repeat, pid)
    client.close()
    wire = sum(len(_ipc(c)) for c in chunks_of(table, chunk_bytes)) / 1e6
    note = f"VardeClient.score(table): {len(chunks_of(table, chunk_bytes))} requests of ~{chunk_bytes / MiB:.0f} MiB"
    return Timed(VARDE_STREAM, times, note + ", scored, results re-attached", wire, cpu)


def bench_flight(port: int, table: pa.Table, repeat: int, pid: int, chunk_bytes: int, command: bytes) -> Timed:
    import pyarrow.flight as flight

    from varde.scoring import RESULT_COLUMNS

    chunks = chunks_of(table, chunk_bytes)
    schema = chunks[0].schema
    client = flight.FlightClient(f"grpc://{HOST}:{port}")
    client.wait_for_available(30)
    descriptor = flight.FlightDescriptor.for_command(command)
    scoring = command == b"score"

    def run() -> pa.Table:
        writer, reader = client.do_exchange(descriptor)
        failed: list[BaseException] = []

        def send():
            try:
                writer.begin(schema)
                for c in chunks:
                    writer.write_batch(c)
                writer.done_writing()
            except BaseException as e:  # noqa: B036 - handed to the main thread
                failed.append(e)

        sender = threading.Thread(target=send)
        sender.start()
        out = []
        while True:
            try:
                out.append(reader.read_chunk().data)
            except StopIteration:
                break
        sender.join()
        writer.close()
        if failed:
            raise failed[0]
        if not scoring:
            return pa.Table.from_batches(out, schema=schema)
        # As VardeClient does: the input columns beside the result columns.
        keep = [name for name in schema.names if name not in RESULT_COLUMNS]
        merged = [pa.RecordBatch.from_arrays([c.column(n) for n in keep] + r.columns,
                                             names=keep + r.schema.names) for c, r in zip(chunks, out, strict=True)]
        return pa.Table.from_batches(merged)

    back = run()
    if back.num_rows != table.num_rows:
        raise RuntimeError(f"Flight returned {back.num_rows} rows of {table.num_rows}")
    times, cpu = time_runs(run, repeat, pid)
    client.close()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as w:
        for c in chunks:
            w.write_batch(c)
    wire = sink.getvalue().size / 1e6
    if scoring:
        return Timed("flight + score_news2", times, "the same exchange, the server scoring each batch and "
                     "returning the result columns (not Varde's API: what Varde's work costs on Flight)", wire, cpu)
    return Timed(FLIGHT, times, f"same {len(chunks)} batches on one exchange, echoed back", wire, cpu)


def bench_grpc_echo(port: int, table: pa.Table, repeat: int, pid: int, chunk_bytes: int) -> Timed:
    import grpc

    from varde.clients.client import _ipc

    payloads = [_ipc(c).to_pybytes() for c in chunks_of(table, chunk_bytes)]
    channel = grpc.insecure_channel(f"{HOST}:{port}", [("grpc.max_receive_message_length", -1),
                                                         ("grpc.max_send_message_length", -1)])
    grpc.channel_ready_future(channel).result(timeout=30)
    echo = channel.stream_stream(ECHO_METHOD)  # bytes in, bytes out

    def run() -> int:
        n = sum(len(b) for b in echo(iter(payloads), timeout=60))
        if n != sum(len(p) for p in payloads):
            raise RuntimeError("grpc echo returned other bytes than it was sent")
        return n

    times, cpu = time_runs(run, repeat, pid)
    channel.close()
    wire = sum(len(p) for p in payloads) / 1e6
    return Timed("grpc-echo", times, "raw grpcio bidi stream echoing Varde's request bytes (IPC made beforehand)",
                 wire, cpu)


def varde_breakdown(table: pa.Table, chunk_bytes: int, repeat: int) -> list[tuple[str, float]]:
    """CPU time per stage of the Varde path over all chunks, in this process (no network), best of `repeat`."""
    from varde.clients.client import _ipc, _one_batch
    from varde.scoring import RESULT_COLUMNS, score_news2
    from varde.scoring.summary import count
    from varde.server.services.scoring import read_ipc, write_ipc

    chunks = chunks_of(table, chunk_bytes)
    requests = [_ipc(c) for c in chunks]
    inputs = [read_ipc(r) for r in requests]
    scored = [score_news2(t) for t in inputs]
    replies = [write_ipc(s.select(list(RESULT_COLUMNS))) for s in scored]

    def merge_all():
        for chunk, reply in zip(chunks, replies, strict=True):
            with pa.ipc.open_stream(reply) as reader:
                results = _one_batch(reader.read_all())
            keep = [i for i, name in enumerate(chunk.schema.names) if name not in RESULT_COLUMNS]
            pa.RecordBatch.from_arrays([chunk.column(i) for i in keep] + results.columns,
                                       schema=pa.schema([chunk.schema.field(i) for i in keep] + list(results.schema)))

    stages = [
        ("client: chunk -> IPC buffer (_ipc)", lambda: [_ipc(c) for c in chunks]),
        ("server: read_ipc (zero-copy)", lambda: [read_ipc(r) for r in requests]),
        ("server: score_news2 (parallel kernel)", lambda: [score_news2(t) for t in inputs]),
        ("server: count() for the summary", lambda: [count(s) for s in scored]),
        ("server: select results + write_ipc",
         lambda: [write_ipc(s.select(list(RESULT_COLUMNS))) for s in scored]),
        ("client: read reply IPC + re-attach input columns", merge_all),
    ]
    out = []
    for name, fn in stages:
        fn()
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out.append((name, best))
    return out


# ---------------------------------------------------------------------------------------------- 2./4. load


def _load_worker(kind: str, port: int, n_clients: int, payloads: list[bytes], start_at: float, stop_at: float,
                 out: mp.Queue) -> None:
    """One load-generating process: `n_clients` threads, each with its own connection, in a closed loop."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)
    make_call = _grpc_caller if kind == "grpc" else _http_caller
    make_call(port, payloads[:1])[1]()  # imports done before the threads start
    results: list[tuple[array.array, int, str]] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        lat = array.array("d")
        errors, first_error = 0, ""
        try:
            call, close = make_call(port, payloads)
        except Exception as e:
            with lock:
                results.append((lat, 1, repr(e)))
            return
        i = k * 997
        n = len(payloads)
        now = time.monotonic()
        while now < stop_at:
            t0 = now
            try:
                call(i % n)
            except Exception as e:
                errors += 1
                first_error = first_error or repr(e)[:300]
                time.sleep(0.001)
            now = time.monotonic()
            if t0 >= start_at and now <= stop_at:
                lat.append(now - t0)
            i += 1
        close()
        with lock:
            results.append((lat, errors, first_error))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat = array.array("d")
    for r in results:
        lat.extend(r[0])
    errors = sum(r[1] for r in results)
    first = next((r[2] for r in results if r[2]), "")
    out.put((lat.tobytes(), errors, first))


def _grpc_caller(port: int, payloads: list[bytes]):
    import grpc

    from varde._proto.varde.v1 import observations_pb2, observations_pb2_grpc

    # A local subchannel pool: each client its own TCP connection, as separate devices would have.
    channel = grpc.insecure_channel(f"{HOST}:{port}", [("grpc.use_local_subchannel_pool", 1)])
    stub = observations_pb2_grpc.ObservationsStub(channel)
    msgs = [observations_pb2.Observation.FromString(p) for p in payloads]

    def call(i: int) -> None:
        stub.PushObservation(msgs[i], timeout=10)

    return call, channel.close


def _http_caller(port: int, payloads: list[bytes]):
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    headers = {"Content-Type": "application/json"}

    def call(i: int) -> None:
        conn.request("POST", "/score", payloads[i], headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")

    return call, conn.close


@dataclass
class Load:
    name: str
    clients: int
    gen: str  # the load generator
    seconds: float
    latencies: np.ndarray
    errors: int
    first_error: str
    server_cpu: float  # server CPU seconds during the measured window
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1e3 if len(self.latencies) else float("nan")

    @property
    def server_us_per_req(self) -> float:
        return self.server_cpu / max(1, len(self.latencies)) * 1e6


def run_load(name: str, kind: str, port: int, server_pid: int, clients: int, procs: int, payloads: list[bytes],
             seconds: float, warmup: float) -> Load:
    ctx = mp.get_context("spawn")  # never fork a process that has gRPC running
    procs = max(1, min(procs, clients))
    per = [clients // procs + (1 if k < clients % procs else 0) for k in range(procs)]
    out = ctx.Queue()
    start_delay = 2.0 + 0.02 * clients  # spawning + connecting, before the warm-up counts
    start_at = time.monotonic() + start_delay + warmup
    stop_at = start_at + seconds
    workers = [ctx.Process(target=_load_worker, args=(kind, port, n, payloads, start_at, stop_at, out), daemon=True)
               for n in per]
    try:
        for w in workers:
            w.start()
        time.sleep(max(0.0, start_at - time.monotonic()))
        cpu0 = proc_cpu_seconds(server_pid)
        time.sleep(max(0.0, stop_at - time.monotonic()))
        cpu1 = proc_cpu_seconds(server_pid)
        parts = [out.get(timeout=60 + seconds) for _ in workers]
        for w in workers:
            w.join(10)
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
                w.join()
    lat = array.array("d")
    for blob, _, _ in parts:
        lat.frombytes(blob)
    errors = sum(p[1] for p in parts)
    first = next((p[2] for p in parts if p[2]), "")
    return Load(name, clients, f"python x{procs}", seconds, np.frombuffer(lat, dtype=np.float64), errors, first,
                cpu1 - cpu0)


def run_h2load(name: str, kind: str, port: int, server_pid: int, clients: int, payload: bytes, seconds: float,
               warmup: float, scratch: Path) -> Load:
    """h2load (nghttp2, C, one thread): `clients` connections, one request in flight on each, for `seconds`
    after `warmup`; latencies from its per-request log. gRPC is HTTP/2 POSTs of a length-prefixed message."""
    body = scratch / f"{kind}.body"
    log = scratch / "h2load.log"
    log.unlink(missing_ok=True)
    if kind == "grpc":
        body.write_bytes(b"\0" + len(payload).to_bytes(4, "big") + payload)
        url = f"http://{HOST}:{port}/varde.v1.Observations/PushObservation"
        extra = ["-H", "content-type: application/grpc", "-H", "te: trailers"]
    else:
        body.write_bytes(payload)
        url = f"http://{HOST}:{port}/score"
        extra = ["--h1", "-H", "content-type: application/json"]
    cmd = ["h2load", "-c", str(clients), "-m", "1", "-t", "1", "-D", f"{round(seconds * 1000)}ms",
           "--warm-up-time", f"{round(warmup * 1000)}ms",
           "--log-file", str(log), "-d", str(body), *extra, url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=_die_with_parent)
    try:
        time.sleep(warmup + 0.05)
        cpu0 = proc_cpu_seconds(server_pid)
        time.sleep(seconds)
        cpu1 = proc_cpu_seconds(server_pid)
        out, _ = proc.communicate(timeout=60 + seconds)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rows = np.loadtxt(log, ndmin=2) if log.exists() and log.stat().st_size else np.zeros((0, 3))
    ok = rows[:, 1] == 200
    errors = int((~ok).sum())
    first = "" if not errors else f"HTTP status {int(rows[~ok][0, 1])}"
    for line in out.splitlines():
        words = line.replace(",", "").split()
        if line.startswith("requests:"):  # requests: N total, N started, N done, N succeeded, F failed, E errored, ...
            errors += int(words[9]) + int(words[11])
        if line.startswith("traffic:") and kind == "grpc":
            # traffic: ... (D) data. A gRPC error is a trailers-only answer with status 200 and no data.
            data = int(words[-2].strip("()"))
            if rows.shape[0] and data < 6 * rows.shape[0]:
                errors += rows.shape[0]
                first = first or "responses without a message: gRPC errors"
    if proc.returncode:
        errors += 1
        first = first or f"h2load exited {proc.returncode}: {out[-500:]}"
    return Load(name, clients, "h2load", seconds, rows[ok, 2] / 1e6, errors, first, cpu1 - cpu0)


def observation_rows(table: pa.Table) -> list[dict]:
    rows = table.slice(0, PAYLOAD_ROWS).to_pylist()
    out = []
    for r in rows:
        out.append({k: (float(v) if isinstance(v, float) else v) for k, v in r.items() if v is not None})
    return out


def grpc_payloads(rows: list[dict]) -> list[bytes]:
    from varde.clients.client import observation

    return [observation(r).SerializeToString() for r in rows]


def json_payloads(rows: list[dict]) -> list[bytes]:
    out = []
    for r in rows:
        d = dict(r)
        if "observed_at" in d:
            d["observed_at"] = d["observed_at"].isoformat()
        out.append(json.dumps(d).encode())
    return out


# ---------------------------------------------------------------------------------------------- 3. stream


def bench_stream(address: str, payloads: list[bytes], n_obs: int, repeat: int, pid: int, batch: int = 1
                 ) -> tuple[list[float], float]:
    from varde.clients.client import Observation, VardeClient

    msgs = [Observation.FromString(p) for p in payloads]
    msgs = [msgs[i % len(msgs)] for i in range(n_obs)]
    client = VardeClient(address, timeout=600)

    def run() -> None:
        got = sum(1 for _ in client.stream(msgs, batch=batch))
        if got != n_obs:
            raise RuntimeError(f"the stream (batch={batch}) answered {got} of {n_obs}")

    times, cpu = time_runs(run, repeat, pid)
    client.close()
    return times, cpu


# ---------------------------------------------------------------------------------------------- report


def machine_line() -> str:
    import grpc

    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    versions = [f"grpcio {grpc.__version__}", f"pyarrow {pa.__version__}"]
    for mod in ("fastapi", "uvicorn", "uvloop", "httptools"):
        with contextlib.suppress(ImportError):
            versions.append(f"{mod} {__import__(mod).__version__}")
    return f"{cpu}, {os.cpu_count()} cores, {ram} RAM; Python {platform.python_version()}, {', '.join(versions)}"


def fmt_table(header: tuple[str, ...], rows: list[tuple[str, ...]], markdown: bool) -> str:
    """Numbers right-aligned, text columns left-aligned."""
    left = {i for i, h in enumerate(header) if i == 0 or h in ("load generator", "what is timed")}
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---" if i in left else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  " + "  ".join(c.ljust(w) if i in left else c.rjust(w)
                                      for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in [header, *rows])


def stream_rows(peers: list[Timed], n: int, mb: float) -> list[tuple[str, ...]]:
    flight = next((p for p in peers if p.name == FLIGHT), None)
    rows = []
    for p in peers:
        pct = f"{flight.best / p.best * 100:.0f} %" if flight else "-"
        cpu = f"{p.server_cpu:.2f}" if p.server_cpu == p.server_cpu else "-"
        rows.append((p.name, f"{p.best * 1e3:.0f}", f"{p.median * 1e3:.0f}", f"{n / p.best / 1e6:.2f}M",
                     f"{mb / p.best:,.0f}", f"{p.wire_mb:.0f}", cpu, pct, p.note))
    return rows


def load_rows(loads: list[Load]) -> list[tuple[str, ...]]:
    return [(ld.name, str(ld.clients), ld.gen, f"{ld.pct(50):.2f}", f"{ld.pct(99):.2f}", f"{ld.rate:,.0f}",
             f"{ld.server_us_per_req:.0f}", f"{ld.server_cpu / ld.seconds:.2f}", str(ld.errors)) for ld in loads]


STREAM_OBS_TITLE = ("StreamObservations, one stream of {n:,} observations from VardeClient.stream (a Python client), "
                    "best and median of 3; the no-op servers answer a fixed Assessment per observation:")
STREAM_OBS_HEADER = ("server", "best s", "median s", "obs/s", "server CPU us/obs", "x FastAPI 8 clients")


def loadgen_text(h2load: bool, args) -> str:
    common = (f"closed loop, each client one connection with one request in flight, {args.seconds:g} s measured after "
              f"{args.warmup:g} s warm-up. 'server cores' is the server process's CPU (its Python threads hold one "
              "GIL; gRPC's C threads add to it): near or above 1.0 the server is the limit.")
    if h2load:
        return (common + " Load from h2load (nghttp2's C load generator, one thread, one observation repeated): it "
                "needs a fraction of a core, so the server gets most of the 2 cores. Python clients (threads in 2 "
                "processes, --loadgen python) spend about a core themselves at 3k req/s and held a no-op grpcio "
                "server well below what h2load drives it to: they measure the clients.")
    return (common + f" Load from Python: clients are threads, each with its own connection (grpcio channel or "
            f"http.client), over {args.client_procs} spawned processes so that they do not share one GIL; they "
            "share the 2 cores with the server, and at ~3k req/s use about a core themselves.")


LOAD_HEADER = ("endpoint", "clients", "load generator", "p50 ms", "p99 ms", "req/s", "server CPU us/req",
               "server cores", "errors")
STREAM_HEADER = ("peer", "best ms", "median ms", "rows/s", "MB/s", "wire MB", "server CPU s", "% of Flight",
                 "what is timed")


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows for the ScoreBatches part (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=5, help="timed ScoreBatches runs per peer (default: %(default)s)")
    ap.add_argument("--chunk-mib", type=float, default=4.0, help="request size of the streams (default: 4)")
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per load level (default: 5)")
    ap.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each load level")
    ap.add_argument("--loadgen", choices=["auto", "h2load", "python"], default="auto",
                    help="load generator for the unary parts: h2load (apt-get install nghttp2-client) or Python "
                         "processes; auto: h2load when it is on PATH (default)")
    ap.add_argument("--client-procs", type=int, default=2,
                    help="python load generator: processes; clients are threads spread over them (default: 2)")
    ap.add_argument("--stream-obs", type=int, default=20_000,
                    help="observations sent over one StreamObservations call (default: %(default)s)")
    ap.add_argument("--stream-batch", type=int, default=256,
                    help="observations a message for StreamObservationBatches (default: %(default)s)")
    ap.add_argument("--skip", action="append", default=[], choices=["batches", "push", "stream", "fastapi"],
                    help="leave a part out (repeatable)")
    ap.add_argument("--flags", action="store_true",
                    help="run Varde with its flag queue (SQLite in a scratch directory); default: queue off")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", action="store_true", help="also print Markdown tables and a machine line")
    ap.add_argument("--serve", choices=sorted(SERVE_ROLES), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        SERVE_ROLES[args.serve](args.port)
        return 0

    # Ctrl-C and SIGTERM both unwind through the finally below, which stops every child. (Ctrl-C also when a
    # non-interactive shell started this in the background with SIGINT ignored.)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    children = Children()
    try:
        return run(args, children)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the servers", file=sys.stderr)
        return 130
    finally:
        children.stop_all()


def run(args, children: Children) -> int:
    from varde.clients.client import VardeClient

    t_start = time.perf_counter()
    busy0, own0 = machine_busy_seconds(), own_cpu_seconds()
    chunk_bytes = int(args.chunk_mib * MiB)
    want_fastapi = "fastapi" not in args.skip
    if want_fastapi:
        try:
            import fastapi  # noqa: F401
            import uvicorn  # noqa: F401
        except ImportError as e:
            print(f"fastapi part skipped: {e} (pip install -e '.[bench]')")
            want_fastapi = False

    # Servers first: Varde loads (or compiles) its kernels while the data is generated.
    vport = free_port()
    vaddr = f"{HOST}:{vport}"
    # The flag queue (when this version of Varde has one) is off unless --flags: ScoreBatches against Flight
    # measures scoring and transport; --flags adds a SQLite queue in the scratch directory.
    queue = str(children.dir / "queue.sqlite3") if args.flags else "off"
    varde_proc = children.start("varde", [sys.executable, "-m", "varde", "serve", "--address", vaddr,
                                          "--metrics-port", "off", "--grace-seconds", "0", "--log-level", "WARNING"],
                                env={"VARDE_QUEUE": queue})
    peers = {}
    roles = ((["flight", "grpc-echo"] if "batches" not in args.skip else [])
             + (list(NOOP_LEVELS) if not {"push", "stream"} <= set(args.skip) else [])
             + (["fastapi"] if want_fastapi else []))
    for role in roles:
        peers[role] = start_peer(children, role)

    t0 = time.perf_counter()
    table = generate(max(args.rows, PAYLOAD_ROWS), args.seed)
    n, mb = table.num_rows, table.nbytes / 1e6
    print(f"generated {n:,} rows in {time.perf_counter() - t0:.1f} s ({mb:.0f} MB in Arrow)")

    probe = VardeClient(vaddr, timeout=5)
    wait_for(lambda: probe.wait_until_serving(timeout=0.5) is None, varde_proc, children, "varde serve")
    probe.close()
    for role, (proc, port) in peers.items():
        if role == "fastapi":
            def http_ok(port=port):
                with socket.create_connection((HOST, port), timeout=1):
                    return True
            wait_for(http_ok, proc, children, role)
        else:
            wait_for(lambda proc=proc: "READY" in children.log_of(proc), proc, children, role)
    print(f"servers ready after {time.perf_counter() - t_start:.1f} s (varde pid {varde_proc.pid})")

    rows = observation_rows(table)
    gpay = grpc_payloads(rows)

    # 1. ScoreBatches ----------------------------------------------------------------------------------------
    streamed: list[Timed] = []
    breakdown: list[tuple[str, float]] = []
    if "batches" not in args.skip:
        children.check_alive()
        streamed.append(bench_varde_stream(vaddr, table, args.repeat, varde_proc.pid, chunk_bytes))
        fproc, fport = peers["flight"]
        streamed.append(bench_flight(fport, table, args.repeat, fproc.pid, chunk_bytes, b"echo"))
        gproc, gport = peers["grpc-echo"]
        streamed.append(bench_grpc_echo(gport, table, args.repeat, gproc.pid, chunk_bytes))
        streamed.append(bench_flight(fport, table, args.repeat, fproc.pid, chunk_bytes, b"score"))
        breakdown = varde_breakdown(table, chunk_bytes, args.repeat)
        print(f"\nScoreBatches streaming, {n:,} rows ({mb:.0f} MB Arrow), ~{args.chunk_mib:g} MiB requests, "
              f"best and median of {args.repeat}:")
        print(fmt_table(STREAM_HEADER, stream_rows(streamed, n, mb), False))
        total = sum(t for _, t in breakdown)
        print(f"\nVarde path, CPU per stage in this process (no network), {n:,} rows, best of {args.repeat}:")
        for name, t in breakdown:
            print(f"  {t * 1e3:8.1f} ms  {t / total * 100:4.0f} %  {name}")

    # 2. PushObservation -------------------------------------------------------------------------------------
    loads: list[Load] = []
    use_h2load = args.loadgen == "h2load" or (args.loadgen == "auto" and shutil.which("h2load"))

    def measure(name: str, kind: str, port: int, pid: int, clients: int, payloads: list[bytes]) -> Load:
        children.check_alive()
        if use_h2load:
            ld = run_h2load(name, kind, port, pid, clients, payloads[0], args.seconds, args.warmup, children.dir)
        else:
            ld = run_load(name, kind, port, pid, clients, args.client_procs, payloads, args.seconds, args.warmup)
        children.check_alive()
        print(f"{name}, {clients} clients: {ld.rate:,.0f} req/s, p99 {ld.pct(99):.2f} ms")
        return ld

    if "push" not in args.skip:
        for c in PUSH_LEVELS:
            loads.append(measure("varde PushObservation", "grpc", vport, varde_proc.pid, c, gpay))
        for role, levels in NOOP_LEVELS.items():
            nproc, nport = peers[role]
            for c in levels:
                loads.append(measure(NOOP_NAMES[role], "grpc", nport, nproc.pid, c, gpay))
    if want_fastapi:
        fproc, fport = peers["fastapi"]
        jpay = json_payloads(rows)
        for c in FASTAPI_LEVELS:
            loads.append(measure("fastapi async def", "http", fport, fproc.pid, c, jpay))

    # 3. StreamObservations ----------------------------------------------------------------------------------
    streams: list[tuple[str, list[float], float]] = []  # name, times, server CPU s per run
    if "stream" not in args.skip:
        children.check_alive()
        streams.append(("varde StreamObservations", *bench_stream(vaddr, gpay, args.stream_obs, 3, varde_proc.pid)))
        streams.append((f"varde StreamObservationBatches ({args.stream_batch} a message)",
                        *bench_stream(vaddr, gpay, args.stream_obs, 3, varde_proc.pid, args.stream_batch)))
        for role in NOOP_LEVELS:
            nproc, nport = peers[role]
            streams.append((NOOP_NAMES[role], *bench_stream(f"{HOST}:{nport}", gpay, args.stream_obs, 3, nproc.pid)))

    children.check_alive()
    children.stop_all(remove=False)  # reaps the servers, so that their CPU counts as ours below
    busy1, own1 = machine_busy_seconds(), own_cpu_seconds()
    wall = time.perf_counter() - t_start

    # Report -------------------------------------------------------------------------------------------------
    verdicts = []
    if streamed:
        by_name = {p.name: p for p in streamed}
        pct = by_name[FLIGHT].best / by_name[VARDE_STREAM].best * 100
        verdicts.append(f"ScoreBatches at {pct:.0f} % of Flight's throughput (target >= 80 %: "
                        f"{'met' if pct >= 80 else 'NOT met'})")
    if loads:
        print(f"\nUnary requests: {loadgen_text(use_h2load, args)}")
        print(fmt_table(LOAD_HEADER, load_rows(loads), False))
        by = {(ld.name, ld.clients): ld for ld in loads}
        one = by.get(("varde PushObservation", 1))
        if one:
            verdicts.append(f"PushObservation p99 unloaded {one.pct(99):.2f} ms (target < 3 ms: "
                            f"{'met' if one.pct(99) < 3 else 'NOT met'})")
        best_rate = max((ld.rate for ld in loads if ld.name.startswith("varde")), default=0)
        if best_rate:
            verdicts.append(f"PushObservation best {best_rate:,.0f} obs/s (target >= 3,000: "
                            f"{'met' if best_rate >= 3000 else 'NOT met'})")
        v8, f8 = by.get(("varde PushObservation", 8)), by.get(("fastapi async def", 8))
        if v8 and f8 and f8.rate and v8.rate:
            ok = v8.rate >= f8.rate and v8.pct(99) <= 3
            verdicts.append(f"PushObservation at 8 clients: {v8.rate / f8.rate:.2f}x FastAPI's req/s, p99 "
                            f"{v8.pct(99):.2f} ms vs {f8.pct(99):.2f} ms (target >= 1x with p99 <= 3 ms: "
                            f"{'met' if ok else 'NOT met'})")
        for ld in loads:
            if ld.errors:
                print(f"  {ld.name} at {ld.clients} clients: {ld.errors} errors, first: {ld.first_error}")
    stream_table: list[tuple[str, ...]] = []
    if streams:
        f8 = next((ld for ld in loads if ld.name.startswith("fastapi") and ld.clients == 8), None)
        for name, times, cpu in streams:
            rate = args.stream_obs / min(times)
            vs = f"{rate / f8.rate:.1f}x" if f8 and f8.rate else "-"
            stream_table.append((name, f"{min(times):.2f}", f"{statistics.median(times):.2f}", f"{rate:,.0f}",
                                 f"{cpu / args.stream_obs * 1e6:.0f}", vs))
        print(f"\n{STREAM_OBS_TITLE.format(n=args.stream_obs)}")
        print(fmt_table(STREAM_OBS_HEADER, stream_table, False))
        if f8 and f8.rate:
            for name, times, _ in streams[:2]:
                rate = args.stream_obs / min(times)
                verdicts.append(f"{name.removeprefix('varde ')} {rate / f8.rate:.1f}x FastAPI's req/s at 8 clients "
                                f"(target >= 10x: {'met' if rate >= 10 * f8.rate else 'NOT met'})")
    print()
    for v in verdicts:
        print(v)

    others = (busy1 - busy0) - (own1 - own0)
    if others / wall > 0.1:
        quiet = (f"WARNING: other processes used {others / wall:.2f} cores on average during this {wall:.0f} s run; "
                 "rerun on a quiet machine")
    else:
        quiet = f"machine quiet: other processes used {max(others, 0) / wall:.2f} cores on average during the run"
    print(quiet + f" (run took {wall:.0f} s)")

    if args.markdown:
        print("\n---- Markdown ----\n")
        if streamed:
            print(f"ScoreBatches streaming, {n:,} rows ({mb:.0f} MB of Arrow buffers), ~{args.chunk_mib:g} MiB "
                  f"requests, best and median of {args.repeat}.\n")
            print(fmt_table(STREAM_HEADER, stream_rows(streamed, n, mb), True))
            total = sum(t for _, t in breakdown)
            print(f"\nWhere the Varde path spends CPU (each stage alone in one process, {n:,} rows):\n")
            print(fmt_table(("stage", "ms", "share"),
                            [(name, f"{t * 1e3:.1f}", f"{t / total * 100:.0f} %") for name, t in breakdown], True))
        if loads:
            print(f"\nUnary requests: {loadgen_text(use_h2load, args)}\n")
            print(fmt_table(LOAD_HEADER, load_rows(loads), True))
        if stream_table:
            print(f"\n{STREAM_OBS_TITLE.format(n=args.stream_obs)}\n")
            print(fmt_table(STREAM_OBS_HEADER, stream_table, True))
        print()
        for v in verdicts:
            print(f"{v}.")
        print(f"\nMachine: {machine_line()}. {quiet[0].upper()}{quiet[1:]}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
