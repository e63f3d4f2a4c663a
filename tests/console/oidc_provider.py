"""A small OpenID Connect provider that a test starts itself, shaped like HelseID (the Norwegian health sector's
identity provider), so that the console's sign-in (authorization code flow with PKCE) runs end to end offline.

What it does as HelseID does: a discovery document; RS256-signed ID and access tokens from a 2048-bit key made at
start (``kid`` is its RFC 7638 thumbprint); PKCE with S256 only, required; single-use codes that live 60 seconds and
are bound to the client, redirect URI, nonce and code challenge; client authentication by ``private_key_jwt`` (a
client assertion signed with the client's own RSA key, ``jti`` never reused) or ``client_secret_post``; the
``helseid://claims/...`` claims; ``sub`` a pseudonym (base64 of a SHA-256) of the login name.

What it leaves out: a sign-in page (``/authorize`` signs in ``next_user`` at once), refresh tokens, consent, scope
rules for releasing claims (every claim of the user is released), DPoP, PAR and request objects.

Knobs for negative tests: ``tamper`` (the next ID token is wrong in one way), ``deny_next`` (the next ``/authorize``
answers with an error redirect). ``requests`` logs what each endpoint received, secrets redacted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["ASSERTION_TYPE", "SCOPES", "TAMPER_KNOBS", "Provider", "generate_rsa_key_pem", "pkce_pair", "subject_for"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SECURITY_LEVEL = "helseid://claims/identity/security_level"
HPR_NUMBER = "helseid://claims/hpr/hpr_number"
TAMPER_KNOBS = frozenset({"nonce", "aud", "iss", "expired", "signature", "alg_none"})
SCOPES = (
    "openid",
    "profile",
    "helseid://scopes/identity/pid",
    "helseid://scopes/identity/pid_pseudonym",
    "helseid://scopes/identity/assurance_level",
    "helseid://scopes/identity/security_level",
    "helseid://scopes/identity/network",
    "helseid://scopes/hpr/hpr_number",
    "varde",
)
DEFAULT_USERS = {
    "anne": {
        "name": "Anne Hansen",
        SECURITY_LEVEL: "4",
        HPR_NUMBER: "123456",
        "varde_role": "coordinator",
        "varde_unit": "974600951",
    },
}
TOKEN_LIFETIME = 300
_REDACTED = "[redacted]"
_SECRET_PARAMS = ("client_secret", "client_assertion", "code_verifier", "code")
# RFC 7636 section 4.1: 43 to 128 characters from the unreserved set
_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE code verifier and its S256 code challenge."""
    verifier = _b64url(secrets.token_bytes(32))
    return verifier, _s256(verifier)


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def generate_rsa_key_pem() -> tuple[bytes, bytes]:
    """A new 2048-bit RSA key for a client: (private key PKCS#8 PEM, public key SubjectPublicKeyInfo PEM)."""
    key = _new_rsa_key()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def _public_jwk(key: rsa.RSAPrivateKey) -> dict:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    canonical = json.dumps({m: jwk[m] for m in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    jwk["kid"] = _b64url(hashlib.sha256(canonical.encode("ascii")).digest())  # RFC 7638 thumbprint
    jwk["use"] = "sig"
    jwk["alg"] = "RS256"
    return jwk


def subject_for(login: str) -> str:
    """The stable pseudonymous ``sub`` of a login name (HelseID's look: base64 of 32 bytes, padded)."""
    return base64.b64encode(hashlib.sha256(("varde-test-provider:" + login).encode("utf-8")).digest()).decode()


class _Problem(Exception):
    """An OAuth error answer: ``error`` is the RFC 6749 code, the message its error_description."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.status = status


class Provider:
    """The provider; ``start()`` serves it on 127.0.0.1 and returns its issuer URL. See the module docstring."""

    def __init__(self, *, client_id: str = "varde-console", client_secret: str | None = "s3cret",
                 client_public_key_pem: bytes | None = None, users: dict[str, dict] | None = None,
                 redirect_uris: list[str] | None = None):
        if client_secret is None and client_public_key_pem is None:
            raise ValueError("the client needs a secret or a public key to authenticate with")
        self.client_id = client_id
        self.client_secret = client_secret
        self._client_key = (serialization.load_pem_public_key(client_public_key_pem)
                            if client_public_key_pem is not None else None)
        if self._client_key is not None and not isinstance(self._client_key, rsa.RSAPublicKey):
            raise ValueError("client_public_key_pem must be an RSA public key")
        self.users: dict[str, dict] = dict(users if users is not None else DEFAULT_USERS)
        if not self.users:
            raise ValueError("the provider needs at least one user")
        self.next_user: str = next(iter(self.users))
        # None: any http(s) redirect URI without a fragment; a list: exact matches only (as HelseID registers them)
        self.redirect_uris = list(redirect_uris) if redirect_uris is not None else None
        self.scopes_supported: list[str] = list(SCOPES)
        self.code_lifetime: float = 60.0
        self.tamper: dict = {}
        self.deny_next: str | None = None
        self.requests: list[dict] = []
        self.issuer: str = ""
        self._lock = threading.Lock()
        self._codes: dict[str, dict] = {}
        self._used_codes: set[str] = set()
        self._used_jtis: dict[str, float] = {}
        self._key: rsa.RSAPrivateKey | None = None
        self._jwk: dict = {}
        self._other_key: rsa.RSAPrivateKey | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life ---------------------------------------------------------------------------------------------------

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError("the provider is already running")
        self._key = _new_rsa_key()
        self._jwk = _public_jwk(self._key)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="oidc-provider",
                                        daemon=True)
        self._thread.start()
        return self.issuer

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Provider:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def authorization_endpoint(self) -> str:
        return self.issuer + "/authorize"

    @property
    def token_endpoint(self) -> str:
        return self.issuer + "/token"

    @property
    def jwks_uri(self) -> str:
        return self.issuer + "/jwks"

    @property
    def end_session_endpoint(self) -> str:
        return self.issuer + "/endsession"

    # --- documents ----------------------------------------------------------------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "jwks_uri": self.jwks_uri,
            "end_session_endpoint": self.end_session_endpoint,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_post"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(self.scopes_supported),
            "claims_supported": sorted({"sub", "name", "nonce", "auth_time", SECURITY_LEVEL, HPR_NUMBER}
                                       | {c for claims in self.users.values() for c in claims}),
        }

    def jwks(self) -> dict:
        return {"keys": [dict(self._jwk)]}

    # --- /authorize ---------------------------------------------------------------------------------------------

    def _authorize(self, params: dict[str, str]) -> tuple[str, dict]:
        """Validate an authorization request; return the Location to redirect to and what to log."""
        client_id = params.get("client_id")
        if not client_id:
            raise _Problem("invalid_request", "client_id is missing")
        if client_id != self.client_id:
            raise _Problem("unauthorized_client", "unknown client_id")
        redirect_uri = params.get("redirect_uri", "")
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment or "#" in redirect_uri:
            raise _Problem("invalid_request", "redirect_uri must be an absolute http(s) URL without a fragment")
        if self.redirect_uris is not None and redirect_uri not in self.redirect_uris:
            raise _Problem("invalid_request", "redirect_uri is not registered for the client")
        if params.get("response_type") != "code":
            raise _Problem("unsupported_response_type", "response_type must be code")
        scopes = params.get("scope", "").split()
        if "openid" not in scopes:
            raise _Problem("invalid_scope", "scope must contain openid")
        unknown = [s for s in scopes if s not in self.scopes_supported]
        if unknown:
            raise _Problem("invalid_scope", f"unknown scope(s): {' '.join(unknown)}")
        challenge = params.get("code_challenge")
        if not challenge:
            raise _Problem("invalid_request", "code_challenge is required (PKCE)")
        if params.get("code_challenge_method") != "S256":
            raise _Problem("invalid_request", "code_challenge_method must be S256")
        if not _PKCE_VALUE.fullmatch(challenge):
            raise _Problem("invalid_request", "code_challenge is not a base64url S256 value")
        if "response_mode" in params and params["response_mode"] != "query":
            raise _Problem("invalid_request", "response_mode must be query")

        state = params.get("state")
        with self._lock:
            denied, self.deny_next = self.deny_next, None
            login = self.next_user
        if denied:
            return _with_query(redirect_uri, {"error": denied, "state": state}), {"error": denied}
        if login not in self.users:
            raise _Problem("server_error", f"next_user {login!r} is not one of the provider's users", 500)
        code = _b64url(secrets.token_bytes(32))
        now = time.time()
        with self._lock:
            self._codes[code] = {
                "client_id": client_id, "redirect_uri": redirect_uri, "nonce": params.get("nonce"),
                "code_challenge": challenge, "scopes": scopes, "login": login, "auth_time": int(now),
                "expires": now + self.code_lifetime,
            }
        return _with_query(redirect_uri, {"code": code, "state": state}), {"user": login}

    # --- /token -------------------------------------------------------------------------------------------------

    def _authenticate_client(self, form: dict[str, str]) -> tuple[str, str]:
        """Return (client_id, method) or raise invalid_client."""
        has_secret = "client_secret" in form
        has_assertion = "client_assertion" in form or "client_assertion_type" in form
        if has_secret and has_assertion:
            raise _Problem("invalid_request", "more than one client authentication method")
        if has_assertion:
            return self._check_assertion(form), "private_key_jwt"
        if has_secret:
            if self.client_secret is None:
                raise _Problem("invalid_client", "client_secret_post is not allowed for this client")
            if form.get("client_id") != self.client_id:
                raise _Problem("invalid_client", "unknown client_id")
            if not hmac.compare_digest(form["client_secret"].encode(), self.client_secret.encode()):
                raise _Problem("invalid_client", "wrong client secret")
            return self.client_id, "client_secret_post"
        raise _Problem("invalid_client", "no client authentication (private_key_jwt or client_secret_post)")

    def _check_assertion(self, form: dict[str, str]) -> str:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise _Problem("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}")
        if self._client_key is None:
            raise _Problem("invalid_client", "private_key_jwt is not allowed for this client (no public key)")
        assertion = form.get("client_assertion", "")
        try:
            claims = jwt.decode(assertion, self._client_key, algorithms=["RS256"],
                                audience=[self.token_endpoint, self.issuer], issuer=self.client_id,
                                options={"require": ["iss", "sub", "aud", "exp", "jti"]})
        except jwt.PyJWTError as e:
            raise _Problem("invalid_client", f"client assertion rejected: {e}") from None
        if claims["sub"] != self.client_id:
            raise _Problem("invalid_client", "client assertion sub must be the client_id")
        if "client_id" in form and form["client_id"] != self.client_id:
            raise _Problem("invalid_client", "client_id differs from the client assertion")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise _Problem("invalid_client", "client assertion jti must be a non-empty string")
        now = time.time()
        with self._lock:
            for old in [j for j, exp in self._used_jtis.items() if exp < now - 60]:
                del self._used_jtis[old]
            if jti in self._used_jtis:
                raise _Problem("invalid_client", "client assertion jti was used before")
            self._used_jtis[jti] = float(claims["exp"])
        return self.client_id

    def _token(self, form: dict[str, str], log: dict) -> dict:
        client_id, method = self._authenticate_client(form)
        log["client_auth"] = method
        if form.get("grant_type") != "authorization_code":
            raise _Problem("unsupported_grant_type", "grant_type must be authorization_code")
        code = form.get("code")
        if not code:
            raise _Problem("invalid_request", "code is missing")
        with self._lock:
            grant = self._codes.pop(code, None)  # single use: gone whatever happens next
            reused = grant is None and code in self._used_codes
            self._used_codes.add(code)
        if grant is None:
            raise _Problem("invalid_grant", "the code was used before" if reused else "unknown code")
        if time.time() > grant["expires"]:
            raise _Problem("invalid_grant", "the code has expired")
        if grant["client_id"] != client_id:
            raise _Problem("invalid_grant", "the code was issued to another client")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            raise _Problem("invalid_grant", "redirect_uri differs from the authorization request")
        verifier = form.get("code_verifier")
        if not verifier:
            raise _Problem("invalid_grant", "code_verifier is missing (PKCE)")
        if not _PKCE_VALUE.fullmatch(verifier) or not hmac.compare_digest(_s256(verifier), grant["code_challenge"]):
            raise _Problem("invalid_grant", "code_verifier does not match the code_challenge (PKCE)")
        login = grant["login"]
        if login not in self.users:
            raise _Problem("invalid_grant", "the user is gone")
        log["user"] = login

        with self._lock:
            tamper, self.tamper = dict(self.tamper), {}
        unknown = set(tamper) - TAMPER_KNOBS
        if unknown:
            raise _Problem("server_error", f"unknown tamper knob(s): {sorted(unknown)}", 500)
        if tamper:
            log["tamper"] = sorted(k for k, v in tamper.items() if v)

        now = int(time.time())
        user_claims = dict(self.users[login])
        sub = user_claims.pop("sub", None) or subject_for(login)
        scope = " ".join(grant["scopes"])
        access = {"iss": self.issuer, "aud": "varde", "client_id": client_id, "sub": sub, "scope": grant["scopes"],
                  "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME, "auth_time": grant["auth_time"],
                  "jti": uuid.uuid4().hex, **user_claims}
        identity = {"iss": self.issuer, "sub": sub, "aud": client_id, "iat": now, "nbf": now,
                    "exp": now + TOKEN_LIFETIME, "auth_time": grant["auth_time"], **user_claims}
        if grant["nonce"] is not None:
            identity["nonce"] = grant["nonce"]
        return {
            "access_token": self._sign(access, typ="at+jwt"),
            "id_token": self._id_token(identity, tamper),
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "scope": scope,
        }

    def _id_token(self, claims: dict, tamper: dict) -> str:
        def wrong(knob: str, default: str) -> str:
            value = tamper[knob]
            return value if isinstance(value, str) else default

        if tamper.get("nonce"):
            claims["nonce"] = wrong("nonce", "not-" + str(claims.get("nonce") or secrets.token_urlsafe(8)))
        if tamper.get("aud"):
            claims["aud"] = wrong("aud", "another-client")
        if tamper.get("iss"):
            claims["iss"] = wrong("iss", "https://helseid-sts.evil.example")
        if tamper.get("expired"):
            claims.update(iat=claims["iat"] - 900, nbf=claims["nbf"] - 900, exp=claims["iat"] - 600)
        if tamper.get("alg_none"):
            header = {"alg": "none", "typ": "JWT", "kid": self._jwk["kid"]}
            encoded = [_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)]
            return ".".join(encoded) + "."  # no signature at all
        if tamper.get("signature"):
            with self._lock:
                if self._other_key is None:
                    self._other_key = _new_rsa_key()
                other = self._other_key
            return self._sign(claims, key=other)  # claims the provider's kid, as a forger would
        return self._sign(claims)

    def _sign(self, claims: dict, *, typ: str = "JWT", key: rsa.RSAPrivateKey | None = None) -> str:
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": self._jwk["kid"], "typ": typ})

    # --- logging ------------------------------------------------------------------------------------------------

    def _log(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)


def _with_query(uri: str, extra: dict) -> str:
    """``uri`` with ``extra`` (None values left out) added to its query, keeping what it already has."""
    parts = urlsplit(uri)
    added = urlencode({k: v for k, v in extra.items() if v is not None})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _single_values(raw: str) -> dict[str, str]:
    parsed = parse_qs(raw, keep_blank_values=True)
    repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
    if repeated:
        raise _Problem("invalid_request", f"parameter(s) given more than once: {', '.join(repeated)}")
    return {k: v[0] for k, v in parsed.items()}


def _redacted(params: dict[str, str]) -> dict[str, str]:
    return {k: (_REDACTED if k in _SECRET_PARAMS else v) for k, v in params.items()}


def _handler_for(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "varde-test-oidc/1"

        def log_message(self, format, *args):  # quiet: provider.requests is the log
            pass

        def _send(self, status: int, body: dict | None = None, location: str | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Pragma", "no-cache")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            length = self.headers.get("Content-Length") or "0"
            if not length.isdigit():
                self.close_connection = True
                provider._log({"method": method, "path": path, "params": {}, "status": 400, "error": "invalid_request"})
                self._send(400, {"error": "invalid_request", "error_description": "bad Content-Length"})
                return
            body = self.rfile.read(int(length)).decode("utf-8", "replace")  # read even if unused: keep-alive
            entry: dict = {"method": method, "path": path, "params": {}, "status": None, "error": None}
            try:
                try:
                    params = _single_values(parts.query)
                    entry["params"] = _redacted(params)
                    status, answer, location = self._route(method, path, params, body, entry)
                except _Problem as p:
                    status, answer, location = p.status, {"error": p.error, "error_description": str(p)}, None
                    entry["error"] = p.error
            except Exception as e:  # a bug here should be an answer, not a hung test
                status, answer, location = 500, {"error": "server_error", "error_description": repr(e)}, None
                entry["error"] = "server_error"
            entry["status"] = status
            provider._log(entry)
            self._send(status, answer, location)

        def _route(self, method: str, path: str, params: dict, body: str,
                   entry: dict) -> tuple[int, dict | None, str | None]:
            routes = {"/.well-known/openid-configuration": "GET", "/jwks": "GET", "/authorize": "GET",
                      "/token": "POST", "/endsession": "GET"}
            if path not in routes:
                return 404, {"error": "not_found"}, None
            if method != routes[path]:
                raise _Problem("invalid_request", f"{path} takes {routes[path]}", 405)
            if path == "/.well-known/openid-configuration":
                return 200, provider.discovery(), None
            if path == "/jwks":
                return 200, provider.jwks(), None
            if path == "/authorize":
                location, extra = provider._authorize(params)
                entry.update(extra)
                return 302, None, location
            if path == "/token":
                content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if content_type != "application/x-www-form-urlencoded":
                    raise _Problem("invalid_request", "the token request must be application/x-www-form-urlencoded")
                form = _single_values(body)
                entry["params"] = _redacted(form)
                return 200, provider._token(form, entry), None
            return 200, {"signed_out": True}, None  # /endsession

        def do_GET(self):  # http.server's names
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_PUT(self):
            self._handle("PUT")

        def do_DELETE(self):
            self._handle("DELETE")

    return Handler
