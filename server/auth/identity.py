"""Who is calling: one Identity per RPC, set by the interceptor, read by the services.

The services never take a name from the request: `actor` (for claimed_by, the audit trail and a flag's source) and
`unit` (whose flags these are) come only from a checked certificate or token.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

__all__ = ["LOCAL", "ROLES", "Identity", "identity_of"]

ROLES = ("device", "journal", "coordinator", "operator")


@dataclass(frozen=True)
class Identity:
    actor: str
    """The person or client, as the audit trail records it: hpr:<HPR number>, client:<client id>, cert:<name>."""
    unit: str
    """The organisation number of the unit the credential belongs to ('' for the local operator)."""
    roles: frozenset[str]
    how: str
    """local, certificate, bearer or dpop: for the audit trail and the security officer."""
    withheld: frozenset[str] = frozenset()
    """Roles the token's scopes give but its security level is too low for (to say so when refusing)."""
    level: int | None = None
    """The token's HelseID security level, if any."""


LOCAL = Identity(actor="local-operator", unit="", roles=frozenset(ROLES), how="local")

_ATTRIBUTE = "varde_identity"


def attach(context: grpc.ServicerContext, identity: Identity) -> None:
    setattr(context, _ATTRIBUTE, identity)


def identity_of(context: grpc.ServicerContext) -> Identity:
    """The caller's identity. Fails closed: a handler reached without the interceptor is a bug, not a guest."""
    identity = getattr(context, _ATTRIBUTE, None)
    if identity is None:
        raise RuntimeError("no identity on this call: the auth interceptor did not run")
    return identity
