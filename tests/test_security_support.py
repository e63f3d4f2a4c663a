"""The test credentials must be right before other tests trust them: a wrong SAN or EKU here would make a TLS test
fail (or pass) for the wrong reason, and a wrong thumbprint would make every DPoP test meaningless."""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat

import grpc
import jwt
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2

from tests.security_support import (
    HPR_NUMBER,
    ORGNR_CHILD,
    ORGNR_PARENT,
    SECURITY_LEVEL,
    DPoPKey,
    Pki,
    TokenIssuer,
    access_token_hash,
    health_check,
    health_server,
    hs256_token,
    jwk_thumbprint,
    unsigned_token,
)

SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


def _header(token: str) -> dict:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


# --- certificates ----------------------------------------------------------------------------------------------------


def test_ca_is_a_self_signed_ca(pki):
    ca = x509.load_pem_x509_certificate(pki.ca_path.read_bytes())
    assert ca == pki.ca_cert
    ca.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and not usage.digital_signature


def test_ca_signs_server_and_client_certificates(pki):
    ca = x509.load_pem_x509_certificate(pki.ca_pem)
    for cert in (pki.server(), pki.client("koordinator-1", organization="974600951")):
        issued = x509.load_pem_x509_certificate(cert.cert_path.read_bytes())
        issued.verify_directly_issued_by(ca)
        assert not issued.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_foreign_ca_did_not_sign_them(pki, tmp_path):
    client = pki.client("koordinator-1")
    with pytest.raises(ValueError):  # another issuer name
        client.certificate.verify_directly_issued_by(pki.other_ca().ca_cert)
    namesake = Pki(tmp_path, name="Varde test CA")  # same name, other key: only the signature tells them apart
    assert namesake.ca_cert.subject == pki.ca_cert.subject
    with pytest.raises(InvalidSignature):
        client.certificate.verify_directly_issued_by(namesake.ca_cert)
    foreign = pki.other_ca().client("koordinator-1")
    with pytest.raises((ValueError, InvalidSignature)):
        foreign.certificate.verify_directly_issued_by(pki.ca_cert)


def test_server_certificate_names_and_usage(pki):
    cert = pki.server(hostnames=("localhost", "varde.test"), ips=("127.0.0.1", "::1")).certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "varde.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]


def test_client_certificate_subject_sans_and_usage(pki):
    cert = pki.client("koordinator-1", organization="974600951", san_uris=("urn:oid:2.16.578.1.12.4.1.4.101",),
                      san_dns=("koordinator.kommune.test",))
    assert cert.subject == "CN=koordinator-1,O=974600951"
    assert cert.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "974600951"
    san = cert.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:oid:2.16.578.1.12.4.1.4.101"]
    assert san.get_values_for_type(x509.DNSName) == ["koordinator.kommune.test"]
    assert list(cert.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    assert pki.client("plain").subject == "CN=plain"
    with pytest.raises(x509.ExtensionNotFound):  # no SAN asked for, none written
        pki.client("plain").certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_files_match_memory_and_keys_are_private(pki):
    cert = pki.client("filer")
    assert cert.cert_path.read_bytes() == cert.cert_pem
    assert cert.key_path.read_bytes() == cert.key_pem
    assert stat.S_IMODE(cert.key_path.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(cert.key_pem, password=None)
    assert key.public_key() == cert.certificate.public_key()
    again = pki.client("filer")  # the same name twice must not overwrite the first pair
    assert again.cert_path != cert.cert_path and cert.cert_path.read_bytes() == cert.cert_pem


def test_expired_client_certificate_is_expired(pki):
    cert = pki.expired_client("gammel").certificate
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_after_utc < now - dt.timedelta(hours=23)
    assert cert.not_valid_before_utc < cert.not_valid_after_utc
    cert.verify_directly_issued_by(pki.ca_cert)  # expired, not forged


# --- mutual TLS ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_port(pki):
    server = pki.server()
    with health_server(server.cert_pem, server.key_pem, pki.ca_pem) as port:
        yield port


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])  # DNS SAN and IP SAN
def test_mutual_tls_handshake(pki, tls_port, host):
    client = pki.client("koordinator-1", organization="974600951")
    assert health_check(f"{host}:{tls_port}", pki.ca_pem, client.cert_pem, client.key_pem) == SERVING


