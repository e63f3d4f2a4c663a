"""Streams cannot take the server: a cap on open streams (RESOURCE_EXHAUSTED at once beyond it, unary calls still
served), request streams that stall are ended, the open-streams gauge comes back to 0, and nothing grows with the
number of streams refused or ended."""

from __future__ import annotations

import gc
import os
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pyarrow as pa
import pytest

from tests.support import Running
from varde._proto.varde.v1 import (
    flags_pb2,
    flags_pb2_grpc,
    observations_pb2,
    observations_pb2_grpc,
    scoring_pb2,
    scoring_pb2_grpc,
)
from varde.server.config import Settings
from varde.server.limits import StreamLimits
from varde.server.metrics import Metrics

OBS = observations_pb2.Observation(patient_id="limits-1", resp_rate=16, spo2=97, on_oxygen=False, systolic_bp=120,
                                   pulse=70, consciousness="A", temperature=37.0)
ENDED = {grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
         grpc.StatusCode.RESOURCE_EXHAUSTED}
KINDS = ("observations", "batches", "watch")


def running(tmp_path, **limits) -> Running:
    return Running(Settings(address="127.0.0.1:0", queue=str(tmp_path / "queue.sqlite3"), **limits))


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.05)


def batch_request() -> scoring_pb2.ArrowBatch:
    table = pa.table({"patient_id": ["limits-2"], "resp_rate": [16], "spo2": [97], "on_oxygen": [False],
                      "systolic_bp": [120], "pulse": [70], "consciousness": ["A"], "temperature": [37.0]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write(table)
    return scoring_pb2.ArrowBatch(batch_id="limits", arrow_ipc=sink.getvalue().to_pybytes())


@dataclass
class Outcome:
    kind: str
    code: grpc.StatusCode
    details: str
    seconds: float
    replies: int


class Streams:
    """Raw calls on one channel. A stalling request iterator blocks on `release`; teardown sets it, cancels every
    call and joins every thread, so that nothing of a test outlives it."""

    def __init__(self, address: str):
        self.channel = grpc.insecure_channel(address)
        self.observations = observations_pb2_grpc.ObservationsStub(self.channel)
        self.scoring = scoring_pb2_grpc.ScoringStub(self.channel)
        self.flags = flags_pb2_grpc.FlagsStub(self.channel)
        self.release = threading.Event()
        self.calls: list = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def stalling(self, *messages) -> Iterator:
        """Yields `messages`, then neither sends nor closes the request stream until teardown."""
        yield from messages
        self.release.wait()

    def call(self, kind: str, *, timeout: float | None, stall: bool = True):
        if kind == "observations":
            requests = self.stalling(OBS) if stall else iter([OBS])
            call = self.observations.StreamObservations(requests, timeout=timeout)
        elif kind == "batches":
            requests = self.stalling() if stall else iter([])
            call = self.scoring.ScoreBatches(requests, timeout=timeout)
        else:
            call = self.flags.WatchFlags(flags_pb2.WatchRequest(), timeout=timeout)
        with self._lock:
            self.calls.append(call)
        return call

    def outcome(self, kind: str, *, timeout: float | None) -> Outcome:
        """Run one call to its end; every end is a status (OK when the server ends the response stream)."""
        started = time.monotonic()
        call = self.call(kind, timeout=timeout)
        replies = 0
        try:
            for _ in call:
                replies += 1
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            code, details = e.code(), e.details() or ""
        return Outcome(kind, code, details, time.monotonic() - started, replies)

    def in_threads(self, kinds: list[str], *, timeout: float | None) -> list[Outcome | None]:
        out: list[Outcome | None] = [None] * len(kinds)
        start = threading.Barrier(len(kinds))

        def run(i: int, kind: str) -> None:
            start.wait()
            out[i] = self.outcome(kind, timeout=timeout)

        for i, kind in enumerate(kinds):
            t = threading.Thread(target=run, args=(i, kind), name=f"limits-{kind}-{i}", daemon=True)
            self.threads.append(t)
            t.start()
        return out

    def join(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self.threads if t.is_alive()]
        assert not alive, f"calls without an end: {alive}"

    def close(self) -> None:
        self.release.set()
        for call in self.calls:
            call.cancel()
        for t in self.threads:
            t.join(10)
        self.channel.close()


@pytest.fixture
def streams_for():
    made: list[Streams] = []

    def make(address: str) -> Streams:
        made.append(Streams(address))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_64_streams_over_the_cap_are_refused_at_once_and_unary_calls_are_served_meanwhile(tmp_path, streams_for):
    cap, deadline = 16, 3.0
    server = running(tmp_path, workers=24, max_concurrent_streams=cap, stream_idle_seconds=30)
    try:
        streams = streams_for(server.address)
        kinds = [KINDS[i % 3] for i in range(64)]
        outcomes = streams.in_threads(kinds, timeout=deadline)
        wait_for(lambda: scrape(server.metrics_port).get("varde_streams_refused_total") == 64 - cap, 2.5,
                 "the streams over the cap refused")
        assert scrape(server.metrics_port)["varde_streams_open"] == cap

        # the streams hold `cap` workers; unary calls find one of the others at once
        with server.client(timeout=5, retries=0) as c:
            started = time.monotonic()
            assert c.push({"patient_id": "limits-3", "resp_rate": 22, "spo2": 95, "on_oxygen": False,
                           "systolic_bp": 118, "pulse": 96, "consciousness": "A", "temperature": 38.4}).total == 5
            info = scoring_pb2_grpc.ScoringStub(streams.channel).GetServerInfo(scoring_pb2.ServerInfoRequest(),
                                                                                timeout=5)
            assert info.max_message_bytes > 0
            assert time.monotonic() - started < 2.0
        assert scrape(server.metrics_port)["varde_streams_open"] == cap  # still held while the unary calls ran

        streams.join(deadline + 5)
        assert all(o is not None and o.code in ENDED for o in outcomes), [o and (o.kind, o.code) for o in outcomes]
        refused = [o for o in outcomes if o.code == grpc.StatusCode.RESOURCE_EXHAUSTED]
        held = [o for o in outcomes if o.code != grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert len(refused) == 64 - cap and len(held) == cap, Counter((o.kind, o.code.name) for o in outcomes)
        assert all("--max-concurrent-streams" in o.details for o in refused), {o.details for o in refused}
        assert max(o.seconds for o in refused) < 1.5  # refused at once, not at the deadline
        assert all(o.code == grpc.StatusCode.DEADLINE_EXCEEDED for o in held), [(o.kind, o.code) for o in held]
        assert all(o.replies == 1 for o in held if o.kind == "observations")  # its one observation was scored
        assert all(o.replies >= 1 for o in held if o.kind == "watch")  # CAUGHT_UP at least

        wait_for(lambda: scrape(server.metrics_port)["varde_streams_open"] == 0, 5, "varde_streams_open back to 0")

        # and new streams are accepted again, of every kind
        assert [a.patient_id for a in streams.observations.StreamObservations(iter([OBS]), timeout=10)] == \
            ["limits-1"]
        assert len(list(streams.scoring.ScoreBatches(iter([batch_request()]), timeout=10))) == 1
        watch = streams.flags.WatchFlags(flags_pb2.WatchRequest(), timeout=10)
        assert any(e.type == flags_pb2.FlagEvent.CAUGHT_UP for e in watch)
        watch.cancel()
        wait_for(lambda: scrape(server.metrics_port)["varde_streams_open"] == 0, 5, "varde_streams_open back to 0")
    finally:
        server.stop()


def test_a_stalled_request_stream_without_deadline_is_ended_by_the_server(tmp_path, streams_for):
    idle = 2.0
    server = running(tmp_path, workers=4, max_concurrent_streams=2, stream_idle_seconds=idle)
    try:
        streams = streams_for(server.address)
        before = scrape(server.metrics_port).get("varde_streams_idle_ended_total", 0.0)
        # no deadline: one sends an observation and then nothing, the other never sends anything
        outcomes = streams.in_threads(["observations", "batches"], timeout=None)
        streams.join(idle + 6)
        assert [(o.kind, o.code) for o in outcomes] == [("observations", grpc.StatusCode.CANCELLED),
                                                       ("batches", grpc.StatusCode.CANCELLED)]
        assert outcomes[0].replies == 1
        assert all(idle - 0.5 < o.seconds < idle + 4 for o in outcomes), [o.seconds for o in outcomes]
        metrics = scrape(server.metrics_port)
        assert metrics["varde_streams_idle_ended_total"] - before == 2
        wait_for(lambda: scrape(server.metrics_port)["varde_streams_open"] == 0, 5, "varde_streams_open back to 0")
        # both slots are free again: two more streams get in
        assert len(list(streams.observations.StreamObservations(iter([OBS]), timeout=10))) == 1
        assert len(list(streams.scoring.ScoreBatches(iter([batch_request()]), timeout=10))) == 1
    finally:
        server.stop()


def test_a_client_that_never_reads_its_replies_is_ended_by_the_server(tmp_path):
    """A ScoreBatches caller that sends big batches and reads nothing blocks the server's send (flow control):
    that is idleness too, or such clients could hold every stream slot."""
    from tests.support import observations
    from varde._proto.varde.v1 import scoring_pb2_grpc

    idle = 2.0
    server = Running(Settings(address="127.0.0.1:0", queue=None, workers=4, max_concurrent_streams=2,
                              stream_idle_seconds=idle))
    try:
        table = observations(100_000, seed=1)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write(table)
        data = sink.getvalue().to_pybytes()
        before = scrape(server.metrics_port).get("varde_streams_idle_ended_total", 0.0)
        with grpc.insecure_channel(server.address) as channel:
            stub = scoring_pb2_grpc.ScoringStub(channel)
            requests = (scoring_pb2.ArrowBatch(batch_id=f"slow-{i}", arrow_ipc=data) for i in range(6))
            call = stub.ScoreBatches(requests)  # no deadline, and the replies are never read
            wait_for(lambda: scrape(server.metrics_port)["varde_streams_open"] == 1, 10, "the stream open")
            wait_for(lambda: scrape(server.metrics_port)["varde_streams_open"] == 0, idle + 15,
                     "the unread stream ended by the server")
            assert scrape(server.metrics_port)["varde_streams_idle_ended_total"] - before == 1
            call.cancel()
    finally:
        server.stop()


def test_streams_ended_by_idleness_or_deadline_are_counted_with_their_code_not_as_ok(tmp_path, streams_for):
    """varde_rpcs_total{code} says how streams ended: one the server ended for idleness is CANCELLED (as its client
    sees it), one whose deadline passed is DEADLINE_EXCEEDED (or CANCELLED); neither is OK."""
    server = running(tmp_path, workers=5, max_concurrent_streams=4, stream_idle_seconds=2)
    try:
        streams = streams_for(server.address)
        idle = streams.in_threads(["observations", "batches"], timeout=None)
        late = streams.in_threads(["observations", "watch"], timeout=0.5)
        streams.join(8)
        assert [o.code for o in idle] == [grpc.StatusCode.CANCELLED] * 2
        assert [o.code for o in late] == [grpc.StatusCode.DEADLINE_EXCEEDED] * 2
        wait_for(lambda: scrape(server.metrics_port)["varde_streams_open"] == 0, 5, "varde_streams_open back to 0")
        rpcs = {name: value for name, value in scrape(server.metrics_port).items()
                if name.startswith("varde_rpcs_total{") and value}
        # A client's deadline passes a moment before the server's, so the server may see a late stream cancelled
        # rather than timed out: either is right for those, OK is not.
        ended: Counter = Counter()
        for name, value in rpcs.items():
            labels = dict(part.split("=") for part in name[len("varde_rpcs_total{"):-1].split(","))
            assert labels["code"] in ('"CANCELLED"', '"DEADLINE_EXCEEDED"'), rpcs
            ended[labels["method"].strip('"')] += value
        assert ended == {"StreamObservations": 2, "ScoreBatches": 1, "WatchFlags": 1}, rpcs
    finally:
        server.stop()


class _SlowToSetNonZero:
    """The open-streams gauge, slow to record a non-zero value: as if the thread that counted the open streams
    were preempted before it set the gauge (sys.setswitchinterval(1e-6) shows the same without the sleep)."""

    def __init__(self, gauge):
        self._gauge = gauge

    def set(self, value) -> None:
        if value:
            time.sleep(0.1)
        self._gauge.set(value)

    def inc(self, amount=1) -> None:
        self._gauge.inc(amount)

    def dec(self, amount=1) -> None:
        self._gauge.dec(amount)


class _Context:
    def __init__(self):
        self.callbacks = []

    def add_callback(self, callback) -> bool:
        self.callbacks.append(callback)
        return True

    def ended(self) -> None:
        """gRPC runs the callbacks when the call ends (here: from another thread than the handler's)."""
        for callback in self.callbacks:
            callback()


class _Details:
    method = "/varde.v1.Flags/WatchFlags"
    invocation_metadata = ()


@pytest.mark.parametrize("race", ["two streams end together", "a stream ends while it is admitted"])
def test_the_open_streams_gauge_is_exact_however_the_threads_interleave(race):
    metrics = Metrics()
    metrics.streams_open = _SlowToSetNonZero(metrics.streams_open)
    limits = StreamLimits(8, 300, metrics)

    def watch(request, context):
        yield "event"

    handler = limits.intercept_service(lambda _: grpc.unary_stream_rpc_method_handler(watch), _Details())
    try:
        a, b = _Context(), _Context()
        if race == "two streams end together":
            first, second = handler.unary_stream(None, a), handler.unary_stream(None, b)
            next(first), next(second)  # both open
            # first's handler ends and counts 1 open; second's ends meanwhile and counts 0
            ending = threading.Thread(target=first.close)
            ending.start()
            time.sleep(0.02)
            second.close()
        else:
            stream = handler.unary_stream(None, a)
            # admitted on this thread (it counts 1 open), while the call ends on gRPC's thread
            ending = threading.Thread(target=next, args=(stream,))
            ending.start()
            time.sleep(0.02)
            a.ended()
        ending.join(5)
        for context in (a, b):
            context.ended()
        assert metrics.registry.get_sample_value("varde_streams_open") == 0
    finally:
        limits.close()


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS from /proc (Linux)")
def test_memory_and_threads_do_not_grow_with_refused_and_ended_streams(tmp_path, streams_for):
    server = running(tmp_path, workers=6, max_concurrent_streams=2, stream_idle_seconds=30)
    try:
        streams = streams_for(server.address)

        def cycle(n: int) -> Counter:
            """n streams refused (both slots held), then n that get in and end: completed, empty, cancelled."""
            seen: Counter = Counter()
            refusing = streams_for(server.address)
            holders = refusing.in_threads(["observations", "batches"], timeout=None)
            wait_for(lambda: scrape(server.metrics_port)["varde_streams_open"] == 2, 5, "two streams held")
            for i in range(n):
                kind = KINDS[i % 3]
                try:
                    if kind == "watch":
                        list(streams.flags.WatchFlags(flags_pb2.WatchRequest(), timeout=10))
                    else:
                        list(streams.call(kind, timeout=10, stall=False))
                    seen["refused: none"] += 1
                except grpc.RpcError as e:
                    seen[f"refused: {e.code().name}"] += 1
            refusing.close()  # cancels the two holders and lets their request iterators return
            refusing.join(5)
            assert all(o.code == grpc.StatusCode.CANCELLED for o in holders), [o.code for o in holders]
            wait_for(lambda: scrape(server.metrics_port)["varde_streams_open"] == 0, 5, "the held streams ended")
            for i in range(n):
                kind = KINDS[i % 3]
                try:
                    if kind == "watch":  # in, then cancelled by the client
                        watch = streams.flags.WatchFlags(flags_pb2.WatchRequest(), timeout=10)
                        next(e for e in watch if e.type == flags_pb2.FlagEvent.CAUGHT_UP)
                        watch.cancel()
                        seen["ended: CANCELLED"] += 1
                        continue
                    list(streams.call(kind, timeout=10, stall=False))  # observations: OK
                    seen["ended: OK"] += 1
                except grpc.RpcError as e:
                    seen[f"ended: {e.code().name}"] += 1  # batches: an empty stream is INVALID_ARGUMENT
            streams.calls.clear()
            return seen

        assert cycle(60) == Counter({"refused: RESOURCE_EXHAUSTED": 60, "ended: OK": 20, "ended: CANCELLED": 20,
                                     "ended: INVALID_ARGUMENT": 20})
        gc.collect()
        rss, threads = _rss_bytes(), threading.active_count()
        assert cycle(501) == Counter({"refused: RESOURCE_EXHAUSTED": 501, "ended: OK": 167,
                                      "ended: CANCELLED": 167, "ended: INVALID_ARGUMENT": 167})
        wait_for(lambda: scrape(server.metrics_port)["varde_streams_open"] == 0, 5, "varde_streams_open back to 0")
        # the server's per-stream threads (a reader, a scorer) end with their streams
        wait_for(lambda: threading.active_count() <= threads + 2, 5,
                 f"threads back to {threads} (now {threading.active_count()}: "
                 f"{sorted(t.name for t in threading.enumerate())})")
        gc.collect()
        grown = _rss_bytes() - rss
        assert grown < 40 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 1002 streams"
        metrics = scrape(server.metrics_port)
        assert metrics["varde_streams_refused_total"] == 60 + 501
    finally:
        server.stop()
