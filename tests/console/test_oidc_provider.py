"""The test OpenID provider (tests/console/oidc_provider.py) over real HTTP, driven by hand with urllib: discovery,
the code flow with PKCE, both ways of client authentication, and every knob for negative tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest

from tests.console.oidc_provider import (
    ASSERTION_TYPE,
    HPR_NUMBER,
    SECURITY_LEVEL,
    Provider,
    generate_rsa_key_pem,
    pkce_pair,
    subject_for,
)

CLIENT_ID = "varde-console"
SECRET = "s3cret"
REDIRECT = "http://127.0.0.1:9/oidc/callback"
USERS = {
    "anne": {"name": "Anne Hansen", HPR_NUMBER: "123456", SECURITY_LEVEL: "4", "varde_role": "coordinator",
             "varde_unit": "974600951"},
    "per": {"name": "Per Olsen", HPR_NUMBER: "654321", SECURITY_LEVEL: "4", "varde_role": "viewer",
            "varde_unit": "974600951"},
}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def call(url: str, form: dict | None = None) -> tuple[int, dict, dict | None]:
    """GET (or POST a form to) url without following redirects: (status, headers, JSON body or None)."""
    data = urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _OPENER.open(request, timeout=5) as response:
            status, headers, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        status, headers, body = e.code, dict(e.headers), e.read()
    return status, headers, (json.loads(body) if body else None)


@pytest.fixture(scope="module")
def client_key():
    return generate_rsa_key_pem()  # (private PEM, public PEM)


@pytest.fixture(scope="module")
def provider(client_key):
    with Provider(client_public_key_pem=client_key[1], users=USERS) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_knobs(request):
    if "provider" in request.fixturenames:
        p = request.getfixturevalue("provider")
        p.tamper, p.deny_next, p.next_user = {}, None, "anne"
        p.requests.clear()


def authorize(provider: Provider, **overrides) -> tuple[int, dict, dict | None, dict]:
    """An authorization request; returns (status, Location query, JSON body, the request's parameters + verifier)."""
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
              "scope": "openid profile helseid://scopes/hpr/hpr_number", "state": uuid.uuid4().hex,
              "nonce": uuid.uuid4().hex, "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    status, headers, body = call(provider.authorization_endpoint + "?" + urlencode(params))
    query = {}
    if "Location" in headers:
        location = urlsplit(headers["Location"])
        assert location._replace(query="").geturl() == REDIRECT
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
    return status, query, body, {**params, "code_verifier": verifier}


def secret_form(sent: dict, code: str, **overrides) -> dict:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": sent["redirect_uri"],
            "code_verifier": sent["code_verifier"], "client_id": CLIENT_ID, "client_secret": SECRET}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def assertion(private_pem: bytes, audience: str, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": audience, "iat": now, "nbf": now, "exp": now + 60,
              "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, private_pem, algorithm="RS256")


def code_for(provider: Provider, **overrides) -> tuple[str, dict]:
    status, query, body, sent = authorize(provider, **overrides)
    assert status == 302, body
    assert query["state"] == sent["state"]
    return query["code"], sent


def last_token_request(provider: Provider) -> dict:
    return [r for r in provider.requests if r["path"] == "/token"][-1]


def verify_id_token(provider: Provider, token: str) -> dict:
    key = jwt.PyJWKClient(provider.jwks_uri).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=CLIENT_ID, issuer=provider.issuer,
                      options={"require": ["iss", "sub", "aud", "exp", "iat"]})


# --- documents ---------------------------------------------------------------------------------------------------