@pytest.mark.parametrize("which", ["foreign CA", "expired", "server certificate", "no certificate"])
def test_mutual_tls_refuses_bad_client_certificates(pki, tls_port, which):
    client = {
        "foreign CA": lambda: pki.other_ca().client("koordinator-1", organization="974600951"),
        "expired": lambda: pki.expired_client("koordinator-1"),
        "server certificate": lambda: pki.server(),  # EKU serverAuth only: not for a client
        "no certificate": lambda: None,
    }[which]()
    with pytest.raises(grpc.RpcError) as caught:
        health_check(f"localhost:{tls_port}", pki.ca_pem, client and client.cert_pem, client and client.key_pem)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_client_checks_the_server_name(pki):
    """grpc checks an IP literal against the IP SANs: a certificate naming only localhost fails for 127.0.0.1."""
    server = pki.server(ips=())
    client = pki.client("koordinator-1")
    with health_server(server.cert_pem, server.key_pem, pki.ca_pem) as port:
        assert health_check(f"localhost:{port}", pki.ca_pem, client.cert_pem, client.key_pem) == SERVING
        with pytest.raises(grpc.RpcError) as caught:
            health_check(f"127.0.0.1:{port}", pki.ca_pem, client.cert_pem, client.key_pem)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


# --- access tokens ---------------------------------------------------------------------------------------------------


def _decode(token: str, jwks: dict, **kw) -> dict:
    """What a resource server does: pick the key by kid from the JWKS, then check signature, audience and issuer."""
    key = jwt.PyJWKSet.from_dict(jwks)[_header(token)["kid"]]
    return jwt.decode(token, key, algorithms=["RS256"], audience="varde-api", issuer="https://helseid-sts.test.nhn.no",
                      **kw)


def test_jwks_is_public_and_labelled(issuer):
    (key,) = issuer.jwks()["keys"]
    assert {k: key[k] for k in ("kid", "kty", "use", "alg")} == {"kid": "key-1", "kty": "RSA", "use": "sig",
                                                                "alg": "RS256"}
    assert "d" not in key and "p" not in key  # no private parts


def test_token_decodes_against_jwks_with_helseid_claims(issuer):
    dpop = DPoPKey()
    token = issuer.token(orgnr_child="999888777", dpop_jkt=dpop.thumbprint())
    assert _header(token) == {"alg": "RS256", "kid": "key-1", "typ": "at+jwt"}
    claims = _decode(token, issuer.jwks())
    assert claims["iss"] == "https://helseid-sts.test.nhn.no" and claims["aud"] == "varde-api"
    assert claims["scope"] == ["varde/coordinator"]
    assert claims[SECURITY_LEVEL] == "4"
    assert claims[HPR_NUMBER] == "123456789"
    assert claims[ORGNR_PARENT] == "974600951" and claims[ORGNR_CHILD] == "999888777"
    assert claims["client_id"] == "client-abc"
    assert claims["cnf"] == {"jkt": dpop.thumbprint()}
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"]
    assert "nbf" not in claims


def test_token_options_and_extra(issuer):
    claims = _decode(issuer.token(hpr_number=None, scopes=("varde/coordinator", "varde/scoring"),
                                  extra={"client_id": None, "helseid://claims/client/amr": "private_key_jwt"}),
                     issuer.jwks())
    assert HPR_NUMBER not in claims and ORGNR_CHILD not in claims and "cnf" not in claims and "client_id" not in claims
    assert claims["scope"] == ["varde/coordinator", "varde/scoring"]
    assert claims["helseid://claims/client/amr"] == "private_key_jwt"
    assert issuer.token() != issuer.token()  # fresh jti each time


def test_expired_and_not_yet_valid_tokens_fail(issuer):
    with pytest.raises(jwt.ExpiredSignatureError):
        _decode(issuer.token(lifetime=-60), issuer.jwks())
    future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    with pytest.raises(jwt.ImmatureSignatureError):
        _decode(issuer.token(not_before=future), issuer.jwks())
    with pytest.raises(jwt.InvalidAudienceError):
        _decode(issuer.token(audience="other-api"), issuer.jwks())


def test_token_signed_by_a_foreign_key_fails(issuer):
    other = TokenIssuer()
    with pytest.raises(jwt.InvalidSignatureError):  # claims kid key-1, but signed by another key
        _decode(issuer.token(key=other.key), issuer.jwks())
    with pytest.raises(KeyError):  # a kid the JWKS does not have
        _decode(issuer.token(kid="unknown"), issuer.jwks())


def test_forged_tokens_fail(issuer):
    claims = issuer.claims()
    for forged in (unsigned_token(claims, {"kid": "key-1"}), issuer.token(algorithm="none"),
                   hs256_token(claims, issuer.public_pem(), {"kid": "key-1"})):
        with pytest.raises(jwt.InvalidTokenError):
            _decode(forged, issuer.jwks())
    none = issuer.token(algorithm="none")
    assert _header(none)["alg"] == "none" and none.endswith(".")
    assert jwt.decode(none, options={"verify_signature": False})["iss"] == issuer.issuer


