"""ScoreBatches: Arrow IPC in, Arrow IPC out, one scored batch per request, in order."""

from __future__ import annotations

import queue
import threading
import time
import uuid

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from varde import __version__
from varde._proto.varde.v1 import scoring_pb2, scoring_pb2_grpc
from varde._wire import decode_arrow_batch, encode_scored_batch, ipc_stream
from varde.scoring import RESULT_COLUMNS, score_news2
from varde.scoring.arrow import check_schema, valid_mask, validate_column
from varde.scoring.national_id import check_national_ids
from varde.scoring.news2 import SERIAL_BELOW
from varde.scoring.risk import RISK_COLUMNS, score_risk
from varde.scoring.risk.policy import Policy, load_policy
from varde.scoring.schema import SchemaError
from varde.scoring.summary import Counts, count, count_values

from .. import clock
from .._ipc_limits import check_ipc
from .._rpc import streaming, unary
from ..auth import identity_of
from ..errors import RequestError
from ..flags.queue import FlagQueue
from ..metrics import Metrics
from ..store.base import Caller

__all__ = ["ScoringService", "add_to_server", "read_ipc", "write_ipc"]

# Each record batch of a request is a kernel call and a result batch: a request of 20,000 one-row batches costs
# seconds of CPU for nothing. Clients send one batch per request (VardeClient does).
MAX_BATCHES_PER_REQUEST = 1000


def read_ipc(data) -> pa.Table:
    """The record batches of one Arrow IPC stream, without copying their buffers."""
    if not data:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "arrow_ipc is empty; it must hold one Arrow IPC stream",
                           field="arrow_ipc")
    try:
        with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
            return reader.read_all()
    except (pa.ArrowException, OSError, EOFError) as e:  # pyarrow reports a short read as OSError
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"arrow_ipc is not a readable Arrow IPC stream ({e}); send one schema message and its record batches, "
            "as pyarrow.ipc.new_stream writes them", field="arrow_ipc") from None


def write_ipc(table: pa.Table) -> pa.Buffer:
    return ipc_stream(table)


def fill_summary(msg: scoring_pb2.BatchSummary, c: Counts) -> None:
    msg.rows, msg.scored, msg.not_applicable = c.rows, c.scored, c.not_applicable
    msg.rejected, msg.red, msg.complete = c.rejected, c.red, c.complete
    msg.rejected_by_reason.update(c.rejected_by_reason)
    msg.bands.update(c.bands)


def add_to_server(service: ScoringService, server: grpc.Server) -> None:
    """Register with the hand-written codec for the Arrow-carrying messages (varde._wire); same wire format."""
    handlers = {
        "ScoreBatches": grpc.stream_stream_rpc_method_handler(
            service.ScoreBatches, request_deserializer=decode_arrow_batch, response_serializer=encode_scored_batch),
        "ScorePatients": grpc.stream_stream_rpc_method_handler(
            service.ScorePatients, request_deserializer=decode_arrow_batch, response_serializer=encode_scored_batch),
        "GetServerInfo": grpc.unary_unary_rpc_method_handler(
            service.GetServerInfo, request_deserializer=scoring_pb2.ServerInfoRequest.FromString,
            response_serializer=scoring_pb2.ServerInfo.SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("varde.v1.Scoring", handlers),))


MAX_PATIENT_ID_BYTES = 256
# A reading measured more than this after the server's clock is refused (OBSERVED_IN_FUTURE): a device's clock set
# wrong would otherwise put its readings ahead of every later one.
FUTURE_TOLERANCE_US = 5 * 60 * 1_000_000


