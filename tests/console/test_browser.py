"""The console in a real browser (Debian's Chromium, driven by Playwright), against a real `varde serve` process:
sign in, the sorted list, taking a flag by keyboard, a second coordinator's 409, a flag pushed by another process
arriving by Server-Sent Events, resolving with an outcome, the timeline and the audit page, the event stream coming
back after a server restart, CSRF and role refusals, axe-core on every page in both languages, reflow at 320 px, and
the screenshots of docs/console/. SQLite always; PostgreSQL too (CI has it)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from tests.console.browser import browser, context_factory, no_violations  # noqa: F401
from tests.console.support import PASSWORD
from tests.server.stores import new_postgres_database
from tests.support import free_ports
from varde.clients.client import VardeClient

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SHOTS = ROOT / "docs" / "console"
HIGH = {"resp_rate": 25, "spo2": 91, "on_oxygen": False, "systolic_bp": 95, "pulse": 120, "consciousness": "A",
        "temperature": 38.5}


class Served:
    """`varde serve` with the console, as a process that can be stopped and started again on the same ports."""

    def __init__(self, queue: str, tmp: pathlib.Path):
        self.queue, self.tmp = queue, tmp
        self.grpc_port, self.console_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.console_port}"
        self.proc = None

    def varde(self, *args: str, stdin: str | None = None) -> str:
        r = subprocess.run([sys.executable, "-m", "varde.clients.cli", *args], input=stdin, capture_output=True,
                           text=True, timeout=60, env={**os.environ, "VARDE_QUEUE": self.queue})
        assert r.returncode == 0, r.stderr
        return r.stdout

    def start(self) -> None:
        log = open(self.tmp / "server.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "varde.clients.cli", "serve", "--queue", self.queue, "--address",
             f"127.0.0.1:{self.grpc_port}", "--metrics-port", "off", "--console-port", str(self.console_port)],
            stdout=log, stderr=subprocess.STDOUT)
        with VardeClient(f"127.0.0.1:{self.grpc_port}") as c:
            c.wait_until_serving(timeout=60)
        import urllib.request
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the console did not come up: " + (self.tmp / "server.log").read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            self.proc = None

    def push(self, patient: str, **values) -> list[int]:
        with VardeClient(f"127.0.0.1:{self.grpc_port}") as c:
            return list(c.push({"patient_id": patient, **values}).flag_ids)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path):
    drop = None
    if request.param == "postgresql":
        queue, drop = new_postgres_database()
    else:
        queue = str(tmp_path / "queue.sqlite3")
    s = Served(queue, tmp_path)
    s.store_kind = request.param
    s.varde("console", "user", "add", "anne", "--role", "coordinator", "--name", "Anne Hansen", "--password-stdin",
            stdin=PASSWORD + "\n")
    s.varde("console", "user", "add", "bjorn", "--role", "coordinator", "--name", "Bjørn Berg", "--password-stdin",
            stdin=PASSWORD + "\n")
    s.varde("console", "user", "add", "vera", "--role", "viewer", "--name", "Vera Viewer", "--password-stdin",
            stdin=PASSWORD + "\n")
    s.varde("console", "user", "add", "root", "--role", "admin", "--name", "Ada Admin", "--password-stdin",
            stdin=PASSWORD + "\n")
    s.start()
    yield s
    s.stop()
    if drop:
        drop()


def sign_in(page, url: str, user: str) -> None:
    page.goto(url + "/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(url + "/")


def test_console_in_chromium(served, context_factory):  # noqa: F811
    started = time.monotonic()
    shots = served.store_kind == "sqlite"  # one set of screenshots for the docs
    url = served.url
    served.push("13057512345", **HIGH, source="nurse-app")
    served.push("24118923456", spo2=91, pulse=112, source="oximeter")  # a partial set: MEDIUM

    anne_ctx = context_factory()
    page = anne_ctx.new_page()
    page.goto(url + "/login?lang=en")
    no_violations(page, "login (en)")
    page.goto(url + "/login?lang=nb")
    no_violations(page, "login (nb)")
    sign_in(page, url, "anne")
    page.wait_for_selector("#live-state.live-state:not(.stale)")
    expect(page.locator("#live-state")).to_have_text("Direkte", timeout=5000)
    no_violations(page, "flag list (nb)")

    # sorted: the HIGH flag's rows come before the MEDIUM patient's
    rows = page.locator("#flag-rows tbody tr").all_inner_texts()
    first_medium = next(i for i, r in enumerate(rows) if "24118923456" in r)
    assert all("13057512345" in r for r in rows[:first_medium]) and "Høy" in rows[0]

    # a flag pushed by another process appears within 2 s, and the polite live region announces the HIGH one
    before = time.monotonic()
    served.push("05069934567", **HIGH)
    page.wait_for_selector("#flag-rows >> text=05069934567", timeout=2000)
    assert time.monotonic() - before <= 2.0
    expect(page.locator("#announce")).to_have_text("Nytt flagg med høy alvorlighet", timeout=2000)
    assert page.locator("#announce").get_attribute("aria-live") == "polite"

    # take by keyboard only: Tab to the first Take button, Enter
    target = page.locator("button.take").first
    label = target.inner_text()
    flag_id = int(re.search(r"flagg (\d+)", label).group(1))
    page.locator("body").focus()
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.classList.contains('take')"):
            break
    else:
        raise AssertionError("no Take button reachable by Tab")
    focused = page.evaluate("document.activeElement.innerText")
    flag_id = int(re.search(r"flagg (\d+)", focused).group(1))
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused button must show where focus is"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/flags/{flag_id}\?done=take"))
    assert "Du har tatt flagget" in page.inner_text("main")
    no_violations(page, "flag page (nb)")

    # a second coordinator who still sees it open gets 409 with who and when
    bjorn_ctx = context_factory(locale="nb-NO")
    other = bjorn_ctx.new_page()
    sign_in(other, url, "bjorn")
    other.goto(f"{url}/flags/{flag_id}")
    with other.expect_response(lambda r: r.url.endswith(f"/flags/{flag_id}/take")) as answer:
        other.evaluate("""(id) => { const f = document.createElement('form'); f.method = 'post';
            f.action = '/flags/' + id + '/take'; const i = document.createElement('input'); i.type = 'hidden';
            i.name = 'csrf_token'; i.value = document.querySelector('meta[name=csrf-token]').content;
            f.appendChild(i); document.body.appendChild(f); f.submit(); }""", flag_id)
    assert answer.value.status == 409
    other.wait_for_selector("#conflict")
    assert re.search(r"Allerede tatt av Anne Hansen kl\. \d{2}:\d{2}", other.inner_text("#conflict"))

    # CSRF: a POST with the session cookie but no token is refused
    refused = other.request.post(f"{url}/flags/{flag_id}/note", form={"text": "x"}, headers={"Origin": url})
    assert refused.status == 403
    # a viewer cannot act even with a valid token
    vera_ctx = context_factory()
    vera = vera_ctx.new_page()
    sign_in(vera, url, "vera")
    token = vera.locator('meta[name="csrf-token"]').get_attribute("content")
    denied = vera.request.post(f"{url}/flags/{flag_id}/escalate", form={"csrf_token": token},
                               headers={"Origin": url})
    assert denied.status == 403
    vera.goto(url + "/audit")  # the refusal page itself
    assert "Bare administratorer" in vera.inner_text("main")
    no_violations(vera, "refused (nb)")

    # resolve with an outcome, by keyboard
    page.goto(f"{url}/flags/{flag_id}")
    page.focus("#outcome")
    page.select_option("#outcome", "PHONED")
    page.fill("#resolve-note", "spoke with the patient; GP visit tomorrow")
    page.focus("#resolve")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/flags/{flag_id}\?done=resolve"))
    timeline = page.inner_text(".timeline")
    for what in ("Reist", "Tatt", "Lukket"):
        assert what in timeline
    assert "Anne Hansen" in timeline and "Ringt" in timeline

    # the audit page shows it, to an admin
    admin_ctx = context_factory()
    admin = admin_ctx.new_page()
    sign_in(admin, url, "root")
    admin.goto(url + "/audit?user=anne")
    text = admin.inner_text("table.audit")
    assert "console:anne" in text and "Tatt" in text and "Lukket" in text
    no_violations(admin, "audit (nb)")

    # the patient page and the English pages
    patient = "13057512345"
    page.goto(f"{url}/patients/{patient}")
    no_violations(page, "patient (nb)")
    if shots:
        page.screenshot(path=str(SHOTS / "patient-nb-1280.png"), full_page=True)
    page.goto(f"{url}/?lang=en")
    expect(page.locator("#live-state")).to_have_text("Live", timeout=5000)
    no_violations(page, "flag list (en)")
    assert page.evaluate("document.documentElement.lang") == "en"
    if shots:
        page.screenshot(path=str(SHOTS / "list-en-1280.png"), full_page=True)
    page.goto(f"{url}/flags/{flag_id}")
    no_violations(page, "flag page (en)")
    page.goto(f"{url}/patients/{patient}?range=7d")
    no_violations(page, "patient (en)")
    if shots:
        page.screenshot(path=str(SHOTS / "patient-en-1280.png"), full_page=True)
    admin.goto(url + "/audit?lang=en")
    no_violations(admin, "audit (en)")
    page.goto(f"{url}/?lang=nb")
    if shots:
        page.screenshot(path=str(SHOTS / "list-nb-1280.png"), full_page=True)

    # a phone: 360 px wide; reflow at 320 px (1280 px at 400 %) and 640 px (200 % zoom), nothing scrolling sideways
    for width in (360, 320, 640):
        phone_ctx = context_factory(viewport={"width": width, "height": 740})
        phone = phone_ctx.new_page()
        sign_in(phone, url, "anne")
        overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the list scrolls sideways at {width} px"
        no_violations(phone, f"flag list at {width} px")
        if shots and width == 360:
            phone.screenshot(path=str(SHOTS / "list-nb-360.png"), full_page=True)
            phone.goto(f"{url}/patients/{patient}")
            phone.screenshot(path=str(SHOTS / "patient-nb-360.png"), full_page=True)
            phone.goto(f"{url}/?lang=en")
            phone.screenshot(path=str(SHOTS / "list-en-360.png"), full_page=True)
            phone.goto(f"{url}/patients/{patient}")
            phone.screenshot(path=str(SHOTS / "patient-en-360.png"), full_page=True)
        phone_ctx.close()

    # the event stream after a restart: stale while the server is down, live again when it is back
    page.goto(url + "/")
    expect(page.locator("#live-state")).to_have_text("Direkte", timeout=5000)
    served.stop()
    page.wait_for_selector("#live-state.stale", timeout=5000)
    assert page.inner_text("#live-state").startswith("Ikke oppdatert siden")
    expect(page.locator("#flag-rows")).to_have_class(re.compile("stale"))
    served.start()
    expect(page.locator("#live-state")).to_have_text("Direkte", timeout=10000)
    served.push("31128845678", **HIGH)
    page.wait_for_selector("#flag-rows >> text=31128845678", timeout=5000)
    assert time.monotonic() - started < 60
