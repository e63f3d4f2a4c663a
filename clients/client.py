"""VardeClient: the Python way to talk to a Varde server.

    with VardeClient("127.0.0.1:50051") as varde:
        scored = varde.score(pyarrow.parquet.read_table("observations.parquet"))
        assessment = varde.push({"patient_id": "p1", "resp_rate": 22, "spo2": 95, ...})
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping

import grpc
import numpy as np
import pyarrow as pa

from varde._proto.varde.v1 import (
    flags_pb2,
    flags_pb2_grpc,
    observations_pb2_grpc,
    patients_pb2,
    patients_pb2_grpc,
    scoring_pb2,
    scoring_pb2_grpc,
)
from varde._proto.varde.v1 import observations_pb2 as obs_pb2
from varde._wire import ArrowBatchView, decode_scored_batch, encode_arrow_batch, ipc_stream
from varde.clients._auth import CallCredentials, channel_credentials
from varde.clients._errors import VardeError
from varde.scoring.risk.score import RISK_COLUMNS
from varde.scoring.schema import RESULT_COLUMNS

__all__ = ["Assessment", "Observation", "VardeClient", "VardeError", "observation"]

Observation = obs_pb2.Observation
Assessment = obs_pb2.Assessment

MiB = 1 << 20
# Requests are cut to about this size: large enough to amortise per-message costs, well under any server limit.
DEFAULT_CHUNK_BYTES = 4 * MiB

_OBS_FIELDS = {f.name for f in Observation.DESCRIPTOR.fields}


def _error(e: grpc.RpcError) -> VardeError:
    return VardeError(e.code(), e.details() or "")


def observation(values: Mapping | Observation) -> Observation:
    """An Observation message from a dict with the column names of the contract (None = not measured)."""
    if isinstance(values, Observation):
        return values
    unknown = set(values) - _OBS_FIELDS
    if unknown:
        raise ValueError(f"unknown observation field(s) {sorted(unknown)}; known: {sorted(_OBS_FIELDS)}")
    msg = Observation()
    for name, value in values.items():
        if value is None:
            continue
        if name == "observed_at":
            if isinstance(value, str):
                value = dt.datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError("observed_at needs a time zone (UTC or an offset); a naive time is ambiguous")
            msg.observed_at.FromDatetime(value.astimezone(dt.UTC))
        elif isinstance(value, np.float32):
            # The decimal a float32 stands for (36.05, not 36.0499992), as the kernel reads a float32 column.
            setattr(msg, name, float(str(value)))
        else:
            setattr(msg, name, value)
    return msg


def _chunks(batch: pa.RecordBatch, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """Slices of `batch` whose Arrow buffers add up to about max_bytes at most (zero-copy)."""
    n = batch.num_rows
    if n == 0:
        yield batch
        return
    per_row = max(1.0, batch.nbytes / n)
    rows = max(1, int(max_bytes / per_row))
    for start in range(0, n, rows):
        yield _compact(batch.slice(start, rows))


def _compact(chunk: pa.RecordBatch) -> pa.RecordBatch:
    """Each request is its own Arrow IPC stream, so a dictionary column carries its whole dictionary every time:
    100,000 patient ids in every request of a hospital batch. Keep only the entries a chunk uses."""
    columns = chunk.columns
    changed = False
    for i, col in enumerate(columns):
        if not pa.types.is_dictionary(col.type) or len(col.dictionary) <= max(1024, len(col) // 2):
            continue
        valid = None if col.null_count == 0 else col.is_valid().to_numpy(zero_copy_only=False)
        codes = (col.indices if valid is None else col.indices.fill_null(0)).to_numpy(zero_copy_only=False)
        used = np.zeros(len(col.dictionary), np.bool_)
        used[codes] = True
        new_code = np.cumsum(used, dtype=np.int64) - 1
        indices = pa.array(new_code[codes].astype(codes.dtype, copy=False), col.type.index_type,
                           mask=None if valid is None else ~valid)
        columns[i] = pa.DictionaryArray.from_arrays(indices, col.dictionary.filter(pa.array(used)),
                                                    ordered=col.type.ordered)
        changed = True
    return pa.RecordBatch.from_arrays(columns, schema=chunk.schema) if changed else chunk


def _ipc(batch: pa.RecordBatch) -> pa.Buffer:
    return ipc_stream(batch)


def _filter(states, kinds, patient_id, min_severity, limit) -> flags_pb2.FlagFilter:
    if isinstance(min_severity, str):
        min_severity = flags_pb2.Severity.Value(min_severity.upper())
    return flags_pb2.FlagFilter(states=[flags_pb2.FlagState.Value(s) for s in states], kinds=list(kinds),
                                patient_id=patient_id, min_severity=min_severity, limit=limit)


def _collect(replies) -> pa.Table:
    out = [batch for batch, _ in replies]
    if not out:
        raise ValueError("nothing to score: the data held no record batch")
    return pa.Table.from_batches(out)


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    if table.num_rows == 0:
        return pa.RecordBatch.from_pylist([], schema=table.schema)
    return table.combine_chunks().to_batches()[0]


def _batches(data) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pa.RecordBatch):
        yield data
    elif isinstance(data, pa.Table):
        yield from data.to_batches()
    elif isinstance(data, pa.RecordBatchReader):
        yield from data
    else:
        for item in data:
            yield from _batches(item)


class VardeClient:
    """A connection to one Varde server. Thread-safe; use one per process and close it (or use `with`).

    `timeout` is the deadline of each call in seconds (None: no deadline). Calls that fail with UNAVAILABLE
    (server restarting, not reachable yet) are retried `retries` times with backoff; nothing else is retried.

    Credentials (docs/security.md): `tls_ca` (the server's CA; with no TLS file at all the channel is plaintext,
    for a server on this machine), `tls_cert` and `tls_key` (your certificate, for mutual TLS), and an access token
    (`token`, or `token_file`, read again when it changes) sent as Bearer, or DPoP-bound with a fresh proof per call
    signed by `dpop_key` (a PEM EC private key). Files may be given as paths or as bytes. `tls_server_name` is the
    name to expect in the server's certificate when it is not the address dialled.
    """

    def __init__(self, address: str, *, timeout: float | None = 60.0, retries: int = 3,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES, credentials: grpc.ChannelCredentials | None = None,
                 options: list | None = None, tls_ca=None, tls_cert=None, tls_key=None,
                 tls_server_name: str | None = None, token: str | None = None, token_file=None, dpop_key=None):
        opts = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1), *(options or [])]
        if tls_server_name:
            opts.append(("grpc.ssl_target_name_override", tls_server_name))
        credentials = credentials or channel_credentials(tls_ca, tls_cert, tls_key)
        self._channel = (grpc.secure_channel(address, credentials, opts) if credentials
                         else grpc.insecure_channel(address, opts))
        if token is not None or token_file is not None:
            calls = CallCredentials(token=token, token_file=token_file, dpop_key=dpop_key,
                                    base_url=f"https://{address}")
            self._channel = grpc.intercept_channel(self._channel, calls)
        elif dpop_key is not None:
            raise ValueError("a DPoP key is used with a token: give token or token_file too")
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self.chunk_bytes = chunk_bytes
        self._scoring = scoring_pb2_grpc.ScoringStub(self._channel)
        # ScoreBatches through the hand-written codec (varde._wire): the Arrow bytes are not copied by protobuf.
        self._score_batches = self._channel.stream_stream(
            "/varde.v1.Scoring/ScoreBatches", request_serializer=encode_arrow_batch,
            response_deserializer=decode_scored_batch)
        self._score_patients = self._channel.stream_stream(
            "/varde.v1.Scoring/ScorePatients", request_serializer=encode_arrow_batch,
            response_deserializer=decode_scored_batch)
        self._observations = observations_pb2_grpc.ObservationsStub(self._channel)
        self._flags = flags_pb2_grpc.FlagsStub(self._channel)
        self._patients = patients_pb2_grpc.PatientsStub(self._channel)
        self._info: scoring_pb2.ServerInfo | None = None

    def __enter__(self) -> VardeClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _retry(self, call):
        for attempt in itertools.count():
            try:
                return call()
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or attempt >= self.retries:
                    raise _error(e) from None
                time.sleep(min(2.0, 0.1 * 2**attempt))

    def server_info(self) -> scoring_pb2.ServerInfo:
        """The server's version and limits (asked once per client)."""
        if self._info is None:
            self._info = self._retry(
                lambda: self._scoring.GetServerInfo(scoring_pb2.ServerInfoRequest(), timeout=self.timeout))
        return self._info

    # -- batches ---------------------------------------------------------------------------------------------

    def score(self, data, *, batch_id: str | None = None) -> pa.Table:
        """Score a Table, RecordBatch, reader or iterable of them; the rows in order with their result columns."""
        return _collect(self.score_batches(data, batch_id=batch_id))

    def score_batches(self, data, *, batch_id: str | None = None
                      ) -> Iterator[tuple[pa.RecordBatch, scoring_pb2.ScoredBatch]]:
        """Stream record batches to the server; yield each scored batch with the server's reply, in order.

        The reply (its Arrow bytes dropped) carries the batch_id, the summary and the flags raised.

        Batches are cut into requests of about `chunk_bytes`; each gets the id `<batch_id>/<n>` (batch_id
        defaults to a fresh UUID), which the server uses to raise each flag once however often it is sent.
        A stream is not retried: part of it may have been scored. Resend it with the same batch_id instead.
        """
        yield from self._stream(self._score_batches, RESULT_COLUMNS, data, batch_id)

    def score_patients(self, data, *, batch_id: str | None = None) -> pa.Table:
        """Complex-needs risk (ScorePatients) for a table of GP journal extracts: its rows with the risk columns."""
        return _collect(self.score_patients_batches(data, batch_id=batch_id))

    def score_patients_batches(self, data, *, batch_id: str | None = None
                               ) -> Iterator[tuple[pa.RecordBatch, scoring_pb2.ScoredBatch]]:
        """As score_batches, through ScorePatients: RISK_UNMET_NEED and RISK_RISING flags per batch id."""
        yield from self._stream(self._score_patients, RISK_COLUMNS, data, batch_id)

    def _stream(self, call, result_columns, data, batch_id):
        prefix = batch_id or uuid.uuid4().hex
        # Half the server's limit leaves room for IPC framing and string columns longer than the average.
        chunk_bytes = min(self.chunk_bytes, self.server_info().max_message_bytes // 2)
        sent: collections.deque = collections.deque()
        it = iter(_batches(data))
        first = next(it, None)
        if first is None:
            return

        failed: list[BaseException] = []

        def requests():
            # Runs on gRPC's sending thread: an error reading the caller's data is kept and raised to the caller
            # (gRPC would only report "exception iterating requests").
            n = 0
            try:
                for batch in itertools.chain([first], it):
                    for chunk in _chunks(batch, chunk_bytes):
                        sent.append(chunk)
                        yield ArrowBatchView(batch_id=f"{prefix}/{n}", arrow_ipc=_ipc(chunk), results_only=True)
                        n += 1
            except Exception as e:
                failed.append(e)

        try:
            for reply, ipc in call(requests(), timeout=self.timeout):
                chunk = sent.popleft()
                with pa.ipc.open_stream(pa.py_buffer(ipc)) as reader:
                    results = _one_batch(reader.read_all())
                keep = [i for i, name in enumerate(chunk.schema.names) if name not in result_columns]
                merged = pa.RecordBatch.from_arrays(
                    [chunk.column(i) for i in keep] + results.columns,
                    schema=pa.schema([chunk.schema.field(i) for i in keep] + list(results.schema),
                                     metadata=chunk.schema.metadata),
                )
                yield merged, reply
        except grpc.RpcError as e:
            if failed:
                raise failed[0] from None
            raise _error(e) from None
        if failed:
            raise failed[0]

    # -- single observations ---------------------------------------------------------------------------------

    def push(self, values: Mapping | Observation) -> Assessment:
        """Score one observation set (a dict of contract columns or an Observation)."""
        msg = observation(values)
        return self._retry(lambda: self._observations.PushObservation(msg, timeout=self.timeout))

    def stream(self, observations: Iterable[Mapping | Observation], *, batch: int = 1) -> Iterator[Assessment]:
        """Score a stream of observation sets over one call; one Assessment per observation, in order.

        With `batch` above 1, up to that many observations go in one message (StreamObservationBatches, at most
        the server's max_observations_per_batch): many times faster for a backlog or a gateway, but each
        observation waits for its batch to fill or the input to end, so a live device keeps the default."""
        if batch < 1:
            raise ValueError(f"batch must be 1 or more, not {batch}")
        try:
            if batch == 1:
                yield from self._observations.StreamObservations((observation(o) for o in observations),
                                                                 timeout=self.timeout)
                return
            size = min(batch, self.server_info().max_observations_per_batch or batch)
            items = iter(observations)

            def batches() -> Iterator[obs_pb2.ObservationBatch]:
                while chunk := list(itertools.islice(items, size)):
                    yield obs_pb2.ObservationBatch(observations=[observation(o) for o in chunk])

            for reply in self._observations.StreamObservationBatches(batches(), timeout=self.timeout):
                yield from reply.assessments
        except grpc.RpcError as e:
            raise _error(e) from None

    # -- the coordinators' queue -----------------------------------------------------------------------------

    def list_flags(self, *, states=(), kinds=(), patient_id: str = "", min_severity: str | int = 0,
                   limit: int = 0) -> list[flags_pb2.Flag]:
        """Flags, most severe and oldest first. states: "OPEN", "CLAIMED", "RESOLVED" (default: not resolved)."""
        request = _filter(states, kinds, patient_id, min_severity, limit)
        reply = self._retry(lambda: self._flags.ListFlags(request, timeout=self.timeout))
        return list(reply.flags)

    def watch_flags(self, *, kinds=(), patient_id: str = "", min_severity: str | int = 0, after_cursor: int = 0,
                    reconnect: bool = True) -> Iterator[flags_pb2.FlagEvent]:
        """The open flags, then every change, for as long as you iterate. If the server goes away (a restart),
        reconnect and resume after the last cursor seen, so that no change is missed or repeated."""
        request = flags_pb2.WatchRequest(filter=_filter((), kinds, patient_id, min_severity, 0),
                                         after_cursor=after_cursor)
        failures = 0
        while True:
            try:
                for event in self._flags.WatchFlags(request):
                    failures = 0
                    if event.cursor:
                        request.after_cursor = event.cursor
                    yield event
                return
            except grpc.RpcError as e:
                if not reconnect or e.code() != grpc.StatusCode.UNAVAILABLE or failures >= 60:
                    raise _error(e) from None
                failures += 1
                time.sleep(min(2.0, 0.1 * 2 ** min(failures, 5)))

    def get_flag(self, flag_id: int) -> flags_pb2.Flag:
        """One flag of your unit, with its ISBAR message (flag.isbar.text_nb / text_en) when it has one."""
        request = flags_pb2.GetFlagRequest(flag_id=flag_id)
        return self._retry(lambda: self._flags.GetFlag(request, timeout=self.timeout))

    def claim(self, flag_id: int | None = None) -> flags_pb2.Flag:
        """Take a flag of your unit (or, with no id, its most severe and oldest open one). The server records you
        as your credential names you."""
        request = flags_pb2.ClaimRequest(flag_id=flag_id or 0)
        return self._retry(lambda: self._flags.ClaimFlag(request, timeout=self.timeout))

    def release(self, flag_id: int, reason: str) -> flags_pb2.Flag:
        """Give a flag you hold back to the queue, saying why (kept with the flag)."""
        request = flags_pb2.ReleaseRequest(flag_id=flag_id, reason=reason)
        return self._retry(lambda: self._flags.ReleaseFlag(request, timeout=self.timeout))

    def resolve(self, flag_id: int, outcome: str, note: str = "") -> flags_pb2.Flag:
        """Close a flag with what it led to: VISITED, PHONED, GP_CONTACTED, EMERGENCY_SERVICES or NO_ACTION."""
        request = flags_pb2.ResolveRequest(flag_id=flag_id, outcome=outcome, note=note)
        return self._retry(lambda: self._flags.ResolveFlag(request, timeout=self.timeout))

    # -- per-patient settings -------------------------------------------------------------------------------

    def patient_settings(self, patient_id: str) -> patients_pb2.PatientSettings:
        """A patient's settings in your unit (only patient_id set when there are none)."""
        request = patients_pb2.PatientRef(patient_id=patient_id)
        return self._retry(lambda: self._patients.GetPatientSettings(request, timeout=self.timeout))

    def set_patient_settings(self, patient_id: str, *, spo2_scale: int | None = None, prescribed_by: str = "",
                             age: int | None = None, birth_date: str | None = None, pregnant: bool | None = None,
                             measure_every_minutes: int | None = None, clear=(), team: str | None = None
                             ) -> patients_pb2.PatientSettings:
        """Change the settings given (None: leave as is) and clear those named; the settings as they now are.
        SpO2 scale 2 needs `prescribed_by`."""
        request = patients_pb2.PatientSettingsUpdate(patient_id=patient_id, spo2_scale_prescribed_by=prescribed_by,
                                                     clear=list(clear))
        for name, value in (("spo2_scale", spo2_scale), ("age", age), ("birth_date", birth_date),
                            ("pregnant", pregnant), ("measure_every_minutes", measure_every_minutes), ("team", team)):
            if value is not None:
                setattr(request, name, value)
        return self._retry(lambda: self._patients.SetPatientSettings(request, timeout=self.timeout))

    def health(self, service: str = "") -> str:
        """SERVING, NOT_SERVING, ... as the standard gRPC health service reports it."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(self._channel)
        reply = self._retry(lambda: stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=self.timeout))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    def wait_until_serving(self, timeout: float = 120.0) -> None:
        """Block until the server reports SERVING (kernels compiled), or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.health() == "SERVING":
                    return
            except VardeError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.address} did not report SERVING within {timeout:.0f} s")
            time.sleep(0.1)
