"""Access tokens as the Norwegian health sector's OAuth2 server (HelseID) issues them, checked with PyJWT.

A token is a JWT signed by a key in the issuer's JWKS (a file or an https:// URL, cached; an unknown key id fetches
the set again, so keys can rotate). One deployment takes DPoP-bound tokens (RFC 9449: a proof per call, signed by
the client's own key, whose thumbprint the token names in cnf.jkt) or Bearer tokens, never both.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time

import grpc
import jwt

from .config import AuthConfig, TokenConfig
from .identity import Identity

__all__ = ["AuthError", "TokenVerifier", "jwk_thumbprint"]

SECURITY_LEVEL = "helseid://claims/identity/security_level"
HPR_NUMBER = "helseid://claims/hpr/hpr_number"
ORGNR_PARENT = "helseid://claims/client/claims/orgnr_parent"
ORGNR_CHILD = "helseid://claims/client/claims/orgnr_child"
_VERIFIED_MAX = 100_000
_PROOF_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA")
# RFC 7638: the members of each key type that make its thumbprint
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


class AuthError(Exception):
    """The call is refused; `code` is UNAUTHENTICATED or PERMISSION_DENIED, `reason` a fixed word for metrics."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str):
        super().__init__(message)
        self.code = code
        self.reason = reason


def _unauthenticated(message: str, reason: str) -> AuthError:
    return AuthError(grpc.StatusCode.UNAUTHENTICATED, message, reason)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638: SHA-256 over the key's required members, sorted, without whitespace (a hash, not crypto)."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise _unauthenticated("the DPoP proof's jwk is not a complete EC, RSA or OKP public key", "dpop_jwk")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode("utf-8")).digest())


class _Jwks:
    """The issuer's signing keys: from a file (read again when it changes) or a URL (PyJWT's cached client)."""

    def __init__(self, source: str, cache_seconds: float, cooldown_seconds: float = 30.0):
        self._source = source
        self._lock = threading.Lock()
        self.generation = 0
        if source.startswith("https://"):
            # The cooldown keeps tokens with made-up key ids from turning into a flood of fetches at the issuer.
            self._client = jwt.PyJWKClient(source, cache_jwk_set=True, lifespan=max(1, int(cache_seconds)),
                                           timeout=10, cooldown_duration=cooldown_seconds)
        else:
            self._client = None
            self._mtime = None
            self._keys: dict = {}
            self._load()

    def _load(self) -> None:
        mtime = os.stat(self._source).st_mtime_ns
        if mtime == self._mtime:
            return
        with open(self._source, encoding="utf-8") as f:
            keys = jwt.PyJWKSet.from_dict(json.load(f)).keys
        self._keys = {k.key_id: k for k in keys}
        self._mtime = mtime
        self.generation += 1  # tokens remembered as verified are checked again against the new keys

    def current_generation(self) -> int:
        """Bumped when a JWKS file changes (a stat per call), so that tokens remembered as verified are checked again.
        A JWKS URL is not fetched per call: a token signed by a key taken out stays good until it expires."""
        if self._client is None:
            try:
                with self._lock:
                    self._load()
            except (OSError, ValueError):
                pass  # key() reports it when a token needs checking
        return self.generation

    def key(self, kid: str | None):
        try:
            if self._client is not None:
                if kid is None:
                    keys = self._client.get_signing_keys()
                    if len(keys) != 1:
                        raise _unauthenticated("the token names no key id (kid) and the issuer has several keys",
                                               "token_kid")
                    return keys[0]
                return self._client.get_signing_key(kid)
            with self._lock:
                self._load()  # a rotated file is picked up on the next call
                if kid is None and len(self._keys) == 1:
                    return next(iter(self._keys.values()))
                if kid not in self._keys:
                    raise _unauthenticated(f"the token is signed with key {kid!r}, which the issuer's JWKS does "
                                           "not hold (rotated out, or another issuer)", "token_kid")
                return self._keys[kid]
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, OSError, ValueError) as e:
            raise AuthError(grpc.StatusCode.UNAUTHENTICATED, f"cannot get the issuer's signing keys: {e}",
                            "jwks_unavailable") from None


