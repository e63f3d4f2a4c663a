"""A real server with TLS, client certificates and HelseID-style tokens, all made at run time for the test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import grpc

from tests.security_support import DPoPKey, Pki, TokenIssuer
from tests.support import Running
from varde.clients.client import VardeClient
from varde.server.auth import ROLES
from varde.server.config import Settings

UNIT_A, UNIT_B = "974600951", "964338531"
SCOPES = {role: f"varde/{role}" for role in ROLES}
# keywords of token_client that shape the token rather than the client
_CLAIM_KEYWORDS = {"security_level", "client_id", "lifetime", "orgnr_child", "extra", "not_before", "audience"}


class Secured:
    """Mutual TLS on localhost; one mapped client certificate per role (unit A); tokens by `TokenIssuer`."""

    def __init__(self, queue: str | None = None, *, scheme: str = "Bearer", mutual: bool = True, **settings):
        self.dir = Path(tempfile.mkdtemp(prefix="varde-secured-"))
        self.pki = Pki(self.dir)
        self.server_cert = self.pki.server()
        self.certs = {role: self.pki.client(f"{role}-1", organization=UNIT_A) for role in ROLES}
        self.issuer = TokenIssuer()
        self.jwks = self.issuer.write_jwks(self.dir / "jwks.json")
        self.scheme = scheme
        self.config = self.dir / "auth.toml"
        self.config.write_text(self.auth_toml())
        self.queue = queue or str(self.dir / "queue.sqlite3")
        self.settings = Settings(
            address="127.0.0.1:0", queue=self.queue, tls_cert=str(self.server_cert.cert_path),
            tls_key=str(self.server_cert.key_path), tls_client_ca=str(self.pki.ca_path) if mutual else None,
            auth_config=str(self.config), **settings)
        self.port = 0
        self.running = Running(self.settings, connect=self._connect)
        self.port = self.running.port
        self.address = f"localhost:{self.port}"

    def auth_toml(self) -> str:
        lines = ["[tokens]", f'issuer = "{self.issuer.issuer}"', 'audience = "varde-api"',
                 f'jwks = "{self.jwks}"', f'scheme = "{self.scheme}"', "", "[tokens.scopes]"]
        lines += [f'"{scope}" = "{role}"' for role, scope in SCOPES.items()]
        for role, cert in self.certs.items():
            lines += ["", "[[certificates]]", f'name = "{role}-1"', f'subject = "{cert.subject}"',
                      f'roles = ["{role}"]', f'unit = "{UNIT_A}"']
        return "\n".join(lines) + "\n"

    def token(self, role: str | None = "coordinator", *, unit: str = UNIT_A, hpr: str | None = "123456789",
              **kw) -> str:
        scopes = (SCOPES[role],) if role else ()
        return self.issuer.token(scopes=scopes, orgnr_parent=unit, hpr_number=hpr, **kw)

    def _tls(self, cert=None) -> dict:
        kw = {"tls_ca": self.pki.ca_pem}
        if cert is not None:
            kw.update(tls_cert=cert.cert_pem, tls_key=cert.key_pem)
        elif self.settings.tls_client_ca:
            # mutual TLS: every connection needs a certificate; an unmapped one identifies nobody
            anon = self.certs.get("_anonymous") or self.pki.client("anonymous")
            self.certs["_anonymous"] = anon
            kw.update(tls_cert=anon.cert_pem, tls_key=anon.key_pem)
        return kw

    def _connect(self, port: int) -> VardeClient:
        self.port = port
        return self.cert_client("operator")

    def cert_client(self, role: str, **kw) -> VardeClient:
        return VardeClient(f"localhost:{self.port}", **self._tls(self.certs[role]), **kw)

    def token_client(self, role: str | None = "coordinator", *, unit: str = UNIT_A, hpr: str | None = "123456789",
                     dpop: DPoPKey | None = None, token: str | None = None, **kw) -> VardeClient:
        if self.scheme == "DPoP" and dpop is None:
            dpop = DPoPKey()
        claims = {k: kw.pop(k) for k in _CLAIM_KEYWORDS & set(kw)}
        if token is None:
            token = self.token(role, unit=unit, hpr=hpr,
                               dpop_jkt=dpop.thumbprint() if dpop is not None else None, **claims)
        return VardeClient(f"localhost:{self.port}", **self._tls(), token=token,
                           dpop_key=dpop.private_key_pem() if dpop is not None else None, **kw)

    def channel(self, cert=None) -> grpc.Channel:
        tls = self._tls(cert)
        creds = grpc.ssl_channel_credentials(tls["tls_ca"], tls.get("tls_key"), tls.get("tls_cert"))
        return grpc.secure_channel(f"localhost:{self.port}", creds)

    def stop(self):
        self.running.stop()


def environment_without_varde() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("VARDE_")}