def test_rotation_drops_the_old_key_unless_kept():
    issuer = TokenIssuer()
    old_token = issuer.token()
    issuer.rotate()
    assert [k["kid"] for k in issuer.jwks()["keys"]] == ["key-2"]
    new_token = issuer.token()
    assert _header(new_token)["kid"] == "key-2"
    _decode(new_token, issuer.jwks())
    with pytest.raises(KeyError):
        _decode(old_token, issuer.jwks())
    new_key = jwt.PyJWKSet.from_dict(issuer.jwks())["key-2"]
    with pytest.raises(jwt.InvalidSignatureError):  # even tried against the new key, the old token fails
        jwt.decode(old_token, new_key, algorithms=["RS256"], audience="varde-api")

    issuer.rotate("key-3", keep_old=True)
    assert [k["kid"] for k in issuer.jwks()["keys"]] == ["key-2", "key-3"]
    _decode(new_token, issuer.jwks())
    _decode(issuer.token(), issuer.jwks())


def test_write_jwks(issuer, tmp_path):
    path = issuer.write_jwks(tmp_path / "jwks.json")
    assert json.loads(path.read_text()) == issuer.jwks()


# --- DPoP ------------------------------------------------------------------------------------------------------------


def test_dpop_proof_verifies_with_its_embedded_key():
    key = DPoPKey()
    access_token = TokenIssuer().token(dpop_jkt=key.thumbprint())
    proof = key.proof("POST", "https://varde.test/varde.v1.Flags/ClaimFlag", access_token=access_token)
    header = _header(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert header["jwk"] == key.public_jwk and set(header["jwk"]) == {"kty", "crv", "x", "y"}
    claims = jwt.decode(proof, jwt.PyJWK(header["jwk"]), algorithms=["ES256"])
    assert claims["htm"] == "POST" and claims["htu"] == "https://varde.test/varde.v1.Flags/ClaimFlag"
    assert abs(claims["iat"] - dt.datetime.now(dt.UTC).timestamp()) < 60 and claims["jti"]
    assert claims["ath"] == access_token_hash(access_token)
    assert jwk_thumbprint(header["jwk"]) == jwt.decode(access_token, options={"verify_signature": False})["cnf"]["jkt"]


def test_dpop_ath_is_sha256_of_the_token():
    # RFC 9449 section 7.1 example: this access token hashes to this ath
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    assert "ath" not in jwt.decode(DPoPKey().proof(), options={"verify_signature": False})


def test_dpop_proof_options():
    key = DPoPKey()
    proof = key.proof("GET", iat=1_700_000_000, jti="fixed", typ=None, extra={"nonce": "n-1", "htu": None})
    assert "typ" not in _header(proof)
    claims = jwt.decode(proof, jwt.PyJWK(key.public_jwk), algorithms=["ES256"], options={"verify_iat": False})
    assert claims == {"jti": "fixed", "htm": "GET", "iat": 1_700_000_000, "nonce": "n-1"}
    assert key.proof() != key.proof()  # a fresh jti each time, so a server can refuse replays
    private = serialization.load_pem_private_key(key.private_key_pem(), password=None)
    assert private.public_key().public_numbers() == key.key.public_key().public_numbers()


def test_dpop_proof_with_someone_elses_jwk_fails():
    key, other = DPoPKey(), DPoPKey()
    proof = key.proof(jwk=other.public_jwk)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(proof, jwt.PyJWK(_header(proof)["jwk"]), algorithms=["ES256"])


# --- JWK thumbprints -------------------------------------------------------------------------------------------------


RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4"
         "n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgd"
         "AZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur"
         "-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_rfc7638_example_thumbprint():
    assert jwk_thumbprint(RFC7638_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_rfc9449_example_ec_thumbprint():
    # the EC P-256 key of RFC 9449's example proofs and the cnf.jkt its section 6.1 gives for it; pins the member
    # order for EC keys (the RSA vector above is in sorted order already, whatever the code does)
    jwk = {"kty": "EC", "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
           "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA", "crv": "P-256"}
    assert jwk_thumbprint(jwk) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def test_ec_thumbprint_uses_only_the_required_members():
    key = DPoPKey()
    jwk = key.public_jwk
    reordered = {"y": jwk["y"], "x": jwk["x"], "kid": "k", "use": "sig", "crv": "P-256", "kty": "EC"}
    assert jwk_thumbprint(reordered) == key.thumbprint() == jwk_thumbprint(jwk)
    assert len(key.thumbprint()) == 43 and "=" not in key.thumbprint()
    assert DPoPKey().thumbprint() != key.thumbprint()
