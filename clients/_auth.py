"""A client's credentials: TLS (server CA, client certificate for mutual TLS) and an access token, Bearer or
DPoP-bound, sent with every call. A token file is read again when it changes, so a helper process can renew it."""

from __future__ import annotations

import base64
import collections
import hashlib
import os
import threading
import time
import uuid
from pathlib import Path

import grpc

__all__ = ["CallCredentials", "channel_credentials"]


def _read(value: str | bytes | os.PathLike | None, what: str) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    try:
        return Path(value).read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read the {what} {str(value)!r}: {e.strerror}") from None


def channel_credentials(tls_ca=None, tls_cert=None, tls_key=None) -> grpc.ChannelCredentials | None:
    """TLS credentials when any TLS file is given (tls_ca None: the system's CAs), else None (plaintext)."""
    if tls_ca is None and tls_cert is None and tls_key is None:
        return None
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together (your client certificate and its key)")
    return grpc.ssl_channel_credentials(root_certificates=_read(tls_ca, "CA file"),
                                        private_key=_read(tls_key, "key file"),
                                        certificate_chain=_read(tls_cert, "certificate file"))


class _Details(collections.namedtuple("_Details", ("method", "timeout", "metadata", "credentials",
                                                   "wait_for_ready", "compression")), grpc.ClientCallDetails):
    pass


class CallCredentials(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                      grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization` (and a fresh DPoP proof per call) to every call's metadata."""

    def __init__(self, *, token: str | None = None, token_file: str | os.PathLike | None = None,
                 dpop_key=None, base_url: str):
        if token is None and token_file is None:
            raise ValueError("give a token or a token file")
        self._token = token.strip() if token else None
        self._file = Path(token_file) if token_file else None
        self._file_stamp: int | None = None
        self._lock = threading.Lock()
        self._base_url = base_url.rstrip("/")
        self._dpop = None
        if dpop_key is not None:
            import jwt
            from cryptography.hazmat.primitives import serialization

            key = serialization.load_pem_private_key(_read(dpop_key, "DPoP key"), password=None)
            jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
            self._dpop = (key, {k: jwk[k] for k in ("kty", "crv", "x", "y")})
        if self._file is not None:
            self._current()  # fail now, not on the first call

    def _current(self) -> str:
        if self._file is None:
            return self._token
        with self._lock:
            try:
                stamp = self._file.stat().st_mtime_ns
                if stamp != self._file_stamp:
                    self._token = self._file.read_text().strip()
                    self._file_stamp = stamp
            except OSError as e:
                if self._token is None:
                    raise ValueError(f"cannot read the token file {str(self._file)!r}: {e.strerror}") from None
            if not self._token:
                raise ValueError(f"the token file {str(self._file)!r} is empty")
            return self._token

    def proof(self, method: str, token: str) -> str:
        import jwt

        key, jwk = self._dpop
        ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode("ascii")).digest()).rstrip(b"=").decode()
        claims = {"jti": uuid.uuid4().hex, "htm": "POST", "htu": self._base_url + method, "iat": int(time.time()),
                  "ath": ath}
        return jwt.encode(claims, key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})

    def _details(self, d) -> _Details:
        token = self._current()
        metadata = list(d.metadata or ())
        if self._dpop is not None:
            metadata += [("authorization", f"DPoP {token}"), ("dpop", self.proof(d.method, token))]
        else:
            metadata.append(("authorization", f"Bearer {token}"))
        return _Details(d.method, d.timeout, metadata, d.credentials, d.wait_for_ready, d.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)
