"""Signing in to the console through an OpenID Connect provider (HelseID for health personnel): the authorization
code flow with PKCE (S256), state and nonce; the client authenticates to the token endpoint with a signed JWT
(`private_key_jwt`, what HelseID requires) or a client secret. The ID token is checked against the provider's keys,
issuer, audience, expiry and nonce, and its claims give the user's name, unit and role (docs/console.md).

The configuration is a TOML file (`--console-oidc FILE`), read and checked once at start."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from ._auth import ROLES

__all__ = ["OidcConfig", "OidcConfigError", "OidcError", "OidcLogin", "load_oidc_config"]

_ROLE_ORDER = ("admin", "coordinator", "viewer")  # with several roles in the claims, the highest counts


class OidcConfigError(ValueError):
    """The sign-in configuration cannot be used; the message names the file and the key."""


class OidcError(Exception):
    """A sign-in that failed; `key` is the message the user sees (the catalogues), `detail` is for the log."""

    def __init__(self, key: str, detail: str = ""):
        super().__init__(detail or key)
        self.key, self.detail = key, detail


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    label: str = "HelseID"
    client_secret: str | None = None
    private_key: bytes | None = None  # PEM, for private_key_jwt
    private_key_id: str | None = None
    scopes: tuple[str, ...] = ("openid", "profile")
    username_claim: str = "sub"
    name_claim: str = "name"
    role_claim: str = "varde_role"
    role_values: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> claim values that give it
    unit_claim: str | None = None
    unit: str | None = None  # a fixed unit, when every user of this provider belongs to one
    level_claim: str | None = "helseid://claims/identity/security_level"
    min_level: int | None = 4
    username_prefix: str = ""
    path: str = ""


def load_oidc_config(path: str | Path) -> OidcConfig:
    where = f"console sign-in configuration {str(path)!r}"
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise OidcConfigError(f"{where}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise OidcConfigError(f"{where} is not valid TOML: {e}") from None

    def text(key, required=False, default=None):
        value = doc.get(key, default)
        if value is None:
            if required:
                raise OidcConfigError(f'{where}: {key} = "..." is required')
            return None
        if not isinstance(value, str) or not value.strip():
            raise OidcConfigError(f"{where}: {key} must be a non-empty string")
        return value.strip()

    issuer = text("issuer", True).rstrip("/")
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise OidcConfigError(f"{where}: issuer must be an https:// URL")
    secret = key = None
    if doc.get("client_secret_file"):
        secret = _read(doc["client_secret_file"], where, "client_secret_file").decode().strip()
    if doc.get("private_key_file"):
        key = _read(doc["private_key_file"], where, "private_key_file")
        try:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
            load_pem_private_key(key, password=None)
        except ValueError:
            raise OidcConfigError(f"{where}: private_key_file is not an unencrypted PEM private key") from None
    if (secret is None) == (key is None):
        raise OidcConfigError(f"{where}: set exactly one of private_key_file (private_key_jwt, as HelseID requires) "
                              "and client_secret_file")
    roles = doc.get("roles") or {}
    if not isinstance(roles, dict):
        raise OidcConfigError(f"{where}: [roles] must be a table")
    role_values = {}
    for role in ROLES:
        values = roles.get(role, [role])
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise OidcConfigError(f"{where}: [roles] {role} must be a list of claim values")
        role_values[role] = tuple(values)
    unknown = set(roles) - {"claim", *ROLES}
    if unknown:
        raise OidcConfigError(f"{where}: [roles] knows claim and {', '.join(ROLES)}, not {', '.join(sorted(unknown))}")
    unit_table = doc.get("unit") or {}
    unit_claim, unit = unit_table.get("claim"), unit_table.get("fixed")
    if (unit_claim is None) == (unit is None):
        raise OidcConfigError(f'{where}: [unit] needs claim = "..." (the claim holding the organisation number) or '
                              'fixed = "ORGNR"')
    scopes = doc.get("scopes", ["openid", "profile"])
    if not isinstance(scopes, list) or "openid" not in scopes:
        raise OidcConfigError(f"{where}: scopes must be a list that includes \"openid\"")
    min_level = doc.get("min_security_level", 4)
    if min_level is not None and not isinstance(min_level, int):
        raise OidcConfigError(f"{where}: min_security_level must be a whole number (HelseID: 4 for health data)")
    return OidcConfig(
        issuer=issuer, client_id=text("client_id", True), label=text("label", default="HelseID"),
        client_secret=secret, private_key=key, private_key_id=text("private_key_id"), scopes=tuple(scopes),
        username_claim=text("username_claim", default="sub"), name_claim=text("name_claim", default="name"),
        role_claim=roles.get("claim", "varde_role"), role_values=role_values, unit_claim=unit_claim, unit=unit,
        level_claim=text("security_level_claim", default="helseid://claims/identity/security_level"),
        min_level=min_level, username_prefix=text("username_prefix", default="oidc:") or "", path=str(path))


def _read(path, where: str, key: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise OidcConfigError(f"{where}: {key} {str(path)!r}: {e.strerror}") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Claims:
    username: str
    display_name: str
    unit: str
    role: str


class OidcLogin:
    """One provider: its discovery document and keys fetched when first needed (a provider that is down at start
    does not stop the server), kept for an hour."""

    MAX_AGE_US = 10 * 60 * 1_000_000  # a sign-in must come back within ten minutes

    def __init__(self, config: OidcConfig, store, timeout: float = 10.0):
        self.config, self.store, self.timeout = config, store, timeout
        self._discovery: dict | None = None
        self._fetched = 0.0
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def _metadata(self) -> dict:
        with self._lock:
            if self._discovery is None or time.monotonic() - self._fetched > 3600:
                url = self.config.issuer + "/.well-known/openid-configuration"
                doc = self._get_json(url)
                if doc.get("issuer", "").rstrip("/") != self.config.issuer:
                    raise OidcError("oidc.unavailable", f"the discovery document names issuer {doc.get('issuer')!r}")
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(doc.get(key), str):
                        raise OidcError("oidc.unavailable", f"the discovery document has no {key}")
                self._discovery, self._fetched = doc, time.monotonic()
                self._jwks = jwt.PyJWKClient(doc["jwks_uri"], cache_keys=True, lifespan=3600, timeout=self.timeout)
            return self._discovery

    def _get_json(self, url: str) -> dict:
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as r:
                return json.loads(r.read(1 << 20))
        except (OSError, ValueError) as e:
            raise OidcError("oidc.unavailable", f"{url}: {e}") from None

    def begin(self, redirect_uri: str, next_path: str) -> tuple[str, str]:
        """(the provider's authorization URL, the state for the browser's cookie)."""
        meta = self._metadata()
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        self.store.save_console_login(_hash(state), nonce, verifier, next_path)
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.config.client_id, "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes), "state": state, "nonce": nonce,
            "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()), "code_challenge_method": "S256"})
        sep = "&" if "?" in meta["authorization_endpoint"] else "?"
        return f"{meta['authorization_endpoint']}{sep}{query}", state

    def finish(self, params, cookie_state: str | None, redirect_uri: str) -> tuple[Claims, str]:
        """The user the provider vouched for and where they were going; OidcError when anything does not hold."""
        if params.get("error"):
            raise OidcError("oidc.denied", f"the provider answered {params.get('error')!r}")
        state, code = params.get("state") or "", params.get("code") or ""
        if not state or not code or not cookie_state or not secrets.compare_digest(state, cookie_state):
            raise OidcError("oidc.state", "the state does not match this browser's sign-in")
        pending = self.store.take_console_login(_hash(state), self.MAX_AGE_US)
        if pending is None:
            raise OidcError("oidc.state", "unknown, used or expired state")
        nonce, verifier, next_path = pending
        meta = self._metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier, "client_id": self.config.client_id}
        if self.config.private_key is not None:
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            form["client_assertion"] = self._assertion(meta["token_endpoint"])
        else:
            form["client_secret"] = self.config.client_secret
        tokens = self._post(meta["token_endpoint"], form)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("oidc.rejected", "the token response has no id_token")
        return self._claims(id_token, nonce), next_path

    def _assertion(self, audience: str) -> str:
        now = int(time.time())
        headers = {"kid": self.config.private_key_id} if self.config.private_key_id else None
        return jwt.encode({"iss": self.config.client_id, "sub": self.config.client_id, "aud": audience,
                           "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 60},
                          self.config.private_key, algorithm="RS256", headers=headers)

    def _post(self, url: str, form: dict) -> dict:
        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                                  "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as r:
                return json.loads(r.read(1 << 20))
        except urllib.error.HTTPError as e:
            try:
                error = json.loads(e.read(4096)).get("error", "")
            except ValueError:
                error = ""
            raise OidcError("oidc.rejected", f"token endpoint: HTTP {e.code} {error}") from None
        except (OSError, ValueError) as e:
            raise OidcError("oidc.unavailable", f"token endpoint: {e}") from None

    def _claims(self, id_token: str, nonce: str) -> Claims:
        c = self.config
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token)
            claims = jwt.decode(id_token, key.key, algorithms=["RS256", "PS256", "ES256"], audience=c.client_id,
                                issuer=c.issuer, options={"require": ["exp", "iat", "sub", "aud", "iss"]},
                                leeway=30)
        except jwt.PyJWKClientError as e:
            raise OidcError("oidc.rejected", f"no key for the ID token: {e}") from None
        except jwt.InvalidTokenError as e:
            raise OidcError("oidc.rejected", f"ID token: {e}") from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("oidc.rejected", "ID token: the nonce is not this sign-in's")
        if c.min_level is not None and c.level_claim:
            try:
                level = int(claims.get(c.level_claim))
            except (TypeError, ValueError):
                level = -1
            if level < c.min_level:
                raise OidcError("oidc.level", f"security level {claims.get(c.level_claim)!r} below {c.min_level}")
        values = claims.get(c.role_claim) or []
        values = [values] if isinstance(values, str) else [str(v) for v in values] if isinstance(values, list) else []
        role = next((r for r in _ROLE_ORDER if set(values) & set(c.role_values.get(r, ()))), None)
        if role is None:
            raise OidcError("oidc.no_role", f"no Varde role in claim {c.role_claim!r}")
        unit = c.unit if c.unit is not None else claims.get(c.unit_claim)
        if not isinstance(unit, str) or not unit:
            raise OidcError("oidc.no_unit", f"no unit in claim {c.unit_claim!r}")
        who = claims.get(c.username_claim) or claims["sub"]
        username = f"{c.username_prefix}{who}"[:64]
        name = str(claims.get(c.name_claim) or who)[:100]
        return Claims(username, name, unit, role)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()
