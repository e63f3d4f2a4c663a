"""Signing in to the console through an OpenID Connect provider the test starts itself (tests/console/
oidc_provider.py, HelseID-like): the code flow with PKCE, both ways of client authentication, and every way a
sign-in must fail; over real HTTP, on both stores."""

from __future__ import annotations

import copy
import urllib.parse

import httpx
import pytest

from tests.console.browser import browser, context_factory, no_violations  # noqa: F401  (fixtures)
from tests.console.oidc_provider import HPR_NUMBER, SECURITY_LEVEL, Provider, generate_rsa_key_pem
from tests.console.support import ConsoleServer
from tests.server.stores import new_postgres_database
from varde.server.config import ConfigError, Settings

UNIT = "974600951"
USERS = {
    "anne": {"name": "Anne Hansen", SECURITY_LEVEL: "4", HPR_NUMBER: "123456", "varde_role": ["koordinator"],
             "varde_unit": UNIT},
    "low": {"name": "Lav Nivå", SECURITY_LEVEL: "3", HPR_NUMBER: "222222", "varde_role": "koordinator",
            "varde_unit": UNIT},
    "norole": {"name": "Uten Rolle", SECURITY_LEVEL: "4", HPR_NUMBER: "333333", "varde_unit": UNIT},
    "nounit": {"name": "Uten Enhet", SECURITY_LEVEL: "4", HPR_NUMBER: "444444", "varde_role": "leder"},
    "boss": {"name": "Ada Leder", SECURITY_LEVEL: "4", HPR_NUMBER: "555555", "varde_role": ["koordinator", "leder"],
             "varde_unit": UNIT},
}


def config_file(tmp_path, issuer: str, *, key_pem: bytes | None = None, extra: str = "") -> str:
    auth = f'client_secret_file = "{tmp_path / "secret"}"'
    (tmp_path / "secret").write_text("s3cret\n")
    if key_pem is not None:
        (tmp_path / "client.pem").write_bytes(key_pem)
        auth = f'private_key_file = "{tmp_path / "client.pem"}"'
    path = tmp_path / "oidc.toml"
    path.write_text(f'''
issuer = "{issuer}"
client_id = "varde-console"
{auth}
username_claim = "{HPR_NUMBER}"
username_prefix = "hpr:"
{extra}
[roles]
claim = "varde_role"
viewer = ["leser"]
coordinator = ["koordinator"]
admin = ["leder"]
[unit]
claim = "varde_unit"
''')
    return str(path)


@pytest.fixture(params=["sqlite", "postgresql"])
def signed(request, tmp_path):
    """A provider and a console that trusts it (client secret), on each store."""
    provider = Provider(users=copy.deepcopy(USERS))  # a test may change a user's claims
    issuer = provider.start()
    drop = queue = None
    if request.param == "postgresql":
        queue, drop = new_postgres_database()
    server = ConsoleServer(queue, console_oidc=config_file(tmp_path, issuer))
    yield provider, server
    server.stop()
    provider.stop()
    if drop:
        drop()


def sign_in(server, provider, user: str | None = None, *, keep_state: bool = True):
    """The browser's round trip: console -> provider -> console. Returns (session, final response)."""
    if user:
        provider.next_user = user
    s = server.session()
    begin = s.get("/login/oidc?next=/flags/rows")
    assert begin.status_code == 303, begin.text[:300]
    authorize = httpx.get(begin.headers["location"], follow_redirects=False, timeout=10)
    assert authorize.status_code == 302, authorize.text
    back = urllib.parse.urlsplit(authorize.headers["location"])
    if not keep_state:
        s.cookies.pop("varde_oidc_state", None)
    return s, s.get(f"{back.path}?{back.query}")


def test_code_flow_with_pkce_signs_in_with_unit_role_and_name(signed):
    provider, server = signed
    s, done = sign_in(server, provider, "anne")
    assert done.status_code == 303 and done.headers["location"] == "/flags/rows"
    assert "varde_session" in s.cookies and "varde_oidc_state" not in s.cookies
    page = s.get("/")
    assert page.status_code == 200 and "Anne Hansen (koordinator)" in page.text
    user = server.store.console_user("hpr:123456")
    assert (user.unit, user.role, user.password_hash) == (UNIT, "coordinator", "!")
    authorize = next(r for r in provider.requests if r["path"] == "/authorize")
    assert authorize["params"]["code_challenge_method"] == "S256" and authorize["params"]["nonce"]
    token = next(r for r in provider.requests if r["path"] == "/token")
    assert token["client_auth"] == "client_secret_post" and token["status"] == 200
    assert any(r.action == "LOGIN" and r.detail == "coordinator oidc" for r in server.store.audit_log())
    # such a user has no password to guess
    r = server.session().post("/login", {"username": "hpr:123456", "password": "!"}, csrf=False)
    assert r.status_code == 401


