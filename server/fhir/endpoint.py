"""The FHIR R4 REST endpoint (`varde serve --fhir-port`): home-monitoring vendors post vital-sign Observations as
they deliver them through the welfare-technology hub, and get back NEWS2 Observations; coordinators' and journal
systems poll Flags and DetectedIssues. The same TLS, identities, roles and units as the gRPC port; readings go the
same way as PushObservation (assembled into observation sets, flags committed before the answer)."""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc

from varde._proto.varde.v1 import observations_pb2 as pb

from ..auth import Authenticator
from ..auth.tokens import AuthError
from ..errors import RequestError
from ..store.base import Caller, FlagNotFound, StoreError
from . import inbound, outbound

__all__ = ["FhirEndpoint"]

log = logging.getLogger("varde.server.fhir")
JSON = "application/fhir+json"
_DEVICE = frozenset({"device"})
_READ = frozenset({"coordinator", "operator", "journal"})
_BANDS = {pb.BAND_ZERO: "ZERO", pb.BAND_LOW: "LOW", pb.BAND_LOW_MEDIUM: "LOW_MEDIUM", pb.BAND_MEDIUM: "MEDIUM",
          pb.BAND_HIGH: "HIGH"}
_PARAMS = ("resp_rate", "spo2", "air_oxygen", "systolic_bp", "pulse", "consciousness", "temperature")


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


