"""The console over real HTTP: sign-in, sessions, CSRF and Origin checks, roles, take/release/resolve, the audit
trail, the event stream; on both stores."""

from __future__ import annotations

import csv
import io
import json
import threading
import time

import httpx
import pytest

from varde.server import clock

HIGH = {"patient_id": "01017012345", "resp_rate": 25, "spo2": 91, "on_oxygen": False, "systolic_bp": 95,
        "pulse": 120, "consciousness": "A", "temperature": 38.5}


def raise_flag(server, patient="01017012345", **values) -> int:
    with server.client() as c:
        a = c.push({**HIGH, "patient_id": patient, **values})
    assert a.flag_ids, "the push should have raised a flag"
    return min(a.flag_ids)


def test_every_page_needs_a_session(console):
    anon = console.session()
    for path in ("/", "/flags/1", "/patients/x", "/audit", "/audit.csv"):
        r = anon.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert anon.get("/events").status_code == 401
    assert anon.get("/flags/rows").status_code == 401
    r = anon.post("/flags/1/take", {"csrf_token": "x"}, csrf=False)
    assert r.status_code == 401
    assert anon.get("/login").status_code == 200


def test_login_sets_a_safe_cookie_and_a_new_session_each_time(console):
    console.user("anne")
    s = console.session()
    r = s.login("anne")
    cookie = r.headers["set-cookie"].lower()
    for attribute in ("httponly", "secure", "samesite=lax", "path=/"):
        assert attribute in cookie
    first = s.cookies["varde_session"]
    s.login("anne")
    assert s.cookies["varde_session"] != first
    stale = console.session()
    stale.cookies["varde_session"] = first
    assert stale.get("/").status_code == 303, "the old session id must be dead after a new login"
    page = s.get("/")
    assert page.status_code == 200 and "Anne" in page.text
    h = page.headers
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert "script-src 'self'" in h["content-security-policy"] and "unsafe-inline" not in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"


def test_wrong_password_and_rate_limit(console):
    console.user("anne")
    s = console.session()
    for _ in range(5):
        r = s.post("/login", {"username": "anne", "password": "wrong password!"}, csrf=False)
        assert r.status_code == 401 and "Feil brukernavn eller passord" in r.text
    r = s.post("/login", {"username": "anne", "password": "correct horse battery"}, csrf=False)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    actions = [row.action for row in console.store.audit_log()]
    assert actions.count("LOGIN_FAILED") == 5 and "LOGIN_REFUSED" in actions


def test_unknown_user_is_told_the_same_as_a_wrong_password(console):
    r = console.session().post("/login", {"username": "nobody", "password": "whatever password"}, csrf=False)
    assert r.status_code == 401 and "Feil brukernavn eller passord" in r.text