def test_discovery_and_jwks(provider):
    status, headers, doc = call(provider.issuer + "/.well-known/openid-configuration")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert doc["issuer"] == provider.issuer and provider.issuer.startswith("http://127.0.0.1:")
    for name, path in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                       ("jwks_uri", "/jwks"), ("end_session_endpoint", "/endsession")]:
        assert doc[name] == provider.issuer + path
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == ["private_key_jwt", "client_secret_post"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "openid" in doc["scopes_supported"]

    status, _, jwks = call(doc["jwks_uri"])
    assert status == 200
    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and key["use"] == "sig" and key["alg"] == "RS256" and key["kid"]
    assert "d" not in key and "p" not in key  # public only
    assert jwt.PyJWK(key).key.key_size == 2048

    assert call(provider.end_session_endpoint)[0] == 200
    assert call(provider.issuer + "/nowhere")[0] == 404
    assert call(provider.token_endpoint)[0] == 405  # GET


# --- the code flow -----------------------------------------------------------------------------------------------


def test_code_flow_with_client_secret(provider):
    code, sent = code_for(provider)
    status, headers, answer = call(provider.token_endpoint, secret_form(sent, code))
    assert status == 200, answer
    assert headers["Cache-Control"] == "no-store"
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 300

    claims = verify_id_token(provider, answer["id_token"])
    assert claims["nonce"] == sent["nonce"]
    assert claims["sub"] == subject_for("anne")
    assert claims["name"] == "Anne Hansen"
    assert claims[SECURITY_LEVEL] == "4" and claims[HPR_NUMBER] == "123456"
    assert claims["varde_role"] == "coordinator" and claims["varde_unit"] == "974600951"
    assert claims["exp"] - claims["iat"] == 300 and claims["auth_time"] <= claims["iat"]
    assert jwt.get_unverified_header(answer["id_token"])["kid"]

    access_key = jwt.PyJWKClient(provider.jwks_uri).get_signing_key_from_jwt(answer["access_token"])
    access = jwt.decode(answer["access_token"], access_key.key, algorithms=["RS256"], audience="varde",
                        issuer=provider.issuer)
    assert access["sub"] == claims["sub"] and access[HPR_NUMBER] == "123456" and access["client_id"] == CLIENT_ID

    # the log shows what came in, without the secrets
    authorize_entry, token_entry = [r for r in provider.requests if r["path"] != "/jwks"]
    assert authorize_entry["path"] == "/authorize" and authorize_entry["status"] == 302
    assert authorize_entry["user"] == "anne" and authorize_entry["params"]["code_challenge_method"] == "S256"
    assert token_entry["path"] == "/token" and token_entry["status"] == 200
    assert token_entry["client_auth"] == "client_secret_post"
    assert token_entry["params"]["client_secret"] == "[redacted]"
    assert SECRET not in json.dumps(provider.requests) and code not in json.dumps(provider.requests)


def test_next_user_chooses_who_signs_in(provider):
    provider.next_user = "per"
    code, sent = code_for(provider)
    claims = verify_id_token(provider, call(provider.token_endpoint, secret_form(sent, code))[2]["id_token"])
    assert claims["sub"] == subject_for("per") != subject_for("anne")
    assert claims["varde_role"] == "viewer"


def test_existing_query_of_the_redirect_uri_is_kept(provider):
    status, query, _, sent = authorize(provider, redirect_uri=REDIRECT + "?next=%2Fflags")
    assert status == 302 and query["next"] == "/flags" and query["state"] == sent["state"] and query["code"]
    code = query["code"]
    assert call(provider.token_endpoint, secret_form(sent, code))[0] == 200


def test_private_key_jwt(provider, client_key):
    private, _ = client_key
    for audience in (provider.token_endpoint, provider.issuer):
        code, sent = code_for(provider)
        form = secret_form(sent, code, client_secret=None, client_id=None, client_assertion_type=ASSERTION_TYPE,
                           client_assertion=assertion(private, audience))
        status, _, answer = call(provider.token_endpoint, form)
        assert status == 200, answer
        assert verify_id_token(provider, answer["id_token"])["nonce"] == sent["nonce"]
        assert last_token_request(provider)["client_auth"] == "private_key_jwt"
        assert last_token_request(provider)["params"]["client_assertion"] == "[redacted]"

    # the same assertion (jti) twice
    reused = assertion(private, provider.token_endpoint)
    code, sent = code_for(provider)
    form = secret_form(sent, code, client_secret=None, client_assertion_type=ASSERTION_TYPE, client_assertion=reused)
    assert call(provider.token_endpoint, form)[0] == 200
    code, sent = code_for(provider)
    form = secret_form(sent, code, client_secret=None, client_assertion_type=ASSERTION_TYPE, client_assertion=reused)
    status, _, answer = call(provider.token_endpoint, form)
    assert (status, answer["error"]) == (400, "invalid_client") and "jti" in answer["error_description"]

    other_private, _ = generate_rsa_key_pem()
    bad = {
        "another key": assertion(other_private, provider.token_endpoint),
        "wrong audience": assertion(private, "https://helseid-sts.nhn.no/connect/token"),
        "expired": assertion(private, provider.token_endpoint, iat=int(time.time()) - 120,
                             nbf=int(time.time()) - 120, exp=int(time.time()) - 60),
        "no jti": assertion(private, provider.token_endpoint, jti=None),
        "another issuer": assertion(private, provider.token_endpoint, iss="someone", sub="someone"),
        "sub not the client": assertion(private, provider.token_endpoint, sub="someone"),
        "HS256": jwt.encode({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": provider.token_endpoint,
                             "exp": int(time.time()) + 60, "jti": "x"}, "k" * 32, algorithm="HS256"),
    }
    for why, token in bad.items():
        code, sent = code_for(provider)
        form = secret_form(sent, code, client_secret=None, client_assertion_type=ASSERTION_TYPE,
                           client_assertion=token)
        status, _, answer = call(provider.token_endpoint, form)
        assert (status, answer["error"]) == (400, "invalid_client"), why

    code, sent = code_for(provider)
    form = secret_form(sent, code, client_secret=None, client_assertion_type="urn:wrong",
                       client_assertion=assertion(private, provider.token_endpoint))
    assert call(provider.token_endpoint, form)[2]["error"] == "invalid_client"


def test_a_code_is_single_use(provider):
    code, sent = code_for(provider)
    assert call(provider.token_endpoint, secret_form(sent, code))[0] == 200
    status, _, answer = call(provider.token_endpoint, secret_form(sent, code))
    assert (status, answer["error"]) == (400, "invalid_grant")
    assert call(provider.token_endpoint, secret_form(sent, "made-up"))[2]["error"] == "invalid_grant"


def test_pkce_is_checked(provider):
    code, sent = code_for(provider)
    other_verifier, _ = pkce_pair()
    status, _, answer = call(provider.token_endpoint, secret_form(sent, code, code_verifier=other_verifier))
    assert (status, answer["error"]) == (400, "invalid_grant")
    # the failed attempt used the code up
    assert call(provider.token_endpoint, secret_form(sent, code))[2]["error"] == "invalid_grant"

    code, sent = code_for(provider)
    assert call(provider.token_endpoint, secret_form(sent, code, code_verifier=None))[2]["error"] == "invalid_grant"


def test_the_code_is_bound_to_the_redirect_uri_and_expires(provider):
    code, sent = code_for(provider)
    answer = call(provider.token_endpoint, secret_form(sent, code, redirect_uri=REDIRECT + "x"))[2]
    assert answer["error"] == "invalid_grant"

    provider.code_lifetime = 0
    try:
        code, sent = code_for(provider)
        time.sleep(0.01)
        answer = call(provider.token_endpoint, secret_form(sent, code))[2]
    finally:
        provider.code_lifetime = 60.0
    assert answer["error"] == "invalid_grant" and "expired" in answer["error_description"]


def test_client_authentication_is_required(provider):
    for overrides in ({"client_secret": "wrong"}, {"client_secret": None}, {"client_id": "another-client"},
                      {"client_secret": None, "client_id": None}):
        code, sent = code_for(provider)
        status, _, answer = call(provider.token_endpoint, secret_form(sent, code, **overrides))
        assert (status, answer["error"]) == (400, "invalid_client"), overrides
    code, sent = code_for(provider)
    form = secret_form(sent, code, grant_type="password")
    assert call(provider.token_endpoint, form)[2]["error"] == "unsupported_grant_type"


def test_secret_authentication_can_be_switched_off(client_key):
    with Provider(client_secret=None, client_public_key_pem=client_key[1]) as p:
        code, sent = code_for(p)
        assert call(p.token_endpoint, secret_form(sent, code, client_secret="s3cret"))[2]["error"] == "invalid_client"


# --- knobs -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("knob, error", [
    ("aud", jwt.InvalidAudienceError),
    ("iss", jwt.InvalidIssuerError),
    ("expired", jwt.ExpiredSignatureError),
    ("signature", jwt.InvalidSignatureError),
    ("alg_none", jwt.InvalidAlgorithmError),
])
def test_tamper_makes_an_id_token_that_pyjwt_rejects(provider, knob, error):
    provider.tamper = {knob: True}
    code, sent = code_for(provider)
    answer = call(provider.token_endpoint, secret_form(sent, code))[2]
    with pytest.raises(error):
        verify_id_token(provider, answer["id_token"])
    assert provider.tamper == {}  # one token only
    assert last_token_request(provider)["tamper"] == [knob]
    code, sent = code_for(provider)
    verify_id_token(provider, call(provider.token_endpoint, secret_form(sent, code))[2]["id_token"])


