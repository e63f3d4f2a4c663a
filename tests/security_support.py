"""Credentials the tests make for themselves at run time: a CA with server and client certificates, HelseID-like
access tokens and DPoP proofs. No private key is ever committed; each test run makes fresh ones."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

HELSEID_ISSUER = "https://helseid-sts.test.nhn.no"
SECURITY_LEVEL = "helseid://claims/identity/security_level"
HPR_NUMBER = "helseid://claims/hpr/hpr_number"
ORGNR_PARENT = "helseid://claims/client/claims/orgnr_parent"
ORGNR_CHILD = "helseid://claims/client/claims/orgnr_child"


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE (JWS, JWK, DPoP) writes binary values."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only (created 0600, never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)  # the file may have existed with looser permissions


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# --- X.509 -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cert:
    """A certificate and its key, in memory and as files (what grpc and the `varde` command line take)."""

    cert_pem: bytes
    key_pem: bytes
    cert_path: Path
    key_path: Path
    subject: str  # RFC 4514, as cryptography renders it: "CN=koordinator-1,O=974600951"
    certificate: x509.Certificate = field(repr=False, compare=False)


class Pki:
    """A throwaway certificate authority in `directory`: writes ca.pem on construction, then certificates on demand."""

    def __init__(self, directory: Path, name: str = "Varde test CA"):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Varde test"),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        public = self._key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_path = self.directory / "ca.pem"
        self.ca_path.write_bytes(self.ca_pem)
        self._others = 0

    def server(self, hostnames=("localhost",), ips=("127.0.0.1",)) -> Cert:
        """A server certificate for `hostnames` and `ips` (TLS clients check the name they dialled against the SAN)."""
        names = [x509.DNSName(h) for h in hostnames] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        cn = hostnames[0] if hostnames else ips[0]
        return self._issue("server", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]),
                           ExtendedKeyUsageOID.SERVER_AUTH, names)

    def client(self, common_name: str, *, organization: str | None = None, san_uris=(), san_dns=()) -> Cert:
        """A client certificate: the server's authorisation reads who is calling from its subject or SAN."""
        return self._issue(f"client-{common_name}", self._client_name(common_name, organization),
                           ExtendedKeyUsageOID.CLIENT_AUTH,
                           [x509.UniformResourceIdentifier(u) for u in san_uris] + [x509.DNSName(d) for d in san_dns])

    def expired_client(self, common_name: str, *, organization: str | None = None) -> Cert:
        """A client certificate whose validity ended yesterday, which a TLS server must refuse."""
        end = _now() - dt.timedelta(days=1)
        return self._issue(f"expired-{common_name}", self._client_name(common_name, organization),
                           ExtendedKeyUsageOID.CLIENT_AUTH, [], not_before=end - dt.timedelta(days=30), not_after=end)

    def other_ca(self) -> Pki:
        """An unrelated CA in a subdirectory: its certificates look right but nobody here trusts them."""
        self._others += 1
        return Pki(self.directory / f"other-ca-{self._others}", name=f"Foreign test CA {self._others}")

    @staticmethod
    def _client_name(common_name: str, organization: str | None) -> x509.Name:
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization is not None:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        return x509.Name(attributes)

    def _issue(self, stem: str, subject: x509.Name, usage, sans: list, *, not_before=None, not_after=None) -> Cert:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(minutes=5))
            .not_valid_after(not_after or now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
        key_pem = _pem_key(key)
        stem = self._free_stem(re.sub(r"[^A-Za-z0-9._-]+", "_", stem))
        cert_path, key_path = self.directory / f"{stem}.pem", self.directory / f"{stem}.key"
        cert_path.write_bytes(cert_pem)
        _write_private(key_path, key_pem)
        return Cert(cert_pem, key_pem, cert_path, key_path, certificate.subject.rfc4514_string(), certificate)

    def _free_stem(self, stem: str) -> str:
        """`stem`, or `stem-2`, `stem-3`...: a second certificate for the same name must not overwrite the first."""
        candidate, n = stem, 1
        while (self.directory / f"{candidate}.pem").exists():
            n += 1
            candidate = f"{stem}-{n}"
        return candidate


# --- JWT access tokens -----------------------------------------------------------------------------------------------


def unsigned_token(claims: dict, header: dict | None = None) -> str:
    """An alg=none JWT built by hand (PyJWT will not make one readily): the forgery a verifier must refuse."""
    head = {"alg": "none", "typ": "JWT", **(header or {})}
    return f"{_b64json(head)}.{_b64json(claims)}."


def hs256_token(claims: dict, secret: bytes, header: dict | None = None) -> str:
    """An HS256 JWT built by hand with any `secret`, e.g. the issuer's public key: the algorithm-confusion forgery
    (PyJWT refuses a PEM as an HMAC secret, so this cannot go through jwt.encode)."""
    head = {"alg": "HS256", "typ": "JWT", **(header or {})}
    signing_input = f"{_b64json(head)}.{_b64json(claims)}"
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def _b64json(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _timestamp(value) -> int:
    return int(value.timestamp()) if isinstance(value, dt.datetime) else int(value)


class TokenIssuer:
    """A stand-in for HelseID, the health sector's OAuth2 server: RS256 access tokens with HelseID's claim names,
    and the JWKS a resource server would fetch to check them."""

    def __init__(self, issuer: str = HELSEID_ISSUER, kid: str = "key-1"):
        self.issuer = issuer
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._published: list[tuple[str, rsa.RSAPublicKey]] = [(kid, self.key.public_key())]

    def jwks(self) -> dict:
        """The public keys, as served at the issuer's jwks_uri."""
        keys = []
        for kid, public in self._published:
            jwk_dict = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
            keys.append({**jwk_dict, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def write_jwks(self, path: Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.jwks(), indent=2))
        return path

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    def rotate(self, kid: str = "key-2", *, keep_old: bool = False) -> None:
        """Sign with a new key from now on; the JWKS drops the old key unless `keep_old` (a rotation's overlap)."""
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid
        entry = (kid, self.key.public_key())
        self._published = [*self._published, entry] if keep_old else [entry]

    def claims(self, *, audience="varde-api", scopes=("varde/coordinator",), lifetime=300, not_before=None,
               security_level="4", hpr_number="123456789", client_id="client-abc", orgnr_parent="974600951",
               orgnr_child=None, dpop_jkt: str | None = None, extra: dict | None = None) -> dict:
        """The claims `token` signs, for tests that sign (or forge) them some other way."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
            "scope": list(scopes),  # HelseID sends a JSON array, not RFC 8693's space-separated string
            SECURITY_LEVEL: security_level,
            ORGNR_PARENT: orgnr_parent,
        }
        if not_before is not None:
            claims["nbf"] = _timestamp(not_before)
        if hpr_number is not None:
            claims[HPR_NUMBER] = hpr_number
        if orgnr_child is not None:
            claims[ORGNR_CHILD] = orgnr_child
        if dpop_jkt is not None:
            claims["cnf"] = {"jkt": dpop_jkt}
        for name, value in (extra or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def token(self, *, audience="varde-api", scopes=("varde/coordinator",), lifetime=300, not_before=None,
              security_level="4", hpr_number="123456789", client_id="client-abc", orgnr_parent="974600951",
              orgnr_child=None, dpop_jkt: str | None = None, extra: dict | None = None, kid=None, key=None,
              algorithm="RS256") -> str:
        """A signed access token. `key`/`kid` sign with another key (a bad signature, or an unknown kid);
        `algorithm="none"` gives an unsigned forgery."""
        claims = self.claims(audience=audience, scopes=scopes, lifetime=lifetime, not_before=not_before,
                             security_level=security_level, hpr_number=hpr_number, client_id=client_id,
                             orgnr_parent=orgnr_parent, orgnr_child=orgnr_child, dpop_jkt=dpop_jkt, extra=extra)
        header = {"kid": kid or self.kid, "typ": "at+jwt"}  # RFC 9068's type for JWT access tokens
        if algorithm.lower() == "none":
            return unsigned_token(claims, header)
        return jwt.encode(claims, key if key is not None else self.key, algorithm=algorithm, headers=header)


# --- DPoP ------------------------------------------------------------------------------------------------------------

_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x"),
                       "oct": ("k", "kty")}


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, no whitespace; base64url without padding.
    DPoP binds a token to a key by this value (the token's cnf.jkt)."""
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(access_token: str) -> str:
    """A DPoP proof's `ath`: base64url SHA-256 of the access token, tying the proof to that one token."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


class DPoPKey:
    """A client's DPoP key pair (EC P-256): it signs one proof per request to show it holds the token's key."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_jwk(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
                "y": b64url(numbers.y.to_bytes(32, "big"))}

    def thumbprint(self) -> str:
        return jwk_thumbprint(self.public_jwk)

    def private_key_pem(self) -> bytes:
        return _pem_key(self.key)

    def proof(self, htm="POST", htu="https://localhost/varde.v1.Flags/ListFlags", *, access_token: str | None = None,
              iat=None, jti=None, typ="dpop+jwt", extra=None, jwk: dict | None = None) -> str:
        """A DPoP proof (RFC 9449) for one request. `typ=None` leaves the type out; `jwk` embeds another public key
        than the signing one (a proof that must not verify); `extra` adds or (with None) removes claims."""
        claims = {"jti": jti or str(uuid.uuid4()), "htm": htm, "htu": htu,
                  "iat": int(time.time()) if iat is None else _timestamp(iat)}
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        for name, value in (extra or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        # typ None makes PyJWT leave the header out (it would otherwise write "JWT")
        header = {"typ": typ, "jwk": jwk if jwk is not None else self.public_jwk}
        return jwt.encode(claims, self.key, algorithm="ES256", headers=header)


# --- mutual TLS with grpc --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def health_server(cert_pem: bytes, key_pem: bytes, client_ca_pem: bytes) -> Iterator[int]:
    """A grpc server on 127.0.0.1 that demands a client certificate from `client_ca_pem`, serving only the standard
    health service; yields its port. Enough to show that a set of certificates does (or does not) make mutual TLS."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=client_ca_pem,
                                              require_client_auth=True)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield port
    finally:
        server.stop(None)


def health_check(target: str, ca_pem: bytes, cert_pem: bytes | None = None, key_pem: bytes | None = None,
                 timeout: float = 10.0) -> health_pb2.HealthCheckResponse.ServingStatus:
    """Call grpc.health.v1.Health/Check over TLS; raises grpc.RpcError when the handshake fails."""
    credentials = grpc.ssl_channel_credentials(ca_pem, key_pem, cert_pem)
    with grpc.secure_channel(target, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout).status