def test_the_highest_role_in_the_claims_counts_and_changes_follow_the_provider(signed):
    provider, server = signed
    s, _ = sign_in(server, provider, "boss")
    assert server.store.console_user("hpr:555555").role == "admin"
    assert s.get("/audit").status_code == 200
    provider.users["boss"]["varde_role"] = ["koordinator"]
    sign_in(server, provider, "boss")
    assert server.store.console_user("hpr:555555").role == "coordinator"


@pytest.mark.parametrize("user, status, says", [
    ("low", 403, "for lavt sikkerhetsnivå"),
    ("norole", 403, "ingen rolle i Varde"),
    ("nounit", 403, "hvilken enhet"),
])
def test_claims_that_do_not_qualify_are_refused(signed, user, status, says):
    provider, server = signed
    s, done = sign_in(server, provider, user)
    assert done.status_code == status and says in done.text
    assert "varde_session" not in s.cookies
    assert s.get("/").status_code == 303


@pytest.mark.parametrize("knob", ["nonce", "aud", "iss", "expired", "signature", "alg_none"])
def test_a_token_that_does_not_check_out_is_refused(signed, knob):
    provider, server = signed
    provider.tamper = {knob: True}
    s, done = sign_in(server, provider, "anne")
    assert done.status_code == 401 and "kunne ikke godtas" in done.text
    assert "varde_session" not in s.cookies


def test_state_must_come_back_to_the_same_browser_and_only_once(signed):
    provider, server = signed
    s, done = sign_in(server, provider, "anne", keep_state=False)
    assert done.status_code == 401 and "annen nettleser" in done.text
    # a callback replayed with its state cookie: the state was used up by the first return
    s = server.session()
    begin = s.get("/login/oidc")
    back = urllib.parse.urlsplit(httpx.get(begin.headers["location"], follow_redirects=False).headers["location"])
    state = s.cookies["varde_oidc_state"]
    assert s.get(f"{back.path}?{back.query}").status_code == 303
    again = server.session()
    again.cookies["varde_oidc_state"] = state
    replayed = again.get(f"{back.path}?{back.query}")
    assert replayed.status_code == 401 and "varde_session" not in again.cookies
    assert server.session().get("/login/oidc/callback?code=abc&state=abc").status_code == 401


def test_cancel_at_the_provider_and_a_provider_that_is_down(signed):
    provider, server = signed
    provider.deny_next = "access_denied"
    _, done = sign_in(server, provider, "anne")
    assert done.status_code == 401 and "avbrutt" in done.text
    provider.stop()
    server.console.config.oidc._discovery = None  # as after its hour: the discovery document is fetched again
    r = server.session().get("/login/oidc")
    assert r.status_code == 502 and "svarer ikke" in r.text


def test_private_key_jwt_client_authentication(tmp_path):
    private_pem, public_pem = generate_rsa_key_pem()
    with Provider(users=USERS, client_secret=None, client_public_key_pem=public_pem) as provider:
        server = ConsoleServer(console_oidc=config_file(tmp_path, provider.issuer, key_pem=private_pem))
        try:
            s, done = sign_in(server, provider, "anne")
            assert done.status_code == 303
            token = next(r for r in provider.requests if r["path"] == "/token")
            assert token["client_auth"] == "private_key_jwt"
            assert "Anne Hansen" in s.get("/").text
        finally:
            server.stop()


def test_the_login_page_offers_the_provider(signed):
    _, server = signed
    page = server.session().get("/login").text
    assert 'id="oidc"' in page and "Logg inn med HelseID" in page


def test_a_bad_configuration_fails_at_start(tmp_path):
    (tmp_path / "secret").write_text("x")
    cases = {
        'client_id = "x"\n': "issuer",
        'issuer = "https://idp.example"\nclient_id = "x"\n[unit]\nclaim = "u"\n': "exactly one of",
        f'issuer = "https://idp.example"\nclient_id = "x"\nclient_secret_file = "{tmp_path / "secret"}"\n': "[unit]",
        'issuer = "http://idp.example"\nclient_id = "x"\n': "https://",
        "issuer = [": "not valid TOML",
    }
    for text, says in cases.items():
        path = tmp_path / "bad.toml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=says.replace("[", r"\[")):
            Settings.from_env({}, console_port="0", console_oidc=str(path))
    with pytest.raises(ConfigError, match="No such file"):
        Settings.from_env({}, console_port="0", console_oidc=str(tmp_path / "missing.toml"))


def test_sign_in_with_the_provider_in_chromium(signed, context_factory):  # noqa: F811
    provider, server = signed
    provider.next_user = "anne"
    page = context_factory().new_page()
    page.goto(server.url + "/login")
    no_violations(page, "login page with the provider's button")
    page.focus("#oidc")
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/")
    assert "Anne Hansen (koordinator)" in page.inner_text("header")