class FhirEndpoint:
    """A threaded HTTP(S) server beside the gRPC one. `observations` is the gRPC service whose `_assess` scores and
    records pushes; `store` and `follow_up` serve the flag reads."""

    def __init__(self, settings, metrics, observations, store, follow_up, authenticator: Authenticator):
        self.settings, self.metrics = settings, metrics
        self.observations, self.store, self.follow_up = observations, store, follow_up
        self.auth = authenticator
        self.max_bytes = settings.max_message_bytes
        self._httpd: ThreadingHTTPServer | None = None

    def start(self, host: str, port: int) -> int:
        endpoint = self

        class Handler(_Handler):
            pass

        Handler.endpoint = endpoint
        httpd = ThreadingHTTPServer((host, port), Handler)
        httpd.daemon_threads = True
        if self.settings.tls_cert:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
            if self.settings.tls_client_ca:
                context.load_verify_locations(self.settings.tls_client_ca)
                context.verify_mode = ssl.CERT_OPTIONAL  # a token instead of a certificate is fine, as on gRPC
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, name="varde-fhir", daemon=True).start()
        return httpd.server_address[1]

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # -- what each request does ----------------------------------------------------------------------------------

    def post_observation(self, resource: dict, caller: Caller) -> tuple[int, dict]:
        try:
            reading = inbound.observation_reading(resource)
        except inbound.FhirInputError as e:
            return 400, inbound.operation_outcome(e)
        [(status, body)] = self._assess([reading], caller)
        return status, body

    def post_bundle(self, bundle: dict, caller: Caller) -> tuple[int, dict]:
        try:
            entries = inbound.bundle_entries(bundle)
        except inbound.FhirInputError as e:
            return 400, inbound.operation_outcome(e)
        kind = bundle.get("type")
        bad = [(n, e) for n, e in entries if isinstance(e, inbound.FhirInputError)]
        if kind == "transaction" and bad:  # all or nothing
            issues = [i._replace(expression=_in_entry(n, i.expression)) for n, e in bad for i in e.issues]
            return 400, inbound.operation_outcome(inbound.FhirInputError(issues))
        good = [(n, r) for n, r in entries if not isinstance(r, inbound.FhirInputError)]
        answers = dict(zip((n for n, _ in good), self._assess([r for _, r in good], caller), strict=True)) \
            if good else {}
        out = []
        for n, item in entries:
            if isinstance(item, inbound.FhirInputError):
                status, body = 400, inbound.operation_outcome(item)
            else:
                status, body = answers[n]
            entry = {"response": {"status": f"{status} {_REASONS.get(status, '')}".strip()}}
            if status < 300:
                entry["resource"] = body
            else:
                entry["response"]["outcome"] = body
            out.append(entry)
        return 200, {"resourceType": "Bundle", "type": f"{kind}-response", "entry": out}

    def _assess(self, readings: list[inbound.FhirReading], caller: Caller) -> list[tuple[int, dict]]:
        observations = [_observation(r) for r in readings]
        assessments = self.observations._assess(observations, caller)
        out = []
        for r, a in zip(readings, assessments, strict=True):
            if a.reject_reason:
                out.append((422, _outcome("error", "value", f"{a.reject_reason}: the reading cannot be scored "
                                          "(docs/news2.md lists the codes)", "Observation")))
            elif not a.HasField("total"):
                out.append((422, _outcome("error", "business-rule", f"NEWS2 does not apply "
                                          f"({a.not_applicable_reason})", "Observation.subject")))
            else:
                out.append((201, _news2(a, r)))
        return out

    def get_flags(self, query: dict, caller: Caller) -> dict:
        status = (query.get("status") or ["active"])[0]
        states = {"active": ("OPEN", "CLAIMED"), "inactive": ("RESOLVED",)}.get(status)
        if states is None:
            raise _Refused(400, "value", f"status {status!r}: active or inactive")
        patient = (query.get("patient.identifier") or query.get("subject.identifier") or [""])[0].split("|")[-1]
        flags = self.store.list_flags(caller, states=states, patient_id=patient)
        return {"resourceType": "Bundle", "type": "searchset", "total": len(flags),
                "entry": [{"fullUrl": f"Flag/{f.id}", "resource": outbound.flag_resource(f),
                           "search": {"mode": "match"}} for f in flags]}

    def get_observations(self, query: dict, caller: Caller) -> dict:
        """The patient's current NEWS2 assessment: the observation set of their newest reading, scored now (Varde
        keeps readings, not assessments). Only the NEWS2 code is served."""
        from ..flags import assembly
        from ..services.observations import _observation, assessments, score_observations
        from . import codes

        code = (query.get("code") or [""])[0]
        if code and code.split("|")[-1] != codes.NEWS2_TOTAL[1]:
            raise _Refused(400, "not-supported", f"code {code[:60]!r}: this endpoint serves NEWS2 assessments "
                                                 f"(SNOMED CT {codes.NEWS2_TOTAL[1]}) only")
        patient = _subject(query)
        window = self.observations._window_us or 30 * 60 * 1_000_000
        with self.store.transaction(write=False) as cur:
            newest = self.store._execute(cur, "SELECT max(measured_at) FROM readings WHERE unit = ? AND "
                                              "patient_id = ?", (caller.unit, patient)).fetchone()[0]
            rows = (self.store.readings_between(cur, caller.unit, [patient], newest - window, newest)[patient]
                    if newest is not None else [])
        self.store.audit_read(caller, patient)
        entries = []
        if rows:
            readings = [assembly.Reading(t, seq, device, assembly.decode(text)) for t, seq, device, text in rows]
            s = assembly.assemble(readings, newest, window)
            settings = self.store.settings_for(caller.unit, [patient]).get(patient)
            obs = _observation(patient, s, settings)
            [a] = assessments([obs], score_observations([obs]))
            if a.HasField("total"):
                reading = inbound.FhirReading(patient, newest, "", s.values, None, "")
                entries.append({"resource": _news2(a, reading), "search": {"mode": "match"}})
        return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}

    def get_risk(self, query: dict, caller: Caller) -> dict:
        """The patient's latest complex-needs risk tier (as the last ScorePatients left it), with the reasons of
        their newest risk flag when there is one."""
        from ..flags.follow_up import risk_of

        patient = _subject(query)
        with self.store.transaction(write=False) as cur:
            risk = risk_of(self.store, cur, caller.unit, [patient]).get(patient)
        self.store.audit_read(caller, patient, "READ_RISK")
        entries = []
        if risk:
            entries.append({"resource": outbound.risk_assessment(patient, risk["tier"], None, risk.get("reasons", []),
                                                                 risk["scored_at"]), "search": {"mode": "match"}})
        return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}

    def get_flag_resource(self, what: str, flag_id: int, caller: Caller) -> dict:
        flag = self.store.get(flag_id, caller)
        if what == "Flag":
            return outbound.flag_resource(flag)
        if what == "DetectedIssue":
            return outbound.detected_issue(flag)
        if flag.state != "RESOLVED":
            raise _Refused(404, "not-found", f"flag {flag_id} is not resolved yet: its document exists once it is")
        isbar = self.follow_up.isbar_of(flag)
        from ..flags import isbar as isbar_text

        return outbound.resolved_document(flag, isbar_text.render(isbar, "nb") if isbar else "", None)


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type",
            422: "Unprocessable Entity", 503: "Service Unavailable"}