def in_the_future(table: pa.Table):
    """Which rows' observed_at is more than FUTURE_TOLERANCE_US after now (None: no such column, or one that is
    not a time; the scoring reports that). Read from the column's own integers in its own unit: casting it to
    microseconds first cost ~5 ms per 2M rows, and refused a nanosecond time that is not whole microseconds."""
    if table.schema.names.count("observed_at") != 1 or not pa.types.is_timestamp(table.schema.field(
            "observed_at").type):
        return None
    column = table.column("observed_at")
    limit = clock.now_us() + FUTURE_TOLERANCE_US
    # later than `limit` once truncated to whole microseconds, in the column's unit
    bound = {"s": limit // 1_000_000, "ms": limit // 1_000, "us": limit, "ns": limit * 1_000 + 999}[column.type.unit]
    parts = []
    for chunk in column.chunks:
        if not len(chunk):
            continue
        data = chunk.buffers()[1]
        if data is None or data.size < (chunk.offset + len(chunk)) * 8:
            return None  # not a well-formed column (this runs before validation): the scoring reports it
        later = np.frombuffer(data, np.int64, len(chunk), chunk.offset * 8) > bound
        valid = valid_mask(chunk)
        parts.append(later if valid is None else later & valid)
    if not parts:
        return np.zeros(0, np.bool_)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _check_id_lengths(ids: pa.ChunkedArray) -> None:
    for chunk in ids.chunks:
        values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                or pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
            continue
        longest = pc.max(pc.binary_length(values)).as_py()
        if longest is not None and longest > MAX_PATIENT_ID_BYTES:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"a patient_id is {longest:,} bytes long; at most {MAX_PATIENT_ID_BYTES} are accepted",
                               field="patient_id")


