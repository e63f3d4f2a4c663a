"""The browser harness itself (tests/console/browser.py): it can fail and pass. Pages are served by a real local HTTP
server with the console's strict Content-Security-Policy; axe finds nothing on an accessible page and the missing
alt text and label on a broken one; screenshots work; scripts from 'self' run, inline scripts do not, and axe still
goes in (through the DevTools protocol, not a <script>)."""

from __future__ import annotations

import hashlib
import http.server
import pathlib
import re
import threading

import pytest

from tests.console.browser import (  # noqa: F401  (fixtures)
    AXE_JS,
    axe_violations,
    browser,
    context_factory,
    format_violations,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
HTMX_JS = ROOT / "server" / "console" / "static" / "htmx.min.js"
CSP = "default-src 'self'; script-src 'self'"


def _page(title: str, body: str, head: str = "") -> bytes:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
            f"<body><main><h1>{title}</h1>{body}</main></body></html>").encode()


PAGES: dict[str, tuple[str, bytes]] = {
    "/good": ("text/html; charset=utf-8", _page(
        "Flags",
        '<img src="/mark.svg" alt="Varde" width="16" height="16">'
        '<label for="q">Patient</label> <input id="q" name="q">'
        '<button type="button" id="show">Show</button><p id="out">hidden</p>',
        head='<script src="/app.js" defer></script>')),
    "/bad": ("text/html; charset=utf-8", _page(
        "Broken", '<img src="/mark.svg" width="16" height="16"><input name="q">')),
    "/inline": ("text/html; charset=utf-8", _page(
        "Inline", '<p id="out">untouched</p><script>document.getElementById("out").textContent = "ran"</script>')),
    "/htmx": ("text/html; charset=utf-8", _page(
        "htmx",
        '<button type="button" hx-get="/fragment" hx-target="#out">Load</button><p id="out">empty</p>',
        # htmx adds an inline <style> for its indicators unless told not to; the CSP would refuse it.
        head='<meta name="htmx-config" content=\'{"includeIndicatorStyles": false}\'>'
             '<script src="/htmx.min.js"></script>')),
    "/fragment": ("text/html; charset=utf-8", b"<span>loaded</span>"),
    "/app.js": ("text/javascript", b'document.getElementById("show").addEventListener("click", () => {\n'
                                   b'  document.getElementById("out").textContent = "shown";\n});\n'),
    "/mark.svg": ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16">'
                                   b'<rect width="16" height="16" fill="#036"/></svg>'),
    "/htmx.min.js": ("text/javascript", HTMX_JS.read_bytes()),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        content_type, body = PAGES.get(self.path, ("text/plain", b"not found"))
        self.send_response(200 if self.path in PAGES else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def page(context_factory, site):  # noqa: F811
    page = context_factory().new_page()
    page.csp_errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))
    return page


def test_accessible_page_has_no_violations(page, site):
    page.goto(site + "/good")
    violations = axe_violations(page)
    assert violations == [], format_violations(violations)


def test_broken_page_has_missing_alt_and_label(page, site):
    page.goto(site + "/bad")
    violations = axe_violations(page)
    found = {v["id"] for v in violations}
    assert {"image-alt", "label"} <= found, format_violations(violations)
    image_alt = next(v for v in violations if v["id"] == "image-alt")
    assert image_alt["nodes"] == [["img"]]
    message = format_violations(violations)
    assert "image-alt" in message and "label" in message and "    img" in message


def test_the_csp_is_enforced_and_axe_still_goes_in(page, site):
    page.goto(site + "/inline")
    # The page's inline script was refused, and so is one added as a <script> tag: the CSP is in force ...
    assert page.text_content("#out") == "untouched"
    from playwright.sync_api import Error

    with pytest.raises(Error, match="violates the following Content Security Policy directive 'script-src 'self''"):
        page.add_script_tag(content="window.__tagged = 1")
    assert page.evaluate("() => typeof window.__tagged") == "undefined"
    assert page.csp_errors, "Chromium reported no refused script"
    # ... and axe, evaluated through the DevTools protocol, runs regardless.
    assert axe_violations(page) == []
    assert page.evaluate("() => typeof window.axe.run") == "function"


def test_script_from_self_runs_under_the_csp(page, site):
    page.goto(site + "/good")
    assert page.text_content("#out") == "hidden"
    page.get_by_role("button", name="Show").click()
    assert page.text_content("#out") == "shown"
    assert page.csp_errors == []


def test_vendored_htmx_swaps_under_the_csp(page, site):
    page.goto(site + "/htmx")
    assert page.evaluate("() => htmx.version") == "2.0.11"
    page.get_by_role("button", name="Load").click()
    page.wait_for_selector("#out span")
    assert page.text_content("#out") == "loaded"
    assert page.csp_errors == []


def test_screenshot(page, site):
    page.goto(site + "/good")
    png = page.screenshot(full_page=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_contexts_take_viewport_and_locale(context_factory, site):  # noqa: F811
    context = context_factory(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.goto(site + "/good")
    assert page.evaluate("() => [innerWidth, innerHeight, navigator.language]") == [390, 844, "en-GB"]
    assert context_factory().new_page().evaluate("() => navigator.language") == "nb-NO"


@pytest.mark.parametrize("path, listing", [(HTMX_JS, ROOT / "server" / "console" / "static" / "LICENSES.md"),
                                           (AXE_JS, AXE_JS.parent / "README.md")])
def test_vendored_files_match_their_recorded_sha256(path, listing):
    recorded = re.search(rf"`{re.escape(path.name)}`.*?sha256 `([0-9a-f]{{64}})`", listing.read_text(), re.S)
    assert recorded, f"{listing} records no sha256 for {path.name}"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded.group(1)
