"""PushObservation, StreamObservations and StreamObservationBatches: protobuf observation sets for devices that
cannot carry Arrow.

Observations go straight from their fields to the serial kernel (`score_values`: numpy arrays, no Arrow, no
parallel dispatch for one row) and back into Assessments. Arrow is built only when the flag queue needs a batch.
A stream scores whatever has arrived together in one kernel call.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time

import grpc
import numpy as np
import pyarrow as pa

from varde._proto.varde.v1 import observations_pb2 as pb
from varde._proto.varde.v1 import observations_pb2_grpc
from varde.scoring import _news2_kernel as K
from varde.scoring.national_id import is_valid_national_id
from varde.scoring.news2 import Raw, reject_invalid_ids, score_one, score_values
from varde.scoring.schema import (
    BANDS,
    MISSING_NAMES,
    MONITORING,
    NOT_APPLICABLE_REASONS,
    PARAMETERS,
    REJECT_REASONS,
    RESULT_COLUMNS,
)

from .. import clock
from .._rpc import streaming, unary
from ..auth import identity_of
from ..errors import RequestError
from ..flags import assembly
from ..flags.queue import Pushed
from ..metrics import Metrics
from ..store.base import Caller
from .patients import apply_settings
from .scoring import FUTURE_TOLERANCE_US, MAX_PATIENT_ID_BYTES

__all__ = ["ObservationsService", "assessments", "score_observations", "score_sets", "set_scorer"]

_NUMBERS = ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature", "spo2_scale", "age")
_FLAGS = ("on_oxygen", "pregnant")
_FIELD_KINDS = tuple((name, np.float64) for name in _NUMBERS) + tuple((name, np.bool_) for name in _FLAGS)
_BAND_ENUM = (pb.BAND_ZERO, pb.BAND_LOW, pb.BAND_LOW_MEDIUM, pb.BAND_MEDIUM, pb.BAND_HIGH)
_BAND_NAMES = {enum: BANDS[k] for k, enum in enumerate(_BAND_ENUM)}
_MISSING_LISTS = tuple(tuple(m.split(";")) if m else () for m in MISSING_NAMES)
_TS = pa.timestamp("us", tz="UTC")
FUTURE = REJECT_REASONS.index("OBSERVED_IN_FUTURE")
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799  # google.protobuf.Timestamp's valid range


def _future_limit() -> float:
    """Seconds since the epoch after which an observation is rejected as OBSERVED_IN_FUTURE."""
    return (clock.now_us() + FUTURE_TOLERANCE_US) / 1e6


def score_observations(observations: list[pb.Observation], check_ids: bool = False) -> Raw:
    """The serial kernel over protobuf observations; with `check_ids` a patient_id that is not a valid national
    identity number rejects its row with INVALID_NATIONAL_ID."""
    if len(observations) == 1:
        raw = _score_single(observations[0], check_ids)
        if raw is not None:
            return raw
    values = {}
    for name, kind in _FIELD_KINDS:
        present = [o.HasField(name) for o in observations]
        if True in present:
            values[name] = (np.array([getattr(o, name) for o in observations], kind), np.array(present))
    present = [bool(o.patient_id) for o in observations]
    limit = _future_limit()
    future = [o.HasField("observed_at") and o.observed_at.seconds > limit for o in observations]
    bad = [p and not is_valid_national_id(o.patient_id) for p, o in zip(present, observations, strict=True)] \
        if check_ids else None
    consciousness = [o.consciousness or None for o in observations]
    if True not in future and (bad is None or True not in bad):  # nearly every call: nothing rejected up front
        return score_values(np.array(present), values, consciousness)
    present, future = np.array(present), np.array(future)
    bad = np.array(bad) if bad is not None else np.zeros(len(observations), np.bool_)
    raw = score_values(present & ~bad & ~future, values, consciousness)
    reject_invalid_ids(raw, future & present & ~bad, FUTURE)
    reject_invalid_ids(raw, bad)
    return raw


def _score_single(o: pb.Observation, check_ids: bool) -> Raw | None:
    """A single push through score_one; None when it is rejected up front (the general path says why)."""
    if o.HasField("observed_at") and o.observed_at.seconds > _future_limit():
        return None
    if check_ids and o.patient_id and not is_valid_national_id(o.patient_id):
        return None
    return score_one(bool(o.patient_id), tuple(getattr(o, name) if o.HasField(name) else None for name in _NUMBERS),
                     tuple(getattr(o, name) if o.HasField(name) else None for name in _FLAGS),
                     o.consciousness or None)


def _micros(obs: pb.Observation) -> int:
    return obs.observed_at.seconds * 1_000_000 + obs.observed_at.nanos // 1000


def _observation(patient_id: str, s: assembly.AssembledSet, settings: dict | None) -> pb.Observation:
    """An assembled set as one Observation, at the set's time, with the patient's settings applied."""
    obs = pb.Observation(patient_id=patient_id, **s.values)
    obs.observed_at.FromMicroseconds(s.at)
    if settings:
        apply_settings(obs, settings)
    return obs


def score_sets(patients: list[str], sets: list[assembly.AssembledSet], settings: dict[str, dict]):
    """What FlagQueue.record_readings scores the assembled sets with: each set as an Observation with its patient's
    settings, through the serial kernel; gives the scored table and (observations, Raw) for the answers."""
    made = [_observation(p, s, settings.get(p)) for p, s in zip(patients, sets, strict=True)]
    raw = score_observations(made)
    return _table(made, raw), (made, raw)


def set_scorer(settings: dict[str, dict]):
    """score_sets with these settings, for a caller that has them already (the console's patient page)."""
    return lambda patients, sets: score_sets(patients, sets, settings)


def assessments(observations: list[pb.Observation], raw: Raw, rows: list[int] | None = None
                ) -> list[pb.Assessment | None]:
    """An Assessment per observation; with `rows`, only those (the others None)."""
    if raw.n == 1 and rows is None:
        return [_assessment_of_one(observations[0], raw)]
    # Every bitmap unpacked in one call and every array converted once: per call, not per bitmap, is what a
    # single push pays.
    bits = np.unpackbits(raw.bm, axis=1, count=raw.n, bitorder="little").tolist()
    scored, red, complete, has_missing = (bits[K.BM_SCORED], bits[K.BM_RED], bits[K.BM_COMPLETE],
                                          bits[K.BM_MISSING])
    applicable = [a & v for a, v in zip(bits[K.BM_APPLICABLE], bits[K.BM_APPLICABLE_VALID], strict=True)]
    has_na, has_reject = bits[K.BM_NA], bits[K.BM_REJECT]
    sub_ok = np.unpackbits(raw.sub_valid, axis=1, count=raw.n, bitorder="little").tolist()
    sub = raw.sub.tolist()
    total, band, missing = raw.total.tolist(), raw.band.tolist(), raw.missing.tolist()
    monitoring, na, reject = raw.monitoring.tolist(), raw.na_reason.tolist(), raw.reject.tolist()
    out: list[pb.Assessment | None] = [None] * len(observations)
    for i in range(len(observations)) if rows is None else rows:
        obs = observations[i]
        a = pb.Assessment(patient_id=obs.patient_id, applicable=bool(applicable[i]))
        if obs.HasField("observed_at"):
            a.observed_at.CopyFrom(obs.observed_at)
        if scored[i]:
            a.total, a.band, a.red, a.complete = total[i], _BAND_ENUM[band[i]], bool(red[i]), bool(complete[i])
            a.monitoring = MONITORING[monitoring[i]]
        if has_missing[i]:
            a.missing.extend(_MISSING_LISTS[missing[i]])
        if has_na[i]:
            a.not_applicable_reason = NOT_APPLICABLE_REASONS[na[i]]
        if has_reject[i]:
            a.reject_reason = REJECT_REASONS[reject[i]]
        s = a.sub_scores
        for k, param in enumerate(PARAMETERS):
            if sub_ok[k][i]:
                setattr(s, param, sub[k][i])
        out[i] = a
    return out


def _assessment_of_one(obs: pb.Observation, raw: Raw) -> pb.Assessment:
    """assessments() for a single push: row 0 of each bitmap is bit 0 of its first byte, so nothing is unpacked."""
    bm = raw.bm[:, 0].tolist()
    a = pb.Assessment(patient_id=obs.patient_id, applicable=bool(bm[K.BM_APPLICABLE] & bm[K.BM_APPLICABLE_VALID] & 1))
    if obs.HasField("observed_at"):
        a.observed_at.CopyFrom(obs.observed_at)
    if bm[K.BM_SCORED] & 1:
        a.total, a.band, a.red, a.complete = (int(raw.total[0]), _BAND_ENUM[raw.band[0]], bool(bm[K.BM_RED] & 1),
                                              bool(bm[K.BM_COMPLETE] & 1))
        a.monitoring = MONITORING[raw.monitoring[0]]
    if bm[K.BM_MISSING] & 1:
        a.missing.extend(_MISSING_LISTS[raw.missing[0]])
    if bm[K.BM_NA] & 1:
        a.not_applicable_reason = NOT_APPLICABLE_REASONS[raw.na_reason[0]]
    if bm[K.BM_REJECT] & 1:
        a.reject_reason = REJECT_REASONS[raw.reject[0]]
    s = a.sub_scores
    sub = raw.sub[:, 0].tolist()
    for k, ok in enumerate(raw.sub_valid[:, 0].tolist()):
        if ok & 1:
            setattr(s, PARAMETERS[k], sub[k])
    return a


def _table(observations: list[pb.Observation], raw: Raw) -> pa.Table:
    """The scored rows as the flag queue reads them: patient, time and the result columns."""
    ids = pa.array([o.patient_id or None for o in observations], pa.string())
    when = pa.array([o.observed_at.seconds * 1_000_000 + o.observed_at.nanos // 1000
                     if o.HasField("observed_at") else None for o in observations], pa.int64()).cast(_TS)
    return pa.Table.from_arrays([ids, when, *raw.arrays()], names=["patient_id", "observed_at", *RESULT_COLUMNS])


class ObservationsService(observations_pb2_grpc.ObservationsServicer):
    def __init__(self, metrics: Metrics, scoring, stream_batch_max: int, assembly_window_us: int = 0):
        self.metrics = metrics
        self._scoring = scoring
        self._batch_max = stream_batch_max
        self._window_us = assembly_window_us

    def _assemble(self, observations: list[pb.Observation], raw: Raw, batch_id: str, caller: Caller
                  ) -> list[pb.Assessment]:
        """Each accepted reading answered with the assessment of the observation set it belongs to (docs/home.md),
        scored with the patient's settings as they are inside the assembly's transaction. A rejected reading (a bad
        value, an invalid id, a time in the future) is answered as it is and kept out of every set."""
        accepted = [i for i in np.flatnonzero(~raw.bits(K.BM_REJECT)).tolist()
                    if observations[i].patient_id]
        taken = set(accepted)
        out = assessments(observations, raw, [i for i in range(len(observations)) if i not in taken])
        if not accepted:
            return out
        now = clock.now_us()
        pushed = []
        for i in accepted:
            obs = observations[i]
            values = {name: getattr(obs, name) for name in assembly.FIELDS
                      if name != "consciousness" and obs.HasField(name)}
            if obs.consciousness:
                values["consciousness"] = obs.consciousness
            if obs.HasField("reported_news2_total"):
                values["reported_news2_total"] = obs.reported_news2_total  # stored as received, never scored
            when = _micros(obs) if obs.HasField("observed_at") else now
            pushed.append(Pushed(obs.patient_id, when, obs.source[:100], values))

        recorded, sets, (made, set_raw) = self._scoring.queue.record_readings(
            pushed, batch_id, caller, self._window_us, score_sets)
        for k, (i, a) in enumerate(zip(accepted, assessments(made, set_raw), strict=True)):
            s = sets[k]
            a.assembled = True
            a.set_started_at.FromMicroseconds(s.started_at)
            for name in assembly.PARAMETER_FIELDS:
                if name in s.parts:
                    when, device = s.parts[name]
                    part = a.parts.add(parameter=name, device=device)
                    part.measured_at.FromMicroseconds(when)
            if not recorded.replayed:
                a.rising = bool(recorded.rising[k])
                a.flag_ids.extend(recorded.flag_ids.get(a.patient_id, ()))
            out[i] = a
        return out

    def _count(self, raw: Raw, seconds: float, answers: list[pb.Assessment]) -> None:
        """Rows and rejects as the kernel found them; bands as answered (when assembling: the sets' bands)."""
        m = self.metrics
        m.child(m.kernel_seconds, "news2_serial").observe(seconds)
        m.child(m.rows_scored, "news2_serial").inc(raw.n)
        m.child(m.batch_rows, "news2_serial").observe(raw.n)
        if raw.n == 1:  # a push: row 0's bit, nothing unpacked
            codes = [int(raw.reject[0])] if raw.bm[K.BM_REJECT, 0] & 1 else ()
        else:
            rejected = raw.bits(K.BM_REJECT)
            codes = raw.reject[rejected].tolist() if rejected.any() else ()
        for code in codes:
            m.child(m.rows_rejected, REJECT_REASONS[code]).inc()
        for a in answers:
            if a.band:
                m.child(m.band_rows, _BAND_NAMES[a.band]).inc()

    @staticmethod
    def _check(observations: list[pb.Observation]) -> None:
        """What the kernel cannot reject per row: a time outside the protobuf Timestamp range, an absurd id."""
        for obs in observations:
            if obs.HasField("observed_at"):
                t = obs.observed_at
                if not (_MIN_SECONDS <= t.seconds <= _MAX_SECONDS and 0 <= t.nanos < 1_000_000_000):
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "observed_at is outside 0001-01-01 to "
                                       "9999-12-31 (or its nanos are outside 0-999,999,999)", field="observed_at")
            if len(obs.patient_id) > MAX_PATIENT_ID_BYTES:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"patient_id is longer than "
                                   f"{MAX_PATIENT_ID_BYTES} characters", field="patient_id")

    @staticmethod
    def _with_settings(observations: list[pb.Observation], settings: dict[str, dict]) -> list[pb.Observation]:
        """The observations with their patients' settings applied (copies; the requests are not changed)."""
        if not settings:
            return observations
        out = []
        for obs in observations:
            if obs.patient_id in settings:
                copy = pb.Observation()
                copy.CopyFrom(obs)
                apply_settings(copy, settings[obs.patient_id])
                obs = copy
            out.append(obs)
        return out

    def _assess(self, observations: list[pb.Observation], caller: Caller) -> list[pb.Assessment]:
        self._check(observations)
        self._scoring.wait_ready()
        queue = self._scoring.queue
        if queue is None:
            started = time.perf_counter()
            raw = score_observations(observations, self._scoring.check_ids)
            seconds = time.perf_counter() - started
            out = assessments(observations, raw)
            self._count(raw, seconds, out)
            return out
        # The same observations sent again (a retry) raise nothing twice: the batch id is their content.
        digest = hashlib.sha256()
        for obs in observations:
            digest.update(obs.SerializeToString(deterministic=True))
        batch_id = f"push:{digest.hexdigest()}"
        ids = [o.patient_id for o in observations if o.patient_id]
        # Assembling reads the patients' settings in its own transaction (they do not change what is rejected);
        # scoring the readings as they are, first, finds the rejected ones.
        settings = {} if self._window_us else queue.store.settings_for(caller.unit, ids)
        observations = self._with_settings(observations, settings)
        started = time.perf_counter()
        raw = score_observations(observations, self._scoring.check_ids)
        if self._window_us and raw.bits(K.BM_REJECT).any():
            # a rejected reading joins no set: it is answered as itself, with its patient's settings applied
            settings = queue.store.settings_for(caller.unit, ids)
            if settings:
                observations = self._with_settings(observations, settings)
                raw = score_observations(observations, self._scoring.check_ids)
        seconds = time.perf_counter() - started
        if self._window_us:
            out = self._assemble(observations, raw, batch_id, caller)
        else:
            out = assessments(observations, raw)
            recorded = queue.record(_table(observations, raw), batch_id, caller)
            if not recorded.replayed:
                for i, a in enumerate(out):
                    a.rising = bool(recorded.rising[i])
                    a.flag_ids.extend(recorded.flag_ids.get(a.patient_id, ()))
        self._count(raw, seconds, out)
        return out

    @unary("PushObservation")
    def PushObservation(self, request, context, where):
        identity = identity_of(context)
        if (self._scoring.check_ids and request.patient_id
                and not is_valid_national_id(request.patient_id)):
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_NATIONAL_ID: patient_id is not a valid "
                               "national identity number, D-number or help number (docs/national-id.md)",
                               field="patient_id")
        return self._assess([request], Caller(identity.actor, identity.unit, "PushObservation"))[0]

    @streaming("StreamObservations")
    def StreamObservations(self, request_iterator, context, where):
        # A reader thread drains the request stream into a queue, so that whatever arrived while the last group
        # was scored is scored together: one kernel call per group, not per observation.
        identity = identity_of(context)
        caller = Caller(identity.actor, identity.unit, "StreamObservations")
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
                if isinstance(item, RequestError):
                    raise item  # an undecodable message: INVALID_ARGUMENT
                if isinstance(item, Exception):
                    return
            if group:
                yield from self._assess(group, caller)

    @streaming("StreamObservationBatches")
    def StreamObservationBatches(self, request_iterator, context, where):
        # One kernel call (and one flag-queue transaction) per batch, as the client grouped them: the batch is the
        # unit a gateway retries, and its content is its id for the flags.
        identity = identity_of(context)
        caller = Caller(identity.actor, identity.unit, "StreamObservationBatches")
        for n, batch in enumerate(request_iterator):
            where.text = f"observation batch {n}"
            if len(batch.observations) > self._batch_max:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"an ObservationBatch carries {len(batch.observations):,} observations; at most "
                                   f"{self._batch_max:,} are accepted (ServerInfo.max_observations_per_batch): "
                                   "split it", field="observations")
            observations = list(batch.observations)
            yield pb.AssessmentBatch(assessments=self._assess(observations, caller) if observations else ())
