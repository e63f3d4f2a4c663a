"""Who may call what, over mutual TLS and over tokens: every role against every method of the contract, and every
way a credential can be wrong."""

from __future__ import annotations

import socket
import ssl
import time

import grpc
import pytest
from cryptography import x509

from tests.security_support import DPoPKey, TokenIssuer, hs256_token, unsigned_token
from tests.server.secured import SCOPES, UNIT_A, Secured
from varde._proto.varde.v1 import flags_pb2, observations_pb2, patients_pb2, scoring_pb2
from varde.clients.client import VardeError
from varde.server.auth import METHOD_ROLES, ROLES, AuthConfigError, load_auth_config

CONTRACT = [
    (f"/{service.full_name}/{method.name}", method)
    for module in (scoring_pb2, observations_pb2, flags_pb2, patients_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]
AUTH_CODES = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


@pytest.fixture(scope="module")
def secured():
    s = Secured()
    yield s
    s.stop()


def call(channel: grpc.Channel, name: str, method, metadata=()) -> grpc.StatusCode:
    """Call `name` with an empty request (valid protobuf for every message) and return the status code."""
    try:
        if method.client_streaming and method.server_streaming:
            for _ in channel.stream_stream(name)(iter([b""]), timeout=2, metadata=metadata):
                break
        elif method.server_streaming:
            for _ in channel.unary_stream(name)(b"", timeout=2, metadata=metadata):
                break
        elif method.client_streaming:
            channel.stream_unary(name)(iter([b""]), timeout=2, metadata=metadata)
        else:
            channel.unary_unary(name)(b"", timeout=2, metadata=metadata)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def test_every_method_of_the_contract_has_a_role_mapping():
    names = {name for name, _ in CONTRACT}
    assert len(names) == 14
    assert names == set(METHOD_ROLES), "a method without a role mapping is refused to everyone: map it"
    assert all(METHOD_ROLES[n] <= set(ROLES) and METHOD_ROLES[n] for n in names)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("how", ["certificate", "token"])
def test_each_role_may_call_its_methods_and_no_other(secured, role, how):
    if how == "certificate":
        channel, metadata = secured.channel(secured.certs[role]), ()
    else:
        channel = secured.channel()  # an unmapped certificate: the token alone says who this is
        metadata = (("authorization", f"Bearer {secured.token(role)}"),)
    with channel:
        for name, method in CONTRACT:
            code = call(channel, name, method, metadata)
            if role in METHOD_ROLES[name]:
                assert code not in AUTH_CODES, (role, name, code)
            else:
                assert code == grpc.StatusCode.PERMISSION_DENIED, (role, name, code)


def test_no_credential_is_unauthenticated_on_every_method_and_health_stays_open(secured):
    with secured.channel() as channel:  # mutual TLS with a certificate the auth config does not map
        for name, method in CONTRACT:
            assert call(channel, name, method) == grpc.StatusCode.UNAUTHENTICATED, name
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_refusals_say_why(secured):
    with secured.channel() as channel:
        with pytest.raises(grpc.RpcError) as info:
            channel.unary_unary("/varde.v1.Flags/ListFlags")(b"", timeout=5)
        assert "CN=anonymous" in info.value.details() and "not in the auth config" in info.value.details()
    with secured.token_client("device") as c, pytest.raises(VardeError) as info:
        c.list_flags()
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert info.value.details == "ListFlags needs role coordinator or operator; you have device"


def _bearer(secured, token):
    with secured.channel() as channel:
        return call(channel, "/varde.v1.Flags/ListFlags", flags_pb2.DESCRIPTOR.services_by_name["Flags"]
                    .methods_by_name["ListFlags"], (("authorization", f"Bearer {token}"),))


def test_bad_tokens_are_unauthenticated(secured):
    issuer = secured.issuer
    foreign = TokenIssuer(kid=issuer.kid)  # same key id, another key: a forged signature
    claims = issuer.claims(scopes=(SCOPES["coordinator"],))
    bad = {
        "expired": issuer.token(lifetime=-120),
        "not yet valid": issuer.token(not_before=time.time() + 3600),
        "other audience": issuer.token(audience="another-api"),
        "other issuer": issuer.token(extra={"iss": "https://evil.example"}),
        "forged signature": foreign.token(),
        "unknown key id": issuer.token(kid="nobody"),
        "alg none": unsigned_token(claims, {"alg": "none", "kid": issuer.kid}),
        "HS256 with the public key": hs256_token(claims, issuer.public_pem(), {"kid": issuer.kid}),
        "no exp": issuer.token(extra={"exp": None}),
        "garbage": "not.a.jwt",
    }
    for what, token in bad.items():
        assert _bearer(secured, token) == grpc.StatusCode.UNAUTHENTICATED, what
    assert _bearer(secured, issuer.token(lifetime=-10)) == grpc.StatusCode.OK  # within the 30 s leeway
    with secured.channel() as channel:
        two = (("authorization", f"Bearer {issuer.token()}"), ("authorization", f"Bearer {issuer.token()}"))
        with pytest.raises(grpc.RpcError) as info:
            channel.unary_unary("/varde.v1.Flags/ListFlags")(b"", timeout=5, metadata=two)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as info:
            channel.unary_unary("/varde.v1.Flags/ListFlags")(
                b"", timeout=5, metadata=(("authorization", f"DPoP {issuer.token()}"),))
        assert "takes 'Bearer <token>'" in info.value.details()


def test_security_level_and_unit_come_from_the_token(secured):
    low = secured.token("coordinator", security_level="3")
    with secured.token_client(token=low) as c, pytest.raises(VardeError) as info:
        c.list_flags()
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED and "security level (3)" in info.value.details
    machine = secured.token("device", security_level="1", hpr=None)
    with secured.token_client(token=machine) as c:  # machines need no level
        assert c.server_info().max_message_bytes > 0
    no_unit = secured.issuer.token(extra={"helseid://claims/client/claims/orgnr_parent": None})
    assert _bearer(secured, no_unit) == grpc.StatusCode.PERMISSION_DENIED
    child = secured.issuer.token(orgnr_child="912345678")
    with secured.token_client(token=child) as c:
        assert c.list_flags() == []  # orgnr_child wins: a unit of its own


def test_rotated_keys_are_picked_up_and_the_old_ones_refused():
    s = Secured()
    try:
        old = s.token("coordinator")
        assert _bearer(s, old) == grpc.StatusCode.OK
        s.issuer.rotate("key-2")
        s.issuer.write_jwks(s.jwks)
        assert _bearer(s, s.token("coordinator")) == grpc.StatusCode.OK
        assert _bearer(s, old) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        s.stop()


@pytest.fixture(scope="module")
def dpop():
    s = Secured(scheme="DPoP")
    yield s
    s.stop()


def test_dpop_bound_tokens(dpop):
    with dpop.token_client("coordinator") as c:  # the client signs a fresh proof per call
        assert c.list_flags() == [] and c.list_flags() == []
    key = DPoPKey()
    token = dpop.token("coordinator", dpop_jkt=key.thumbprint())
    url = f"https://{dpop.address}/varde.v1.Flags/ListFlags"
    method = flags_pb2.DESCRIPTOR.services_by_name["Flags"].methods_by_name["ListFlags"]

    def with_proof(proof, scheme="DPoP", tok=token):
        metadata = [("authorization", f"{scheme} {tok}")] + ([("dpop", proof)] if proof else [])
        with dpop.channel() as channel:
            return call(channel, "/varde.v1.Flags/ListFlags", method, metadata)

    good = key.proof(htu=url, access_token=token)
    assert with_proof(good) == grpc.StatusCode.OK
    refused = {
        "replayed": good,
        "missing": None,
        "other method": key.proof(htu=url.replace("ListFlags", "ClaimFlag"), access_token=token),
        "GET": key.proof(htm="GET", htu=url, access_token=token),
        "other token": key.proof(htu=url, access_token="another-token"),
        "no ath": key.proof(htu=url),
        "stale": key.proof(htu=url, access_token=token, iat=time.time() - 600),
        "other key": DPoPKey().proof(htu=url, access_token=token),
        "wrong typ": key.proof(htu=url, access_token=token, typ="JWT"),
        "embedded key is not the signer": key.proof(htu=url, access_token=token, jwk=DPoPKey().public_jwk),
    }
    for what, proof in refused.items():
        assert with_proof(proof) == grpc.StatusCode.UNAUTHENTICATED, what
    fresh = key.proof(htu=url, access_token=token)
    assert with_proof(fresh, scheme="Bearer") == grpc.StatusCode.UNAUTHENTICATED  # one scheme per port
    unbound = dpop.token("coordinator")
    assert with_proof(key.proof(htu=url, access_token=unbound), tok=unbound) == grpc.StatusCode.UNAUTHENTICATED


def test_a_client_certificate_from_another_ca_cannot_connect(secured):
    stranger = secured.pki.other_ca().client("coordinator-1", organization=UNIT_A)
    with secured.channel(stranger) as channel, pytest.raises(grpc.RpcError) as info:
        channel.unary_unary("/varde.v1.Flags/ListFlags")(b"", timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    expired = secured.pki.expired_client("coordinator-1", organization=UNIT_A)
    with secured.channel(expired) as channel, pytest.raises(grpc.RpcError) as info:
        channel.unary_unary("/varde.v1.Flags/ListFlags")(b"", timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(secured.address) as plain, pytest.raises(grpc.RpcError):
        plain.unary_unary("/varde.v1.Flags/ListFlags")(b"", timeout=5)


def _served_serial(s: Secured) -> int:
    ctx = ssl.create_default_context(cafile=str(s.pki.ca_path))
    cert = s.certs["operator"]
    ctx.load_cert_chain(str(cert.cert_path), str(cert.key_path))
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection(("localhost", s.port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


def test_a_renewed_server_certificate_is_served_without_a_restart(secured):
    before = _served_serial(secured)
    renewed = secured.pki.server()
    old = secured.server_cert
    old.cert_path.write_bytes(renewed.cert_pem)
    old.key_path.write_bytes(renewed.key_pem)
    deadline = time.monotonic() + 10
    while _served_serial(secured) == before:
        assert time.monotonic() < deadline, "the renewed certificate was not picked up"
        time.sleep(0.05)
    assert _served_serial(secured) == renewed.certificate.serial_number
    with secured.token_client("coordinator") as c:
        assert c.list_flags() == []
    # a half-written renewal (key not matching) keeps the certificate in use
    old.key_path.write_bytes(secured.pki.server().key_pem)
    time.sleep(0.05)
    assert _served_serial(secured) == renewed.certificate.serial_number


@pytest.mark.parametrize(("text", "needle"), [
    ("[tokens]\nissuer = 'x'\n", "audience is required"),
    ("[[certificates]]\nsubject = 'CN=a'\nroles = ['nurse']\nunit = '974600951'\n", "unknown role"),
    ("[[certificates]]\nsubject = 'CN=a'\nroles = ['device']\nunit = 'Oslo'\n", "9-digit organisation number"),
    ("[[certificates]]\nroles = ['device']\nunit = '974600951'\n", "exactly one of subject"),
    ("[roles.coordinator]\nmin_security_level = 7\n", "must be 0-4"),
    ("", "nobody could call"),
    ("[tokens\n", "not valid TOML"),
    ("[tokens]\nissuer='i'\naudience='a'\njwks='/nonexistent'\nscheme='DPoP'\nscopes={a='device'}\n",
     "neither an https:// URL nor a file"),
    ("[tokens]\nissuer='i'\naudience='a'\njwks='https://x/jwks'\nscheme='Both'\nscopes={a='device'}\n",
     "never both"),
    ("[tokens]\nissuer='i'\naudience='a'\njwks='https://x/jwks'\nscheme='Bearer'\nscopes={a='device'}\n"
     "algorithms=['HS256']\n", "not allowed"),
])
def test_a_bad_auth_config_stops_the_server_with_the_key_to_fix(tmp_path, text, needle):
    path = tmp_path / "auth.toml"
    path.write_text(text)
    with pytest.raises(AuthConfigError, match=needle):
        load_auth_config(path)


def test_jwks_from_an_https_url_is_cached_and_fetched_again_for_a_new_key(tmp_path, monkeypatch):
    """The issuer's keys over HTTPS (as HelseID publishes them), trusted through the test CA."""
    import http.server
    import json
    import threading

    from tests.security_support import Pki
    from varde.server.auth.config import AuthConfig, TokenConfig
    from varde.server.auth.tokens import AuthError, TokenVerifier

    pki = Pki(tmp_path)
    cert = pki.server()
    issuer = TokenIssuer()
    fetches = []

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            fetches.append(self.path)
            body = json.dumps(issuer.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert.cert_path, cert.key_path)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_path))
    try:
        url = f"https://localhost:{httpd.server_address[1]}/jwks"
        verifier = TokenVerifier(AuthConfig(path="test", tokens=TokenConfig(
            issuer=issuer.issuer, audience="varde-api", jwks=url, scheme="Bearer",
            scopes={"varde/coordinator": frozenset({"coordinator"})}, jwks_cooldown_seconds=0)))
        method = "/varde.v1.Flags/ListFlags"
        for _ in range(3):
            assert verifier.identify(f"Bearer {issuer.token()}", None, method).roles == {"coordinator"}
        assert len(fetches) == 1  # cached
        issuer.rotate("key-2")
        assert verifier.identify(f"Bearer {issuer.token()}", None, method).unit == UNIT_A
        assert len(fetches) == 2  # an unknown key id fetched the set again
        with pytest.raises(AuthError, match="signing keys|signature"):
            verifier.identify(f"Bearer {TokenIssuer(kid='key-2').token()}", None, method)
    finally:
        httpd.shutdown()


def test_a_token_remembered_as_verified_still_expires_and_still_needs_its_keys(tmp_path):
    from varde.server.auth.config import AuthConfig, TokenConfig
    from varde.server.auth.tokens import AuthError, TokenVerifier

    issuer = TokenIssuer()
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    verifier = TokenVerifier(AuthConfig(path="test", tokens=TokenConfig(
        issuer=issuer.issuer, audience="varde-api", jwks=str(jwks), scheme="Bearer", leeway_seconds=0,
        scopes={"varde/coordinator": frozenset({"coordinator"})})))
    # exp is whole seconds (now rounded down + lifetime): a 1 s token made at x.999 had expired by the first check.
    # Two seconds leave at least one; sleeping 2.2 s passes exp whatever the fraction.
    short = issuer.token(lifetime=2)
    assert verifier.identify(f"Bearer {short}", None, "/m").roles == {"coordinator"}
    assert verifier.identify(f"Bearer {short}", None, "/m").roles == {"coordinator"}  # remembered
    time.sleep(2.2)
    with pytest.raises(AuthError, match="expired"):
        verifier.identify(f"Bearer {short}", None, "/m")
    long = issuer.token()
    verifier.identify(f"Bearer {long}", None, "/m")
    issuer.rotate("key-2")
    time.sleep(0.01)  # a new modification time for the file
    issuer.write_jwks(jwks)
    with pytest.raises(AuthError, match="key-1"):
        verifier.identify(f"Bearer {long}", None, "/m")


def test_the_handler_kept_per_method_still_checks_every_call(secured):
    # The server keeps each method's wrapped handler after its first call (HandlerCache); who may call is still
    # decided per call: allowed, refused and allowed again on one method, over one channel.
    name = "/varde.v1.Observations/PushObservation"
    method = next(m for n, m in CONTRACT if n == name)
    allowed = (("authorization", f"Bearer {secured.token('device')}"),)
    with secured.channel() as channel:
        assert call(channel, name, method, allowed) not in AUTH_CODES
        assert call(channel, name, method) == grpc.StatusCode.UNAUTHENTICATED
        assert call(channel, name, method, (("authorization", f"Bearer {secured.token('operator')}"),)) \
            == grpc.StatusCode.PERMISSION_DENIED
        assert call(channel, name, method, allowed) not in AUTH_CODES
