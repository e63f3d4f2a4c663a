"""Identity from a mutual-TLS client certificate: its subject or a SAN, mapped to roles and a unit in the config.

gRPC has already checked the chain against --tls-client-ca; this only says who the holder is.
"""

from __future__ import annotations

import functools
import ipaddress

import grpc
from cryptography import x509

from .config import CertificateRule
from .identity import Identity

__all__ = ["certificate_identity"]


@functools.lru_cache(maxsize=1024)
def _read(pem: bytes) -> tuple[x509.Name, frozenset[str]]:
    cert = x509.load_pem_x509_certificate(pem)
    sans: set[str] = set()
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        ext = None
    if ext is not None:
        sans |= {f"DNS:{v.lower()}" for v in ext.get_values_for_type(x509.DNSName)}
        sans |= {f"URI:{v}" for v in ext.get_values_for_type(x509.UniformResourceIdentifier)}
        sans |= {f"email:{v.lower()}" for v in ext.get_values_for_type(x509.RFC822Name)}
        sans |= {f"IP:{ipaddress.ip_address(v)}" for v in ext.get_values_for_type(x509.IPAddress)}
    return cert.subject, frozenset(sans)


def peer_certificate(context: grpc.ServicerContext) -> bytes | None:
    pems = context.auth_context().get("x509_pem_cert")
    return pems[0] if pems else None


def certificate_identity(pem: bytes, rules: tuple[CertificateRule, ...]) -> Identity | None:
    """The identity of the first rule that names this certificate, or None."""
    subject, sans = _read(pem)
    for rule in rules:
        if (rule.subject is not None and rule.subject == subject) or (rule.san is not None and rule.san in sans):
            return Identity(actor=f"cert:{rule.name}", unit=rule.unit, roles=rule.roles, how="certificate")
    return None


def describe(pem: bytes) -> str:
    """The certificate's subject, to tell an operator which mapping is missing (not a patient, never logged)."""
    return _read(pem)[0].rfc4514_string()
