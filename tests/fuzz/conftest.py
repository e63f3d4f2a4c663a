"""One real server for the fuzz tests, and a `varde` fixture that sends raw requests to it and checks the answers.

Every call must end with OK or with one of the statuses a bad request is answered with, and a non-empty message;
never INTERNAL, UNKNOWN or UNAVAILABLE (UNAVAILABLE would mean the server died or dropped the connection). After a
run of examples, and at the end of each test, a good batch, a good observation and a flag listing must still work.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import grpc
import pyarrow as pa
import pytest
from hypothesis import currently_in_test_context, event

from tests.support import Running
from varde._proto.varde.v1 import flags_pb2, flags_pb2_grpc, observations_pb2, observations_pb2_grpc
from varde._wire import ArrowBatchView, decode_scored_batch, encode_arrow_batch
from varde.scoring import RESULT_COLUMNS
from varde.scoring.risk import RISK_COLUMNS
from varde.server.config import Settings

ARROW_ERRORS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED,
                grpc.StatusCode.FAILED_PRECONDITION}
PROTO_ERRORS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE}
CHECK_EVERY = 10  # examples between two checks that the server still serves

GOOD_OBSERVATIONS = pa.table({
    "patient_id": ["fuzz-check-1", "fuzz-check-2"], "resp_rate": [22, 12], "spo2": [95, 98],
    "on_oxygen": [False, False], "systolic_bp": [118, 120], "pulse": [96, 70], "consciousness": ["A", "A"],
    "temperature": [38.4, 37.0],
})
GOOD_PATIENTS = pa.table({"patient_id": ["fuzz-check-1"], "age": [81], "icd10": [["I50.9", "E11"]]})


def ipc(table: pa.Table | pa.RecordBatch, **options) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(**options)) as writer:
        writer.write(table)
    return sink.getvalue().to_pybytes()


def _encode(request: ArrowBatchView | bytes) -> bytes:
    return request if isinstance(request, bytes) else encode_arrow_batch(request)


@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str = ""
    replies: list = field(default_factory=list)  # (ScoredBatch without its Arrow bytes, pa.Table)

    def __str__(self) -> str:
        return f"{self.code.name}: {self.details[:300]}"


class Varde:
    """Raw calls to the server under test, over one channel with no message limits on the client side (so that a
    RESOURCE_EXHAUSTED is the server's)."""

    def __init__(self, address: str):
        self.address = address
        self.channel = grpc.insecure_channel(address, [("grpc.max_send_message_length", -1),
                                                       ("grpc.max_receive_message_length", -1)])
        self._streams = {
            method: self.channel.stream_stream(f"/varde.v1.Scoring/{method}", request_serializer=_encode,
                                               response_deserializer=decode_scored_batch)
            for method in ("ScoreBatches", "ScorePatients")}
        self.observations = observations_pb2_grpc.ObservationsStub(self.channel)
        self.flags = flags_pb2_grpc.FlagsStub(self.channel)
        self.examples = 0

    def raw_unary(self, path: str):
        """A unary method that takes and returns bytes as they are on the wire."""
        return self.channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)

    def score(self, method: str, requests: list[ArrowBatchView | bytes] | bytes, timeout: float = 60) -> Outcome:
        """One ScoreBatches or ScorePatients stream of requests: ArrowBatchViews, or bytes sent as the whole
        message. `requests` as bytes: one request with that arrow_ipc."""
        if isinstance(requests, bytes | bytearray):
            requests = [ArrowBatchView("fuzz", bytes(requests))]
        replies = []
        try:
            for reply, data in self._streams[method](iter(requests), timeout=timeout):
                replies.append((reply, pa.ipc.open_stream(pa.py_buffer(bytes(data))).read_all()))
        except grpc.RpcError as e:
            return Outcome(e.code(), e.details() or "", replies)
        return Outcome(grpc.StatusCode.OK, "", replies)

    def check_arrow(self, method: str, outcome: Outcome, rows: list[int | None] | None = None) -> None:
        """The contract of the Arrow calls: OK with one reply per request (one result row per input row), or a
        request-error status with a message. `rows`: the input rows per request, where known."""
        if currently_in_test_context():
            event(outcome.code.name)
        assert outcome.code == grpc.StatusCode.OK or outcome.code in ARROW_ERRORS, str(outcome)
        if outcome.code != grpc.StatusCode.OK:
            assert outcome.details.strip(), f"{outcome.code.name} without a message"
        if outcome.code == grpc.StatusCode.OK and rows is not None:
            assert len(outcome.replies) == len(rows), (len(outcome.replies), rows)
        for k, (reply, table) in enumerate(outcome.replies):
            assert table.num_rows == reply.summary.rows
            if rows is not None and rows[k] is not None:
                assert table.num_rows == rows[k]
            expected = RESULT_COLUMNS if method == "ScoreBatches" else RISK_COLUMNS
            assert set(expected) <= set(table.column_names), table.column_names
            if method == "ScoreBatches":
                assert table.column("reject_reason").length() == table.num_rows

    def assert_serving(self) -> None:
        """A good batch, a good patient table, a good observation and a flag listing still work."""
        out = self.score("ScoreBatches", ipc(GOOD_OBSERVATIONS))
        assert out.code == grpc.StatusCode.OK, str(out)
        scored = out.replies[0][1]
        assert scored.column("news2_total").to_pylist() == [5, 0]
        out = self.score("ScorePatients", ipc(GOOD_PATIENTS))
        assert out.code == grpc.StatusCode.OK, str(out)
        assert out.replies[0][1].column("risk_tier").null_count == 0
        obs = observations_pb2.Observation(patient_id="fuzz-check-3", resp_rate=22, spo2=95, on_oxygen=False,
                                           systolic_bp=118, pulse=96, consciousness="A", temperature=38.4)
        assert self.observations.PushObservation(obs, timeout=30).total == 5
        self.flags.ListFlags(flags_pb2.FlagFilter(limit=1), timeout=30)

    def example_done(self) -> None:
        self.examples += 1
        if self.examples % CHECK_EVERY == 0:
            self.assert_serving()


@pytest.fixture(scope="session")
def server():
    queue = os.path.join(tempfile.mkdtemp(prefix="varde-fuzz-"), "queue.sqlite3")
    running = Running(Settings(address="127.0.0.1:0", queue=queue))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def varde(server):
    client = Varde(server.address)
    yield client
    client.assert_serving()
    client.channel.close()


@pytest.fixture
def serving(varde):
    """For a test: the server is still serving when it ends."""
    yield varde
    varde.assert_serving()