class ScoringService(scoring_pb2_grpc.ScoringServicer):
    def __init__(self, metrics: Metrics, ready, max_message_bytes: int, queue: FlagQueue | None,
                 risk_policy: Policy | None = None, *, max_rows: int = 5_000_000, check_ids: bool = False,
                 max_observations_per_batch: int = 512):
        self.metrics = metrics
        self.max_rows = max_rows
        # Compressed IPC may declare any size; a request may inflate to 4 times the message limit (256 MiB by
        # default), more than Arrow's lz4 or zstd make of real observation data.
        self.max_inflated_bytes = 4 * max_message_bytes
        self.check_ids = check_ids
        self._ready = ready
        self.queue = queue
        self.risk_policy = risk_policy or load_policy()
        self._info = scoring_pb2.ServerInfo(version=__version__, max_message_bytes=max_message_bytes,
                                            serial_below=SERIAL_BELOW,
                                            max_observations_per_batch=max_observations_per_batch)

    @unary("GetServerInfo")
    def GetServerInfo(self, request, context, where):
        return self._info

    def wait_ready(self) -> None:
        """Requests that arrive during start-up wait for the kernels rather than compile them."""
        self._ready.wait()

    def invalid_ids(self, table: pa.Table):
        """With --validate-national-id: which rows' patient_id fails the check (None: not checking). Any
        patient_id longer than MAX_PATIENT_ID_BYTES refuses the request: it would be stored in flags and sent to
        every coordinator who lists them."""
        check_schema(table.schema)  # names are text, types readable: before any column is looked up by name
        if table.schema.names.count("patient_id") != 1:
            return None  # missing or repeated: the scoring says so
        ids = table.column("patient_id")
        # Read in place below (lengths, the national id kernel): its offsets must be inside its buffers.
        validate_column(ids, "patient_id")
        _check_id_lengths(ids)
        if not self.check_ids:
            return None
        try:
            return check_national_ids(ids)
        except TypeError:
            raise SchemaError(f"column 'patient_id' has type {table.schema.field('patient_id').type}; with "
                              "national identity numbers checked it must be text (11 digits, leading zeros kept)",
                              column="patient_id") from None

    def score_table(self, table: pa.Table) -> tuple[pa.Table, Counts]:
        self._ready.wait()
        kernel = "news2_parallel" if table.num_rows >= SERIAL_BELOW else "news2_serial"
        started = time.perf_counter()
        scored = score_news2(table, invalid_ids=self.invalid_ids(table), future=in_the_future(table))
        self.metrics.kernel_seconds.labels(kernel).observe(time.perf_counter() - started)
        c = count(scored)
        m = self.metrics
        m.batch_rows.labels(kernel).observe(c.rows)
        m.rows_scored.labels(kernel).inc(c.rows)
        for reason, n in c.rejected_by_reason.items():
            m.rows_rejected.labels(reason).inc(n)
        for band, n in c.bands.items():
            m.band_rows.labels(band).inc(n)
        return scored, c

    def _serve(self, request, caller: Caller, score, record, result_columns) -> tuple:
        """One request of a scoring stream: read, score (`score` fills the reply's summary), commit the flags,
        then the reply and its Arrow bytes (varde._wire puts the two together)."""
        if request.error:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, request.error)
        if request.arrow_ipc:
            check_ipc(request.arrow_ipc, max_batches=MAX_BATCHES_PER_REQUEST,
                      max_inflated_bytes=self.max_inflated_bytes)
        table = read_ipc(request.arrow_ipc)
        if table.num_rows > self.max_rows:
            raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"{table.num_rows:,} rows in one request; the server takes at most "
                               f"{self.max_rows:,} (--max-rows-per-batch): send them as several batches",
                               field="arrow_ipc")
        reply = scoring_pb2.ScoredBatch(batch_id=request.batch_id)
        scored = score(table, reply.summary)
        if self.queue is not None:
            # Committed before the reply goes out: a client told of a flag can count on it.
            recorded = record(scored, request.batch_id or f"anonymous:{uuid.uuid4().hex}", caller)
            reply.flags_raised, reply.flags_updated = recorded.raised, recorded.updated
            reply.flags_replayed = recorded.replayed
        if request.results_only:
            scored = scored.select(list(result_columns))
        return reply, write_ipc(scored)

    def _score_request(self, request, caller: Caller) -> tuple:
        def score(table, summary):
            scored, c = self.score_table(table)
            fill_summary(summary, c)
            return scored

        return self._serve(request, caller, score, self.queue and self.queue.record, RESULT_COLUMNS)

    def _score_patients(self, request, caller: Caller) -> tuple:
        def score(table, summary):
            self._ready.wait()
            m = self.metrics
            started = time.perf_counter()
            scored = score_risk(table, policy=self.risk_policy, invalid_ids=self.invalid_ids(table))
            m.kernel_seconds.labels("risk").observe(time.perf_counter() - started)
            m.rows_scored.labels("risk").inc(scored.num_rows)
            m.batch_rows.labels("risk").observe(scored.num_rows)
            for problem in ("unknown", "malformed", "underspecified"):
                m.codes.labels(problem).inc(int(pc.sum(scored.column(f"codes_{problem}")).as_py() or 0))
            summary.rows = scored.num_rows
            summary.tiers.update(count_values(scored.column("risk_tier")))
            summary.unmet_need = int(pc.sum(scored.column("unmet_need")).as_py() or 0)
            rejected = count_values(scored.column("reject_reason"))
            if rejected:
                summary.rejected = sum(rejected.values())
                summary.rejected_by_reason.update(rejected)
                for reason, k in rejected.items():
                    m.rows_rejected.labels(reason).inc(k)
            return scored

        return self._serve(request, caller, score, self.queue and self.queue.record_risk, RISK_COLUMNS)

    @streaming("ScoreBatches")
    def ScoreBatches(self, request_iterator, context, where):
        identity = identity_of(context)
        yield from self._pipeline(request_iterator, where, self._score_request,
                                  Caller(identity.actor, identity.unit, "ScoreBatches"))

    @streaming("ScorePatients")
    def ScorePatients(self, request_iterator, context, where):
        identity = identity_of(context)
        yield from self._pipeline(request_iterator, where, self._score_patients,
                                  Caller(identity.actor, identity.unit, "ScorePatients"))

    def _pipeline(self, request_iterator, where, score, caller: Caller):
        # A worker reads and scores the next request while gRPC sends the last reply (sending blocks this
        # thread); at most two replies wait, so a slow reader holds the server back, not its memory.
        ready: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()

        def put(item) -> None:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def work():
            seen = 0
            try:
                for request in request_iterator:  # ArrowBatchView: arrow_ipc is a view of the received message
                    seen += 1
                    label = f"batch {request.batch_id!r}" if request.batch_id else f"batch #{seen} (no batch_id)"
                    try:
                        put(("reply", score(request, caller), label))
                    except Exception as e:
                        put(("error", e, label))
                        return
                    if stop.is_set():
                        return
                if seen == 0:
                    put(("error", RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                               "the stream ended before its first ArrowBatch; send at least one "
                                               "batch"), ""))
            except Exception:  # the request stream broke: the client is gone or cancelled
                pass
            finally:
                put(("end", None, ""))

        threading.Thread(target=work, name="varde-score-ahead", daemon=True).start()
        try:
            while True:
                kind, value, label = ready.get()
                where.text = label
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            stop.set()