def _subject(query: dict) -> str:
    subject = next((query[k][0] for k in ("subject.identifier", "patient.identifier", "subject", "patient")
                    if query.get(k)), "")
    patient = subject.split("|")[-1].removeprefix("Patient/")
    if not patient or len(patient) > 256:
        raise _Refused(400, "required", "say whose: subject.identifier=<system>|<national id>")
    return patient


def _in_entry(n: int, expression: str) -> str:
    """An issue's FHIRPath within a Bundle: entry-level issues already say where they are."""
    if expression.startswith("Bundle."):
        return expression
    return f"Bundle.entry[{n}].resource" + expression.removeprefix("Observation")


def _outcome(severity: str, code: str, diagnostics: str, expression: str) -> dict:
    return inbound.operation_outcome(inbound.FhirInputError([(severity, code, diagnostics, expression)]))


def _observation(r: inbound.FhirReading) -> pb.Observation:
    obs = pb.Observation(patient_id=r.patient_id, source=r.device[:100], **r.values)
    obs.observed_at.FromMicroseconds(r.measured_at_us)
    if r.vendor_news2_total is not None:
        obs.reported_news2_total = r.vendor_news2_total
    return obs


def _news2(a: pb.Assessment, r: inbound.FhirReading) -> dict:
    subs = {p: getattr(a.sub_scores, p) if a.sub_scores.HasField(p) else None for p in _PARAMS}
    at = a.observed_at.seconds * 1_000_000 + a.observed_at.nanos // 1000
    return outbound.news2_observation(
        a.patient_id, at, a.total, _BANDS[a.band], a.red, subs, 2 if r.values.get("spo2_scale") == 2 else 1,
        a.complete, list(a.missing), [r.source_id] if r.source_id else [])


