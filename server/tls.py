"""Server TLS credentials that pick up renewed certificate files without a restart.

gRPC asks for the configuration at each new handshake; the files are read again when one of them changed on disk
(or after SIGHUP). A renewal that cannot be read (half-written, key and certificate not matching) keeps the old
configuration and logs why, so that a botched renewal never takes the service down.
"""

from __future__ import annotations

import logging
import os
import threading

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

__all__ = ["ReloadingCredentials"]

log = logging.getLogger("varde.server.tls")


class ReloadingCredentials:
    def __init__(self, cert: str, key: str, client_ca: str | None):
        self._paths = tuple(p for p in (cert, key, client_ca) if p)
        self._cert, self._key, self._client_ca = cert, key, client_ca
        self._lock = threading.Lock()
        self._force = False
        self._stamp = self._stamps()
        self.reloads = 0
        initial = self._configuration()
        self.credentials = grpc.dynamic_ssl_server_credentials(
            initial, self._fetch, require_client_authentication=client_ca is not None)

    def _stamps(self):
        return tuple(os.stat(p).st_mtime_ns for p in self._paths)

    def _configuration(self):
        def read(path):
            with open(path, "rb") as f:
                return f.read()

        root = read(self._client_ca) if self._client_ca else None
        cert, key = read(self._cert), read(self._key)
        public = x509.load_pem_x509_certificates(cert)[0].public_key()
        private = serialization.load_pem_private_key(key, password=None)
        if private.public_key() != public:
            raise ValueError(f"the key in {self._key} does not belong to the certificate in {self._cert}")
        if root is not None:
            x509.load_pem_x509_certificates(root)
        return grpc.ssl_server_certificate_configuration([(key, cert)],
                                                         root_certificates=root)

    def reload_now(self) -> None:
        """For SIGHUP: read the files at the next handshake even if their times did not change."""
        self._force = True

    def _fetch(self):
        with self._lock:
            try:
                stamp = self._stamps()
            except OSError as e:
                log.warning("TLS files: %s; keeping the certificate in use", e)
                return None
            if stamp == self._stamp and not self._force:
                return None
            self._force = False
            self._stamp = stamp
            try:
                configuration = self._configuration()
            except (OSError, ValueError) as e:
                log.error("TLS files changed but cannot be read (%s); keeping the certificate in use", e)
                return None
            self.reloads += 1
            log.info("TLS certificate files changed; new handshakes use them")
            return configuration
