"""The one place that decides whether a call may run: no or bad credential -> UNAUTHENTICATED, a good credential
without the method's role -> PERMISSION_DENIED. Health checking and reflection stay open.

Every method of the contract must be in METHOD_ROLES; one that is not is refused to everyone (a test fails too).
"""

from __future__ import annotations

import logging

import grpc

from .._handlers import wrap_handler
from ..errors import abort_with
from .certificates import certificate_identity, describe, peer_certificate
from .config import AuthConfig
from .identity import LOCAL, Identity, attach
from .tokens import AuthError, TokenVerifier

__all__ = ["METHOD_ROLES", "OPEN_SERVICES", "AuthInterceptor", "Authenticator"]

log = logging.getLogger("varde.server.auth")

_COORDINATING = frozenset({"coordinator", "operator"})
METHOD_ROLES: dict[str, frozenset[str]] = {
    "/varde.v1.Scoring/ScoreBatches": frozenset({"journal"}),
    "/varde.v1.Scoring/ScorePatients": frozenset({"journal"}),
    "/varde.v1.Scoring/GetServerInfo": frozenset({"device", "journal", "coordinator", "operator"}),
    "/varde.v1.Observations/PushObservation": frozenset({"device"}),
    "/varde.v1.Observations/StreamObservations": frozenset({"device"}),
    "/varde.v1.Observations/StreamObservationBatches": frozenset({"device"}),
    "/varde.v1.Flags/ListFlags": _COORDINATING,
    "/varde.v1.Flags/WatchFlags": _COORDINATING,
    "/varde.v1.Flags/ClaimFlag": _COORDINATING,
    "/varde.v1.Flags/ResolveFlag": _COORDINATING,
    "/varde.v1.Flags/ReleaseFlag": _COORDINATING,
    "/varde.v1.Flags/GetFlag": _COORDINATING,
    "/varde.v1.Patients/GetPatientSettings": _COORDINATING,
    "/varde.v1.Patients/SetPatientSettings": _COORDINATING,
}
OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                 "/grpc.reflection.v1.ServerReflection/")


class Authenticator:
    """Who the caller is. Without a config every caller is the local operator (loopback only; app.py checks)."""

    def __init__(self, config: AuthConfig | None):
        self.config = config
        self._tokens = TokenVerifier(config) if config is not None and config.tokens is not None else None

    def identify(self, context: grpc.ServicerContext, method: str) -> Identity:
        metadata = context.invocation_metadata()
        return self.identify_request([v for k, v in metadata if k == "authorization"],
                                     [v for k, v in metadata if k == "dpop"],
                                     (lambda: peer_certificate(context)), method)

    def identify_request(self, authorization: list[str], proofs: list[str], peer_pem, method: str,
                         http_method: str = "POST") -> Identity:
        """Who sent a call with these authorization and DPoP values and this client certificate (`peer_pem()`
        gives its PEM, or None), whether over gRPC or HTTP (the FHIR port: `method` is the path, `http_method`
        the verb a DPoP proof must name)."""
        if self.config is None:
            return LOCAL
        if len(authorization) > 1:
            raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "send one authorization header, not several",
                            "token_several")
        if authorization:
            if self._tokens is None:
                raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "this server takes no access tokens; use the "
                                "client certificate you were given", "token_not_configured")
            if len(proofs) > 1:
                raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "send one DPoP proof per call", "dpop_several")
            return self._tokens.identify(authorization[0], proofs[0] if proofs else None, method, http_method)
        pem = peer_pem()
        if pem is not None:
            identity = certificate_identity(pem, self.config.certificates)
            if identity is None:
                raise AuthError(grpc.StatusCode.UNAUTHENTICATED,
                                f"the client certificate {describe(pem)!r} is not in the auth config; ask the "
                                "operator to map it to a role and unit", "certificate_unmapped")
            return identity
        raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "no credential: send an access token (authorization "
                        "metadata) or connect with a client certificate", "no_credential")


class AuthInterceptor(grpc.ServerInterceptor):
    def __init__(self, authenticator: Authenticator, metrics):
        self._auth = authenticator
        self._metrics = metrics

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or details.method.startswith(OPEN_SERVICES):
            return handler
        allowed = METHOD_ROLES.get(details.method, frozenset())
        return wrap_handler(handler, lambda context: self._admit(details.method, allowed, context))

    def _admit(self, method: str, allowed: frozenset[str], context: grpc.ServicerContext) -> None:
        try:
            identity = self._auth.identify(context, method)
            if not identity.roles & allowed:
                raise _denied(method, allowed, identity)
        except AuthError as e:
            name = method.rsplit("/", 1)[-1]
            self._metrics.auth_refused.labels(name, e.code.name, e.reason).inc()
            self._metrics.rpcs.labels(name, e.code.name).inc()
            abort_with(context, e.code, str(e), None)
        attach(context, identity)


def _denied(method: str, allowed: frozenset[str], identity: Identity) -> AuthError:
    name = method.rsplit("/", 1)[-1]
    if not allowed:
        log.error("%s has no role mapping; refused to everyone (add it to METHOD_ROLES)", method)
        return AuthError(grpc.StatusCode.PERMISSION_DENIED, f"{name} is not open to any role", "unmapped_method")
    low = identity.withheld & allowed
    if low:
        return AuthError(grpc.StatusCode.PERMISSION_DENIED,
                         f"{name} needs role {'/'.join(sorted(allowed))}; your token's security level "
                         f"({identity.level}) is too low for it", "security_level")
    return AuthError(grpc.StatusCode.PERMISSION_DENIED,
                     f"{name} needs role {' or '.join(sorted(allowed))}; you have "
                     f"{', '.join(sorted(identity.roles)) or 'no role'}", "role")