class _Handler(BaseHTTPRequestHandler):
    endpoint: FhirEndpoint
    protocol_version = "HTTP/1.1"
    server_version = "varde-fhir"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002  (no patient identifiers in logs: paths can hold them)
        return

    def do_GET(self):  # noqa: N802
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def _serve(self, verb: str) -> None:
        started = time.perf_counter()
        url = urllib.parse.urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        label = "other"
        try:
            if not parts or parts[0] != "fhir":
                raise _Refused(404, "not-found", "the FHIR base is /fhir")
            route = parts[1:]
            label = f"{verb} {route[0] if route else '/'}"
            if verb == "GET" and route == ["metadata"]:
                return self._send(200, _capability())
            caller = self._caller(url.path, verb, _DEVICE if verb == "POST" else _READ)
            ep = self.endpoint
            if verb == "POST":
                body = self._body()
                if route == ["Observation"]:
                    return self._send(*ep.post_observation(body, caller))
                if route == []:
                    return self._send(*ep.post_bundle(body, caller))
                raise _Refused(404, "not-supported", "POST takes [base]/Observation or a Bundle to [base]")
            query = urllib.parse.parse_qs(url.query)
            if route == ["Flag"]:
                return self._send(200, ep.get_flags(query, caller))
            if route == ["Observation"]:
                return self._send(200, ep.get_observations(query, caller))
            if route == ["RiskAssessment"]:
                return self._send(200, ep.get_risk(query, caller))
            if len(route) == 2 and route[0] in ("Flag", "DetectedIssue", "Bundle"):
                ident = route[1].removeprefix("flag-") if route[0] == "Bundle" else route[1]
                if not ident.isdigit():
                    raise _Refused(404, "not-found", f"no {route[0]} {route[1][:40]!r}")
                return self._send(200, ep.get_flag_resource(route[0], int(ident), caller))
            raise _Refused(404, "not-supported", "this FHIR endpoint serves metadata, Observation (POST, and GET "
                                                 "?subject.identifier=...), Bundle (POST batch or transaction), "
                                                 "RiskAssessment, Flag, DetectedIssue and Bundle/flag-ID")
        except _Refused as e:
            self._send(e.status, _outcome("error", e.code, str(e), "Request"))
        except AuthError as e:
            status = 401 if e.code == grpc.StatusCode.UNAUTHENTICATED else 403
            self.endpoint.metrics.auth_refused.labels(f"fhir {label}", e.code.name, e.reason).inc()
            self._send(status, _outcome("error", "login" if status == 401 else "forbidden", str(e), "Request"),
                       {"WWW-Authenticate": "Bearer"} if status == 401 else None)
        except FlagNotFound as e:
            self._send(404, _outcome("error", "not-found", str(e), "Request"))
        except RequestError as e:
            status = 413 if e.code == grpc.StatusCode.RESOURCE_EXHAUSTED else 400
            self._send(status, _outcome("error", "value", e.message, "Request"))
        except StoreError as e:
            self._send(503, _outcome("error", "transient", f"the flag store is not available: {e}", "Request"))
        except Exception as e:  # the trace in the log; no patient data in the answer or the log line
            log.exception("FHIR %s failed (%s)", label, type(e).__name__)
            self._send(500, _outcome("fatal", "exception", f"internal error ({type(e).__name__}); the server log "
                                     "has the trace", "Request"))
        finally:
            m = self.endpoint.metrics
            m.rpc_seconds.labels(f"fhir {label}").observe(time.perf_counter() - started)
            m.rpcs.labels(f"fhir {label}", str(getattr(self, "_status", 0))).inc()

    def _caller(self, path: str, verb: str, roles: frozenset[str]) -> Caller:
        headers = self.headers
        identity = self.endpoint.auth.identify_request(headers.get_all("Authorization") or [],
                                                       headers.get_all("DPoP") or [], self._peer_pem, path, verb)
        if not identity.roles & roles:
            raise AuthError(grpc.StatusCode.PERMISSION_DENIED, f"this needs one of the roles {', '.join(sorted(roles))}"
                            f"; your credential has {', '.join(sorted(identity.roles)) or 'none'}", "role")
        return Caller(identity.actor, identity.unit, f"FHIR {verb} {path.split('/')[2] if path.count('/') > 1 else ''}")

    def _peer_pem(self) -> bytes | None:
        get = getattr(self.connection, "getpeercert", None)
        der = get(binary_form=True) if get else None
        return ssl.DER_cert_to_PEM_cert(der).encode("ascii") if der else None

    def _body(self) -> dict:
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind not in (JSON, "application/json"):
            raise _Refused(415, "not-supported", f"send {JSON} (got {kind or 'no Content-Type'!r})")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise _Refused(411 if length is None else 400, "structure", "send a Content-Length")
        n = int(length)
        if n > self.endpoint.max_bytes:
            raise _Refused(413, "too-costly", f"{n:,} bytes; the server takes at most {self.endpoint.max_bytes:,} "
                                              "(--max-message-bytes): send smaller Bundles")
        try:
            body = json.loads(self.rfile.read(n))
        except (ValueError, UnicodeDecodeError) as e:
            raise _Refused(400, "structure", f"the body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise _Refused(400, "structure", "the body must be a FHIR resource (a JSON object)")
        return body

    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        self._status = status
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_response(status, _REASONS.get(status))
        self.send_header("Content-Type", f"{JSON}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def _capability() -> dict:
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-23", "kind": "instance",
        "fhirVersion": "4.0.1", "format": [JSON, "json"],
        "software": {"name": "Varde"},
        "implementation": {"description": "Varde NEWS2 and home follow-up (docs/fhir.md)"},
        "rest": [{
            "mode": "server",
            "security": {"description": "Mutual TLS client certificates or HelseID access tokens (Bearer or DPoP); "
                                        "roles and units as on the gRPC port (docs/security.md)"},
            "resource": [
                {"type": "Observation", "interaction": [{"code": "create"}, {"code": "search-type"}],
                 "searchParam": [{"name": "subject.identifier", "type": "token"}, {"name": "code", "type": "token"}],
                 "supportedProfile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
                {"type": "Flag", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [{"name": "status", "type": "token"},
                                 {"name": "patient.identifier", "type": "token"}]},
                {"type": "DetectedIssue", "interaction": [{"code": "read"}]},
                {"type": "RiskAssessment", "interaction": [{"code": "search-type"}],
                 "searchParam": [{"name": "subject.identifier", "type": "token"}]},
                {"type": "Bundle", "interaction": [{"code": "read"}]},
            ],
            "interaction": [{"code": "batch"}, {"code": "transaction"}],
        }],
    }