class _ReplayCache:
    """DPoP proof ids seen within their validity window: a proof replayed is refused (per server process)."""

    def __init__(self, max_entries: int = 1_000_000):
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def first_use(self, key: str, expires: float) -> bool:
        now = time.time()
        with self._lock:
            if len(self._seen) >= self._max:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
                if len(self._seen) >= self._max:
                    return False  # fail closed rather than forget
            if self._seen.get(key, 0) > now:
                return False
            self._seen[key] = expires
            return True


class TokenVerifier:
    def __init__(self, config: AuthConfig):
        assert config.tokens is not None
        self.config: TokenConfig = config.tokens
        self._levels = config.min_security_level
        self._jwks = _Jwks(self.config.jwks, self.config.jwks_cache_seconds, self.config.jwks_cooldown_seconds)
        self._replays = _ReplayCache()
        self._verified: dict[bytes, tuple] = {}  # sha256(token) -> (jwks generation, nbf, exp, claims, identity)
        self._cache_lock = threading.Lock()

    def identify(self, authorization: str, proof: str | None, method: str, http_method: str = "POST") -> Identity:
        cfg = self.config
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != cfg.scheme.lower() or not token:
            raise _unauthenticated(f"this server takes '{cfg.scheme} <token>' in the authorization metadata, "
                                   f"not {scheme!r}", "token_scheme")
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        cached = self._verified.get(key)
        if cached is not None and cached[0] == self._jwks.current_generation() and \
                cached[1] - cfg.leeway_seconds <= time.time() < cached[2] + cfg.leeway_seconds:
            claims, identity = cached[3], cached[4]
        else:
            claims = self._verify(token)
            identity = self._identity(claims)
            self._remember(key, claims, identity)
        if cfg.scheme == "DPoP":
            self._check_proof(proof, token, claims, method, http_method)  # every call: a proof is good once
        return identity

    def _remember(self, key: bytes, claims: dict, identity: Identity) -> None:
        """A token checked once is known for its lifetime: PyJWT spends some 300 µs a call re-reading it."""
        nbf = claims.get("nbf", claims.get("iat", 0))
        with self._cache_lock:
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()  # crude, and rare: a server sees far fewer live tokens than this
            self._verified[key] = (self._jwks.generation, float(nbf or 0), float(claims["exp"]), claims, identity)

    def _verify(self, token: str) -> dict:
        cfg = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as e:
            raise _unauthenticated(f"the access token is not a JWT: {e}", "token_malformed") from None
        if header.get("alg") not in cfg.algorithms:
            raise _unauthenticated(f"the token's algorithm {header.get('alg')!r} is not accepted "
                                   f"({', '.join(cfg.algorithms)})", "token_algorithm")
        key = self._jwks.key(header.get("kid"))
        try:
            claims = jwt.decode(token, key, algorithms=list(cfg.algorithms), audience=cfg.audience,
                                issuer=cfg.issuer, leeway=cfg.leeway_seconds,
                                options={"require": ["exp", "iss", "aud"], "verify_signature": True})
        except jwt.ExpiredSignatureError:
            raise _unauthenticated("the access token has expired; get a new one", "token_expired") from None
        except jwt.ImmatureSignatureError:
            raise _unauthenticated("the access token is not valid yet (nbf/iat in the future)",
                                   "token_not_yet_valid") from None
        except jwt.InvalidAudienceError:
            raise _unauthenticated(f"the access token is not for this server (audience must be {cfg.audience!r})",
                                   "token_audience") from None
        except jwt.InvalidIssuerError:
            raise _unauthenticated(f"the access token is from another issuer (expected {cfg.issuer!r})",
                                   "token_issuer") from None
        except jwt.InvalidSignatureError:
            raise _unauthenticated("the access token's signature does not verify", "token_signature") from None
        except jwt.InvalidTokenError as e:
            raise _unauthenticated(f"the access token is not valid: {e}", "token_invalid") from None
        return claims

    def _check_proof(self, proof: str | None, token: str, claims: dict, method: str, http_method: str) -> None:
        cfg = self.config
        jkt = (claims.get("cnf") or {}).get("jkt") if isinstance(claims.get("cnf"), dict) else None
        if not jkt:
            raise _unauthenticated("the token is not DPoP-bound (no cnf.jkt); this server takes DPoP tokens only",
                                   "dpop_unbound")
        if not proof:
            raise _unauthenticated("a DPoP proof is missing: send one in the 'dpop' metadata with every call",
                                   "dpop_missing")
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.InvalidTokenError as e:
            raise _unauthenticated(f"the DPoP proof is not a JWT: {e}", "dpop_malformed") from None
        if header.get("typ") != "dpop+jwt":
            raise _unauthenticated("the DPoP proof must have typ 'dpop+jwt'", "dpop_malformed")
        if header.get("alg") not in _PROOF_ALGORITHMS:
            raise _unauthenticated(f"the DPoP proof's algorithm {header.get('alg')!r} is not accepted",
                                   "dpop_algorithm")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or "d" in jwk:
            raise _unauthenticated("the DPoP proof must carry the client's public key (jwk) and no private part",
                                   "dpop_jwk")
        if jwk_thumbprint(jwk) != jkt:
            raise _unauthenticated("the DPoP proof is signed by another key than the token is bound to (cnf.jkt)",
                                   "dpop_key_mismatch")
        try:
            key = jwt.PyJWK.from_dict(jwk, algorithm=header["alg"])
            pc = jwt.decode(proof, key, algorithms=[header["alg"]],
                            options={"verify_aud": False, "verify_exp": False, "verify_iat": False,
                                     "require": ["iat", "jti", "htm", "htu"]})
        except (jwt.InvalidTokenError, jwt.PyJWKError, ValueError, TypeError) as e:
            raise _unauthenticated(f"the DPoP proof does not verify: {e}", "dpop_signature") from None
        if pc.get("htm") != http_method:
            raise _unauthenticated(f"the DPoP proof's htm must be {http_method} (every gRPC call is a POST)",
                                   "dpop_htm")
        htu = str(pc.get("htu")).split("?")[0].split("#")[0]
        expected = (cfg.public_url + method) if cfg.public_url else None
        if (expected and htu != expected) or (not expected and not htu.endswith(method)):
            raise _unauthenticated(f"the DPoP proof is for {htu!r}, not this method "
                                   f"({expected or '<server>' + method})", "dpop_htu")
        now = time.time()
        iat = pc.get("iat")
        window = cfg.dpop_max_age_seconds + cfg.leeway_seconds
        if not isinstance(iat, (int, float)) or abs(now - iat) > window:
            raise _unauthenticated(f"the DPoP proof is too old or from the future (iat must be within "
                                   f"{cfg.dpop_max_age_seconds:.0f} s of now); make a new proof per call",
                                   "dpop_iat")
        if pc.get("ath") != _b64(hashlib.sha256(token.encode("ascii")).digest()):
            raise _unauthenticated("the DPoP proof's ath is not the hash of this access token", "dpop_ath")
        if not self._replays.first_use(f"{jkt}:{pc['jti']}", iat + window):
            raise _unauthenticated("this DPoP proof was used before (jti seen); make a new proof per call",
                                   "dpop_replay")

    def _identity(self, claims: dict) -> Identity:
        raw = claims.get("scope", [])
        scopes = raw.split() if isinstance(raw, str) else [s for s in raw if isinstance(s, str)]
        try:
            level = int(claims.get(SECURITY_LEVEL, 0))
        except (TypeError, ValueError):
            level = 0
        held = frozenset().union(*(self.config.scopes.get(s, frozenset()) for s in scopes))
        roles = frozenset(r for r in held if level >= self._levels.get(r, 0))
        unit = claims.get(ORGNR_CHILD) or claims.get(ORGNR_PARENT)
        if not isinstance(unit, str) or not unit:
            raise AuthError(grpc.StatusCode.PERMISSION_DENIED, "the token names no organisation (orgnr_parent or "
                            "orgnr_child), so its flags would belong to no unit", "token_no_unit")
        hpr = claims.get(HPR_NUMBER)
        client = claims.get("client_id") or claims.get("azp") or claims.get("sub") or "unknown"
        actor = f"hpr:{hpr}" if hpr else f"client:{client}"
        return Identity(actor=actor, unit=unit, roles=roles, how=self.config.scheme.lower(),
                        withheld=frozenset(held - roles), level=level)
