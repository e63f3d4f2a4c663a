"""The coordinators' API: list, watch, claim, release and resolve flags. Every read and change is audited."""

from __future__ import annotations

import json

import grpc

from varde._proto.varde.v1 import flags_pb2 as pb
from varde._proto.varde.v1 import flags_pb2_grpc

from .._rpc import streaming, unary
from ..auth import identity_of
from ..errors import RequestError
from ..flags import isbar
from ..flags.follow_up import FollowUp
from ..metrics import Metrics
from ..store.base import OUTCOMES, Caller, FlagRow, Store, now_us

__all__ = ["FlagsService", "flag_message"]

_STATE_NAMES = {pb.OPEN: "OPEN", pb.CLAIMED: "CLAIMED", pb.RESOLVED: "RESOLVED"}
_STATES = {v: k for k, v in _STATE_NAMES.items()}
_SEVERITY_NAMES = {1: "LOW", 2: "MEDIUM", 3: "HIGH"}
_EVENT_TYPES = dict(pb.FlagEvent.Type.items())


def _event_type(kind: str) -> int:
    """The wire type of a stored event. One this server does not know (written by a newer server sharing the store,
    during a rolling upgrade) goes out as UPDATED: the flag did change, and a watcher must not lose it or the
    stream."""
    return _EVENT_TYPES.get(kind, pb.FlagEvent.UPDATED)


def _ts(msg, us: int | None) -> None:
    if us:
        msg.FromMicroseconds(us)


def flag_message(f: FlagRow, follow_up: FollowUp | None = None) -> pb.Flag:
    msg = pb.Flag(id=f.id, patient_id=f.patient_id, kind=f.kind, severity=f.severity, state=_STATES[f.state],
                  assessment_json=f.assessment, source=f.source, occurrences=f.occurrences,
                  claimed_by=f.claimed_by or "", resolution_note=f.resolution_note or "", unit=f.unit,
                  outcome=f.outcome or "", release_reason=f.release_reason or "",
                  escalation_level=f.escalation_level or 0)
    _ts(msg.created_at, f.created_at)
    _ts(msg.updated_at, f.updated_at)
    _ts(msg.claimed_at, f.claimed_at)
    _ts(msg.resolved_at, f.resolved_at)
    structured = follow_up.isbar_of(f) if follow_up is not None else json.loads(f.isbar) if f.isbar else None
    if structured:
        msg.isbar.json = f.isbar or json.dumps(structured, ensure_ascii=False)
        msg.isbar.text_nb = isbar.render(structured, "nb")
        msg.isbar.text_en = isbar.render(structured, "en")
        msg.isbar.response_policy_version = structured.get("policy_version") or ""
        msg.isbar.response_policy_reviewed = bool(structured.get("policy_reviewed"))
    return msg


def caller(context: grpc.ServicerContext, method: str) -> Caller:
    """Who is asking, from their checked credential only (a request's `coordinator` field is not trusted)."""
    identity = identity_of(context)
    return Caller(identity.actor, identity.unit, method)


def _filter_args(f: pb.FlagFilter) -> dict:
    for s in f.states:
        if s not in _STATE_NAMES:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"unknown flag state {s}", field="states")
    if f.limit < 0:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "limit must be 0 (default 1000) or more",
                           field="limit")
    return {
        "states": [_STATE_NAMES[s] for s in f.states] or ["OPEN", "CLAIMED"],
        "kinds": list(f.kinds),
        "patient_id": f.patient_id,
        "min_severity": int(f.min_severity),
        "limit": min(f.limit or 1000, 10_000),
    }


def _matches(f: FlagRow, args: dict) -> bool:
    """For live events: kind, patient and severity filter them; state does not (a watcher of open flags must
    see the flag leave when it is resolved)."""
    return ((not args["kinds"] or f.kind in args["kinds"])
            and (not args["patient_id"] or f.patient_id == args["patient_id"])
            and f.severity >= args["min_severity"])