def test_tamper_nonce(provider):
    provider.tamper = {"nonce": True}
    code, sent = code_for(provider)
    claims = verify_id_token(provider, call(provider.token_endpoint, secret_form(sent, code))[2]["id_token"])
    assert claims["nonce"] and claims["nonce"] != sent["nonce"]
    code, sent = code_for(provider)
    claims = verify_id_token(provider, call(provider.token_endpoint, secret_form(sent, code))[2]["id_token"])
    assert claims["nonce"] == sent["nonce"]


def test_an_unknown_tamper_knob_is_an_error(provider):
    provider.tamper = {"typo": True}
    code, sent = code_for(provider)
    status, _, answer = call(provider.token_endpoint, secret_form(sent, code))
    assert status == 500 and "typo" in answer["error_description"]


def test_deny_next(provider):
    provider.deny_next = "access_denied"
    status, query, _, sent = authorize(provider)
    assert status == 302 and query == {"error": "access_denied", "state": sent["state"]}
    assert provider.deny_next is None
    status, query, _, _ = authorize(provider)
    assert status == 302 and "code" in query


# --- bad authorization requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, error", [
    ({"client_id": "someone-else"}, "unauthorized_client"),
    ({"client_id": None}, "invalid_request"),
    ({"redirect_uri": "javascript:alert(1)"}, "invalid_request"),
    ({"redirect_uri": "/relative"}, "invalid_request"),
    ({"redirect_uri": REDIRECT + "#frag"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "profile"}, "invalid_scope"),
    ({"scope": "openid no-such-scope"}, "invalid_scope"),
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge": "short"}, "invalid_request"),
])
def test_a_bad_authorization_request_is_a_400_not_a_redirect(provider, overrides, error):
    status, query, body, _ = authorize(provider, **overrides)
    assert (status, body["error"], query) == (400, error, {})


def test_registered_redirect_uris_are_matched_exactly():
    with Provider(redirect_uris=[REDIRECT]) as p:
        assert authorize(p)[0] == 302
        assert authorize(p, redirect_uri=REDIRECT + "/x")[0] == 400