def test_post_needs_csrf_token_and_origin(console):
    console.user("anne")
    flag = raise_flag(console)
    s = console.session("anne")
    assert s.post(f"/flags/{flag}/take", {}, csrf=False).status_code == 403
    assert s.post(f"/flags/{flag}/take", {"csrf_token": "forged"}, csrf=False).status_code == 403
    token = s.csrf()
    r = s.post(f"/flags/{flag}/take", {"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert console.store.get(flag, _caller()).state == "OPEN"
    # the htmx header is accepted in place of the form field
    r = s.post(f"/flags/{flag}/take", {}, csrf=False, headers={"X-CSRF-Token": token})
    assert r.status_code == 303
    assert console.store.get(flag, _caller()).state == "CLAIMED"


def test_viewer_cannot_act(console):
    console.user("vera", role="viewer")
    flag = raise_flag(console)
    s = console.session("vera")
    assert s.get(f"/flags/{flag}").status_code == 200
    r = s.post(f"/flags/{flag}/take")
    assert r.status_code == 403 and "lesetilgang" in r.text
    assert s.get("/audit").status_code == 403
    assert console.store.get(flag, _caller()).state == "OPEN"


def test_take_first_wins_second_gets_409_with_who_and_when(console):
    console.user("anne", display="Anne Hansen")
    console.user("bjorn", display="Bjørn Berg")
    flag = raise_flag(console)
    a, b = console.session("anne"), console.session("bjorn")
    results = []
    barrier = threading.Barrier(2)
    tokens = {id(a): a.csrf(), id(b): b.csrf()}

    def take(s):
        barrier.wait()
        results.append(s.post(f"/flags/{flag}/take", {"csrf_token": tokens[id(s)]}))

    threads = [threading.Thread(target=take, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [303, 409]
    lost = next(r for r in results if r.status_code == 409)
    winner = console.store.get(flag, _caller()).claimed_by
    name = "Anne Hansen" if winner == "console:anne" else "Bjørn Berg"
    assert f"Allerede tatt av {name} kl." in lost.text


def test_release_needs_reason_resolve_needs_outcome_and_the_timeline_shows_all(console):
    console.user("anne", display="Anne Hansen")
    flag = raise_flag(console)
    s = console.session("anne")
    assert s.post(f"/flags/{flag}/take").status_code == 303
    r = s.post(f"/flags/{flag}/release", {"reason": "  "})
    assert r.status_code == 422 and "Skriv hvorfor" in r.text
    assert s.post(f"/flags/{flag}/release", {"reason": "wrong patient list"}).status_code == 303
    assert s.post(f"/flags/{flag}/take").status_code == 303
    assert s.post(f"/flags/{flag}/note", {"text": "called daughter"}).status_code == 303
    assert s.post(f"/flags/{flag}/escalate").status_code == 303
    r = s.post(f"/flags/{flag}/resolve", {"outcome": "MADE_UP"})
    assert r.status_code == 422
    assert s.post(f"/flags/{flag}/resolve", {"outcome": "VISITED", "note": "home visit, stable"}).status_code == 303
    page = s.get(f"/flags/{flag}?lang=en").text
    f = console.store.get(flag, _caller())
    assert f.state == "RESOLVED" and f.outcome == "VISITED" and f.escalation_level >= 1
    timeline = page[page.index("Timeline"):]
    order = [timeline.index(w) for w in ("Raised", "Taken", "Released", "Note", "Escalated", "Resolved")]
    assert order == sorted(order), timeline[:2000]
    assert "wrong patient list" in timeline and "called daughter" in timeline and "Visited" in timeline
    assert "Anne Hansen" in timeline


def test_resolving_a_flag_someone_else_holds_is_409(console):
    console.user("anne")
    console.user("bjorn")
    flag = raise_flag(console)
    console.session("anne").post(f"/flags/{flag}/take")
    r = console.session("bjorn").post(f"/flags/{flag}/resolve", {"outcome": "PHONED"})
    assert r.status_code == 409


def test_a_user_sees_only_their_units_flags(console):
    console.user("other", unit="999999999")
    flag = raise_flag(console)
    s = console.session("other")
    assert "01017012345" not in s.get("/").text
    assert s.get(f"/flags/{flag}").status_code == 404
    assert s.post(f"/flags/{flag}/take").status_code == 404


def test_list_sorted_filtered_and_counted(console):
    console.user("anne")
    high = raise_flag(console, "p-high")
    with console.client() as c:
        c.push({"patient_id": "p-medium", "spo2": 91, "pulse": 112})  # partial set: MEDIUM (5)
    s = console.session("anne")
    page = s.get("/").text
    assert page.index("p-high") < page.index("p-medium")
    only_medium = s.get("/?severity=MEDIUM").text
    assert "p-medium" in only_medium and "p-high" not in only_medium
    s.post(f"/flags/{high}/take")
    mine = s.get("/?mine=1").text
    assert "p-high" in mine and "p-medium" not in mine
    assert "Tatt: <strong>1</strong>" in s.get("/").text


def test_english_and_norwegian_formats(console):
    console.user("anne")
    raise_flag(console)
    nb = console.session("anne").get("/").text
    en = console.session("anne", lang="en").get("/?lang=en").text
    assert '<html lang="nb">' in nb and '<html lang="en">' in en
    assert "Flagg" in nb and "Høy" in nb and "Flags" in en and "High" in en
    stamp = r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}"
    import re
    assert re.search(stamp, nb) and re.search(stamp, en)


def test_patient_page_shows_set_trends_and_tables(console):
    console.user("anne")
    raise_flag(console, "p1")
    with console.client() as c:
        c.push({"patient_id": "p1", "temperature": 37.6, "source": "thermometer"})
    page = console.session("anne").get("/patients/p1").text
    assert "37,6" in page, "decimal comma in bokmål"
    assert page.count("<svg") >= 6 and 'role="img"' in page
    assert "<caption>" in page and 'scope="col"' in page
    en = console.session("anne", lang="en").get("/patients/p1?range=7d&lang=en").text
    assert "37.6" in en and "7 days" in en


def test_audit_page_and_csv(console):
    console.user("root", role="admin")
    console.user("anne")
    flag = raise_flag(console)
    console.session("anne").post(f"/flags/{flag}/take")
    admin = console.session("root")
    page = admin.get("/audit")
    assert page.status_code == 200 and "console:anne" in page.text
    r = admin.get("/audit.csv?user=anne")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and {row["actor"] for row in rows} == {"console:anne"}
    assert {"LOGIN", "CLAIM"} <= {row["action"] for row in rows}


def test_event_stream_nudges_within_two_seconds(console):
    console.user("anne")
    s = console.session("anne")
    got = []

    def listen():
        headers = s._headers()
        with httpx.stream("GET", console.url + "/events", headers=headers, timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("data:") and "changes" in line:
                    got.append((time.monotonic(), json.loads(line[5:])))
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    time.sleep(0.5)
    started = time.monotonic()
    raise_flag(console)
    t.join(5)
    assert got, "no event within 5 s"
    at, news = got[0]
    assert at - started <= 2.0 and news["high"] >= 1


def test_session_ends_when_idle(console):
    console.user("anne")
    s = console.session("anne")
    assert s.get("/").status_code == 200
    real = clock.now_us()
    clock.use(lambda: real + 31 * 60 * 1_000_000)
    try:
        assert s.get("/").status_code == 303
    finally:
        clock.use(None)


def test_htmx_rows_fragment(console):
    console.user("anne")
    raise_flag(console)
    r = console.session("anne").get("/flags/rows")
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="flag-rows"') and "<html" not in r.text


def _caller():
    from varde.server.store.base import Caller
    return Caller("test")


@pytest.fixture(autouse=True)
def _reset_clock():
    yield
    clock.use(None)


def test_event_stream_ends_cleanly_on_shutdown(console_sqlite):
    server = console_sqlite
    server.user("anne")
    s = server.session("anne")
    ended = threading.Event()
    opened = threading.Event()

    def listen():
        with httpx.stream("GET", server.url + "/events", headers=s._headers(), timeout=20) as r:
            for line in r.iter_lines():
                if line.startswith("event: hello"):
                    opened.set()
        ended.set()  # the server closed the stream: no exception, no hang

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert opened.wait(5)
    began = time.monotonic()
    server.console.stop()
    assert ended.wait(5), "the event stream did not end when the console stopped"
    assert time.monotonic() - began < 5


def test_expired_sessions_are_swept_from_the_store(console_sqlite):
    server = console_sqlite
    server.user("anne")
    server.user("bjorn")
    server.session("anne")
    real = clock.now_us()
    clock.use(lambda: real + 20 * 60 * 1_000_000)
    server.session("bjorn")  # signed in 20 minutes later: still within the idle time at the sweep
    clock.use(lambda: real + 35 * 60 * 1_000_000)
    try:
        assert server.console.config.accounts.sweep() == 1
    finally:
        clock.use(None)
    with server.store.transaction(write=False) as cur:
        left = server.store._execute(cur, "SELECT username FROM console_sessions").fetchall()
    assert left == [("bjorn",)]
