"""PushObservation and StreamObservations: protobuf observation sets for devices that cannot carry Arrow.

Observations become a small Arrow batch and go through the same kernel as every other path (the serial twin: one
row never pays for parallel dispatch). A stream scores whatever has arrived together in one kernel call.
"""

from __future__ import annotations

import hashlib
import queue
import threading

import pyarrow as pa

from varde._proto.varde.v1 import observations_pb2 as pb
from varde._proto.varde.v1 import observations_pb2_grpc
from varde.scoring.schema import PARAMETERS, SUBSCORE_COLUMNS

from .._rpc import streaming, unary
from ..metrics import Metrics

__all__ = ["ObservationsService", "assessments", "observations_batch"]

_FLOATS = ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature")
_BANDS = {"ZERO": pb.BAND_ZERO, "LOW": pb.BAND_LOW, "LOW_MEDIUM": pb.BAND_LOW_MEDIUM, "MEDIUM": pb.BAND_MEDIUM,
          "HIGH": pb.BAND_HIGH, None: pb.BAND_UNSPECIFIED}
_TS = pa.timestamp("us", tz="UTC")


def _opt(obs, name):
    return getattr(obs, name) if obs.HasField(name) else None


def observations_batch(observations: list[pb.Observation]) -> pa.RecordBatch:
    """The Arrow form of observation messages, one row each, in the column contract."""
    cols = {
        "patient_id": pa.array([o.patient_id or None for o in observations], pa.string()),
        "observed_at": pa.array(
            [o.observed_at.seconds * 1_000_000 + o.observed_at.nanos // 1000 if o.HasField("observed_at") else None
             for o in observations], pa.int64()).cast(_TS),
    }
    for name in _FLOATS:
        cols[name] = pa.array([_opt(o, name) for o in observations], pa.float64())
    cols["spo2_scale"] = pa.array([_opt(o, "spo2_scale") for o in observations], pa.int32())
    cols["on_oxygen"] = pa.array([_opt(o, "on_oxygen") for o in observations], pa.bool_())
    cols["consciousness"] = pa.array([o.consciousness or None for o in observations], pa.string())
    cols["age"] = pa.array([_opt(o, "age") for o in observations], pa.int32())
    cols["pregnant"] = pa.array([_opt(o, "pregnant") for o in observations], pa.bool_())
    return pa.RecordBatch.from_pydict(cols)


def assessments(observations: list[pb.Observation], scored: pa.Table | pa.RecordBatch) -> list[pb.Assessment]:
    c = {name: scored.column(name).to_pylist() for name in (*SUBSCORE_COLUMNS, "news2_total", "news2_band",
         "news2_red", "news2_complete", "news2_missing", "news2_applicable", "news2_not_applicable_reason",
         "news2_monitoring", "reject_reason")}
    out = []
    for i, obs in enumerate(observations):
        a = pb.Assessment(
            patient_id=obs.patient_id,
            band=_BANDS[c["news2_band"][i]],
            red=bool(c["news2_red"][i]),
            complete=bool(c["news2_complete"][i]),
            monitoring=c["news2_monitoring"][i] or "",
            applicable=bool(c["news2_applicable"][i]),
            not_applicable_reason=c["news2_not_applicable_reason"][i] or "",
            reject_reason=c["reject_reason"][i] or "",
        )
        if obs.HasField("observed_at"):
            a.observed_at.CopyFrom(obs.observed_at)
        total = c["news2_total"][i]
        if total is not None:
            a.total = total
        missing = c["news2_missing"][i]
        if missing:
            a.missing.extend(missing.split(";"))
        sub = a.sub_scores
        for param, col in zip(PARAMETERS, SUBSCORE_COLUMNS, strict=True):
            v = c[col][i]
            if v is not None:
                setattr(sub, param, v)
        out.append(a)
    return out


class ObservationsService(observations_pb2_grpc.ObservationsServicer):
    def __init__(self, metrics: Metrics, scoring, stream_batch_max: int):
        self.metrics = metrics
        self._scoring = scoring
        self._batch_max = stream_batch_max

    def _assess(self, observations: list[pb.Observation]) -> list[pb.Assessment]:
        scored, _ = self._scoring.score_table(pa.Table.from_batches([observations_batch(observations)]))
        out = assessments(observations, scored)
        queue = self._scoring.queue
        if queue is not None:
            # The same observations sent again (a retry) raise nothing twice: the batch id is their content.
            digest = hashlib.sha256()
            for obs in observations:
                digest.update(obs.SerializeToString(deterministic=True))
            source = observations[0].source or "push"
            recorded = queue.record(scored, f"push:{digest.hexdigest()}", source)
            if not recorded.replayed:
                for i, a in enumerate(out):
                    a.rising = bool(recorded.rising[i])
                    a.flag_ids.extend(recorded.flag_ids.get(a.patient_id, ()))
        return out

    @unary("PushObservation")
    def PushObservation(self, request, context, where):
        return self._assess([request])[0]

    @streaming("StreamObservations")
    def StreamObservations(self, request_iterator, context, where):
        # A reader thread drains the request stream into a queue, so that whatever arrived while the last group
        # was scored is scored together: one kernel call per group, not per observation.
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        done = object()

        def read():
            try:
                for obs in request_iterator:
                    inbox.put(obs)
            except Exception as exc:  # the client cancelled or the stream broke: end the response side
                inbox.put(exc)
            inbox.put(done)

        threading.Thread(target=read, name="varde-stream-reader", daemon=True).start()
        finished = False
        while not finished:
            group = [inbox.get()]
            while len(group) < self._batch_max:
                try:
                    group.append(inbox.get_nowait())
                except queue.Empty:
                    break
            if group[-1] is done:
                group.pop()
                finished = True
            for item in group:
                if isinstance(item, Exception):
                    return
            if group:
                yield from self._assess(group)
