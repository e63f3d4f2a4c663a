"""The auth configuration file (--auth-config PATH, TOML): certificates and token scopes mapped to roles and units.

Read once at start and checked whole, so that a typo stops the server with the line to fix rather than locking
people out (or letting them in) later. docs/security.md shows a complete file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from .identity import ROLES

__all__ = ["AuthConfig", "AuthConfigError", "CertificateRule", "TokenConfig", "load_auth_config"]

# Clinicians' actions need HelseID security level 4 (BankID and the like) unless the file says otherwise.
DEFAULT_MIN_LEVEL = {"device": 0, "journal": 0, "coordinator": 4, "operator": 4}
_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class AuthConfigError(ValueError):
    """The auth configuration cannot be used; the message names the file, the key and what to write instead."""


@dataclass(frozen=True)
class CertificateRule:
    """A client certificate, by its subject or one of its SANs, and what it may do for which unit."""

    name: str
    roles: frozenset[str]
    unit: str
    subject: x509.Name | None = None
    san: str | None = None  # "DNS:host", "URI:spiffe://...", "email:..."


@dataclass(frozen=True)
class TokenConfig:
    issuer: str
    audience: str
    jwks: str  # a file path or an https:// URL
    scheme: str  # "DPoP" or "Bearer": one per deployment, never both
    scopes: dict[str, frozenset[str]]
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")
    leeway_seconds: float = 30.0
    dpop_max_age_seconds: float = 60.0
    public_url: str | None = None  # if set, a DPoP proof's htu must be exactly this + the method path
    jwks_cache_seconds: float = 300.0
    jwks_cooldown_seconds: float = 30.0  # an unknown key id fetches the set again at most this often


@dataclass(frozen=True)
class AuthConfig:
    path: str
    certificates: tuple[CertificateRule, ...] = ()
    tokens: TokenConfig | None = None
    min_security_level: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MIN_LEVEL))


def load_auth_config(path: str | Path) -> AuthConfig:
    path = str(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise AuthConfigError(f"auth config {path!r} does not exist (--auth-config / VARDE_AUTH_CONFIG)") from None
    except tomllib.TOMLDecodeError as e:
        raise AuthConfigError(f"auth config {path!r} is not valid TOML: {e}") from None

    def fail(where: str, message: str):
        raise AuthConfigError(f"auth config {path!r}, {where}: {message}")

    unknown = set(doc) - {"certificates", "tokens", "roles"}
    if unknown:
        fail(", ".join(sorted(unknown)), "unknown section; expected [[certificates]], [tokens], [roles.<role>]")

    def roles_of(where, value) -> frozenset[str]:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            fail(where, f"roles must be a list of {', '.join(ROLES)}")
        bad = [v for v in values if v not in ROLES]
        if bad:
            fail(where, f"unknown role(s) {bad}; roles are {', '.join(ROLES)}")
        return frozenset(values)

    def unit_of(where, value) -> str:
        if not isinstance(value, str) or not value.isdigit() or len(value) != 9:
            fail(where, f"unit must be the unit's 9-digit organisation number as a string, not {value!r}")
        return value

    rules = []
    for i, entry in enumerate(doc.get("certificates", [])):
        where = f"[[certificates]] #{i + 1}"
        extra = set(entry) - {"name", "subject", "san", "roles", "unit"}
        if extra:
            fail(where, f"unknown key(s) {sorted(extra)}")
        if ("subject" in entry) == ("san" in entry):
            fail(where, "give exactly one of subject = \"CN=...,O=...\" or san = \"DNS:...\" / \"URI:...\"")
        subject = None
        if "subject" in entry:
            try:
                subject = x509.Name.from_rfc4514_string(entry["subject"])
            except ValueError as e:
                fail(where, f"subject {entry['subject']!r} is not an RFC 4514 name: {e}")
        san = entry.get("san")
        if san is not None and (":" not in san or san.split(":", 1)[0].lower() not in ("dns", "uri", "email", "ip")):
            fail(where, f"san {san!r} must start with DNS:, URI:, email: or IP:")
        if "roles" not in entry or "unit" not in entry:
            fail(where, "needs roles = [...] and unit = \"<organisation number>\"")
        rules.append(CertificateRule(name=str(entry.get("name") or entry.get("subject") or san),
                                     roles=roles_of(where, entry["roles"]), unit=unit_of(where, entry["unit"]),
                                     subject=subject, san=_norm_san(san) if san else None))

    tokens = None
    if "tokens" in doc:
        t = doc["tokens"]
        extra = set(t) - {"issuer", "audience", "jwks", "scheme", "scopes", "algorithms", "leeway_seconds",
                          "dpop_max_age_seconds", "public_url", "jwks_cache_seconds",
                          "jwks_cooldown_seconds"}
        if extra:
            fail("[tokens]", f"unknown key(s) {sorted(extra)}")
        for key in ("issuer", "audience", "jwks", "scheme", "scopes"):
            if key not in t:
                fail("[tokens]", f"{key} is required")
        if not isinstance(t["audience"], str):
            fail("[tokens] audience", "exactly one expected audience, as a string")
        if t["scheme"] not in ("DPoP", "Bearer"):
            fail("[tokens] scheme", f"{t['scheme']!r}: write \"DPoP\" (HelseID's sender-constrained tokens) or "
                                    "\"Bearer\"; a port accepts one, never both")
        algorithms = tuple(t.get("algorithms", TokenConfig.algorithms))
        bad = [a for a in algorithms if a not in _ALGORITHMS]
        if bad:
            fail("[tokens] algorithms", f"{bad} not allowed; choose from {', '.join(_ALGORITHMS)}")
        jwks = t["jwks"]
        if not jwks.startswith("https://") and not Path(jwks).is_file():
            fail("[tokens] jwks", f"{jwks!r} is neither an https:// URL nor a file")
        scopes = {}
        if not isinstance(t["scopes"], dict) or not t["scopes"]:
            fail("[tokens.scopes]", "map each scope to a role, e.g. \"nhn:varde/coordinator\" = \"coordinator\"")
        for scope, roles in t["scopes"].items():
            scopes[scope] = roles_of(f"[tokens.scopes] {scope!r}", roles)
        try:
            tokens = TokenConfig(
                issuer=t["issuer"], audience=t["audience"], jwks=jwks, scheme=t["scheme"], scopes=scopes,
                algorithms=algorithms, leeway_seconds=float(t.get("leeway_seconds", 30)),
                dpop_max_age_seconds=float(t.get("dpop_max_age_seconds", 60)),
                public_url=t.get("public_url", "").rstrip("/") or None,
                jwks_cache_seconds=float(t.get("jwks_cache_seconds", 300)),
                jwks_cooldown_seconds=float(t.get("jwks_cooldown_seconds", 30)))
        except (TypeError, ValueError) as e:
            fail("[tokens]", str(e))
        if not 0 <= tokens.leeway_seconds <= 300:
            fail("[tokens] leeway_seconds", "must be 0-300 (a small allowance for clock skew)")

    levels = dict(DEFAULT_MIN_LEVEL)
    for role, settings in doc.get("roles", {}).items():
        if role not in ROLES:
            fail(f"[roles.{role}]", f"unknown role; roles are {', '.join(ROLES)}")
        level = settings.get("min_security_level", levels[role])
        if not isinstance(level, int) or not 0 <= level <= 4:
            fail(f"[roles.{role}] min_security_level", "must be 0-4")
        levels[role] = level

    if not rules and tokens is None:
        fail("whole file", "maps no certificate and no token: nobody could call the server")
    return AuthConfig(path=path, certificates=tuple(rules), tokens=tokens, min_security_level=levels)


def _norm_san(san: str) -> str:
    kind, _, value = san.partition(":")
    kind = kind.upper() if kind.lower() in ("dns", "uri", "ip") else "email"
    return f"{kind}:{value.lower() if kind in ('DNS', 'email') else value}"