class FlagsService(flags_pb2_grpc.FlagsServicer):
    def __init__(self, metrics: Metrics, store: Store, stopping, poll_seconds: float = 0.2,
                 follow_up: FollowUp | None = None):
        self.metrics = metrics
        self._store = store
        self._stopping = stopping
        self._poll = poll_seconds
        self._follow_up = follow_up or FollowUp()

    def _message(self, f: FlagRow) -> pb.Flag:
        return flag_message(f, self._follow_up)

    @unary("ListFlags")
    def ListFlags(self, request, context, where):
        flags = self._store.list_flags(caller(context, "ListFlags"), **_filter_args(request))
        return pb.FlagList(flags=[self._message(f) for f in flags])

    @streaming("WatchFlags")
    def WatchFlags(self, request, context, where):
        args = _filter_args(request.filter)
        who = caller(context, "WatchFlags")
        cursor = request.after_cursor
        if cursor < 0:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "after_cursor must be 0 or a cursor from an event",
                               field="after_cursor")
        if cursor == 0:
            # The cursor is read before the snapshot: a change racing it is sent again, never lost.
            cursor = self._store.cursor()
            for f in self._store.list_flags(who, **args):
                yield pb.FlagEvent(type=pb.FlagEvent.EXISTING, flag=self._message(f), cursor=cursor)
            yield pb.FlagEvent(type=pb.FlagEvent.CAUGHT_UP, cursor=cursor)
        while context.is_active() and not self._stopping.is_set():
            events = self._store.events_after(cursor, who)
            for seq, kind, f in events:
                cursor = seq
                if f is not None and _matches(f, args):
                    yield pb.FlagEvent(type=_event_type(kind), flag=self._message(f), cursor=seq)
            if not events:
                self._stopping.wait(self._poll)
        if self._stopping.is_set():
            raise RequestError(grpc.StatusCode.UNAVAILABLE,
                               f"the server is shutting down; reconnect with after_cursor={cursor} to resume")

    @unary("ClaimFlag")
    def ClaimFlag(self, request, context, where):
        f = self._store.claim(request.flag_id or None, caller(context, "ClaimFlag"))
        self.metrics.flags_claimed.inc()
        self.metrics.raise_to_claim.labels(f.kind, _SEVERITY_NAMES.get(f.severity, str(f.severity))).observe(
            max(0.0, (now_us() - f.created_at) / 1e6))
        return self._message(f)

    @unary("ReleaseFlag")
    def ReleaseFlag(self, request, context, where):
        reason = request.reason.strip()
        if not reason or len(reason) > 1000:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "say why the flag goes back to the queue (reason, "
                               "1-1,000 characters)", field="reason")
        return self._message(self._store.release(request.flag_id, caller(context, "ReleaseFlag"), reason))

    @unary("ResolveFlag")
    def ResolveFlag(self, request, context, where):
        if len(request.note) > 10_000:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "note is longer than 10,000 characters",
                               field="note")
        if request.outcome not in OUTCOMES:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"outcome {request.outcome[:40]!r}: say what the "
                               f"flag led to, one of {', '.join(OUTCOMES)}", field="outcome")
        f = self._store.resolve(request.flag_id, caller(context, "ResolveFlag"), request.note, request.outcome)
        self.metrics.flags_resolved.labels(request.outcome).inc()
        self.metrics.outcomes.labels(f.kind, request.outcome).inc()
        self.metrics.raise_to_resolve.labels(f.kind, _SEVERITY_NAMES.get(f.severity, str(f.severity))).observe(
            max(0.0, (now_us() - f.created_at) / 1e6))
        return self._message(f)

    @unary("GetFlag")
    def GetFlag(self, request, context, where):
        if request.flag_id <= 0:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "flag_id must be a flag's id (1 or more)",
                               field="flag_id")
        return self._message(self._store.get(request.flag_id, caller(context, "GetFlag")))
